"""The command line: `main.py` parses arguments and dispatches; one module per command that
needs more than a few lines (check, history, notify-test, demo, alerts_and_silences), each
imported only when that command runs so `balancebot check` starts fast."""
