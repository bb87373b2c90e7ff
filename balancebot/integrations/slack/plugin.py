"""The Slack chat front-end as the `balancebot.frontends` entry point loads it: the mode
`[chat.slack] mode` names, Socket Mode or HTTP, each a front-end of its own."""

from __future__ import annotations

from ...frontends import FrontEnd, FrontEndContext
from .frontend import SlackModeFrontEnd, SlackSocketFrontEnd
from .http import SlackHttpFrontEnd

MODES: dict[str, type[SlackModeFrontEnd]] = {
    "socket": SlackSocketFrontEnd,
    "http": SlackHttpFrontEnd,
}


class SlackFrontEnd(SlackModeFrontEnd):
    """What the entry point names: builds the configured mode's front-end."""

    @classmethod
    def build(cls, context: FrontEndContext) -> FrontEnd:
        section = context.config.chat.slack
        assert section is not None  # built only when configured
        return MODES[section.mode].for_mode(context, section)


__all__ = ["MODES", "SlackFrontEnd", "SlackHttpFrontEnd", "SlackSocketFrontEnd"]
