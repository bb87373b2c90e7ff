"""An example balancebot plugin, installed as its own distribution: a provider for the
made-up Acme balance API, and a notifier and chat front-end for the made-up Acme Chat
service, with loopback fakes of both (`fake.py`) for tests."""
