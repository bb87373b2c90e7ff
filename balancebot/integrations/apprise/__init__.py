"""apprise: one URL per target reaches ~100 services (the `balancebot[apprise]` extra)."""
