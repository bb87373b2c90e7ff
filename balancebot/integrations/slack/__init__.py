"""Slack: the Web API / webhook notifier and the Socket Mode / HTTP chat front-ends (slack-sdk)."""
