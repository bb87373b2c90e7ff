"""Public helpers for tests, balancebot's own and plugin authors': loopback fakes that speak
each service's real wire protocol (DeepSeek, the Telegram Bot API, the Slack Web API and
Socket Mode), a clock that moves only when told to, and a TCP proxy that partitions the network
or makes a server go away (`netfaults`). The demo uses the DeepSeek fake."""
