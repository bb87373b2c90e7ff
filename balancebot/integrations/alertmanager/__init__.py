"""Prometheus Alertmanager: balancebot's alerts pushed to `/api/v2/alerts` (docs/oncall.md)."""
