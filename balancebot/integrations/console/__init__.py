"""Console: notifications printed on standard output (the default notifier)."""
