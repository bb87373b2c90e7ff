"""Telegram: the Bot API notifier and the /balance chat front-end (python-telegram-bot)."""
