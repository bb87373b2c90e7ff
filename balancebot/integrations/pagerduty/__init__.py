"""PagerDuty: incidents opened and resolved through the Events API v2 (docs/oncall.md)."""
