"""Local fake Telegram Bot API and Slack servers: real HTTP (and WebSocket) on loopback,
answering with the envelopes and error shapes of ../shared/reference/wire-protocols.md."""
