"""What `balancebot init` can offer and how it reads each answer: the installed
providers' options (secret ones come from the environment), the currency a provider
bills in, and the checks on typed answers (each raises ValueError with words to show)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

CURRENCY_OPTIONS = {"currency", "currency_path"}  # where a provider's option says it
USD_PROVIDERS = {"openrouter", "novita", "venice", "fal", "xai"}  # the rest: CNY first


def key_variable(provider: str, option: str = "api_key") -> str:
    """The environment variable the starter reads a secret from: DEEPSEEK_API_KEY,
    ALIYUN_ACCESS_KEY_ID."""
    return re.sub(r"[^A-Z0-9]+", "_", f"{provider}_{option}".upper())


def secret_variables(text: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"\$\{(\w+)\}", text)))


def provider_options(provider: str) -> tuple[list[str], list[str]]:
    """The options a provider requires and those it has defaults for (secret options
    aside: they are read from the environment, never asked for)."""
    import msgspec

    from ..config.values import Secret
    from ..providers.contract import provider_class

    required: list[str] = []
    optional: list[str] = []
    for field in msgspec.structs.fields(provider_class(provider).Options):
        if field.type is Secret:
            continue
        unset = field.default is msgspec.NODEFAULT and field.default_factory is msgspec.NODEFAULT
        (required if unset else optional).append(field.encode_name)
    return required, optional


def secrets_of(provider: str) -> list[str]:
    """Options that hold a secret (a cloud's access key id): written as a reference to an
    environment variable, like the key."""
    import msgspec

    from ..config.values import Secret
    from ..providers.contract import provider_class

    fields = msgspec.structs.fields(provider_class(provider).Options)
    return [field.encode_name for field in fields if field.type is Secret]


def needs(provider: str) -> tuple[list[str], bool]:
    """The options a provider requires (asked for as text), and whether it needs a
    base_url (no host built in, and no option that says where)."""
    from ..providers.contract import provider_class

    required = provider_options(provider)[0]
    return required, not provider_class(provider).default_hosts and not required


def amount(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount like 50 or 12.50") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{text!r} is not a positive amount")
    return value


def account_name(text: str) -> str:
    from ..config.values import check_name

    return check_name(text.strip())


def currency(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", text.strip()):
        raise ValueError(f"{text!r} is not a three-letter currency code like CNY or USD")
    return text.strip().upper()


def provider_name(text: str) -> str:
    from ..plugins import PROVIDERS, available

    name = text.strip().lower()
    if name not in available(PROVIDERS):
        raise ValueError(
            f"{text!r} is not an installed provider: {', '.join(available(PROVIDERS))}"
        )
    return name


def url(text: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+\S*", text.strip()):
        raise ValueError(f"{text!r} is not a URL like https://example.com/path")
    return text.strip()


def chat(text: str) -> str:
    if not re.fullmatch(r"-?\d+|@\w{4,}", text.strip()):
        raise ValueError(f"{text!r} is not a chat id like 123456789 or @channelname")
    return text.strip()


def option_value(text: str) -> str:
    if not text.strip():
        raise ValueError("this option is required")
    return text.strip()


def usual(provider: str) -> str:
    """The currency offered when none was given: the one a USD-only provider bills in."""
    return "USD" if provider in USD_PROVIDERS else "CNY"
