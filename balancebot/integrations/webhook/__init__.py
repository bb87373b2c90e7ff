"""Webhook: notifications as signed, versioned JSON POSTs (docs/webhook.md)."""
