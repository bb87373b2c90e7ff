"""The Slack chat front-end as the `balancebot.frontends` entry point loads it: both modes
imported, so `SlackFrontEnd.build` finds the one `[chat.slack] mode` names."""

from __future__ import annotations

from .frontend import SlackFrontEnd, SlackSocketFrontEnd
from .http import SlackHttpFrontEnd

__all__ = ["SlackFrontEnd", "SlackHttpFrontEnd", "SlackSocketFrontEnd"]
