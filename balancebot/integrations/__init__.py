"""One folder per chat or delivery service, each holding everything about it: its notifier,
its chat front-end, its rendering and its options. Registered through entry points in
pyproject.toml exactly as a third-party package registers its own."""
