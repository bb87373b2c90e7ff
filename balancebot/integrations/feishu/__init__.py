"""Feishu (飞书) and Lark custom group bots: signed interactive cards (docs/channels-cn.md)."""
