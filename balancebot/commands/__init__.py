"""The commands people type, the same on Telegram, Slack and the demo console.

Every command goes through `Commands.handle`, which checks authorization before it looks
at the command, so no command can be added without it. The summary a command registers
with is its help text. Bad input gets a usage reply, never a traceback.

core.py runs a command (authorization, parsing, `Reply`); builtin.py holds the commands;
access.py decides who may ask; alerting.py is what the CLI shares; buttons.py is what
an alert's buttons do.
"""

from . import builtin as builtin  # registers the built-in commands
from .core import (
    MAX_INPUT_CHARS,
    REFUSAL,
    REGISTRY,
    Command,
    Commands,
    Handler,
    Reply,
    Request,
    command,
    parse,
)

__all__ = [
    "MAX_INPUT_CHARS",
    "REFUSAL",
    "REGISTRY",
    "Command",
    "Commands",
    "Handler",
    "Reply",
    "Request",
    "command",
    "parse",
]
