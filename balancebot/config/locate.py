"""Where the configuration file is when `-c` is not given.

The order is the one a person expects from other daemons: an explicit environment variable,
the current directory, the user's config directory, then the system-wide one."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigError

ENV_VAR = "BALANCEBOT_CONFIG"


def candidates(env: Mapping[str, str]) -> list[Path]:
    """The places looked in, in order (`$BALANCEBOT_CONFIG` is handled by `find_config`)."""
    xdg = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return [
        Path("balancebot.toml"),
        Path(xdg) / "balancebot" / "config.toml",
        Path("/etc/balancebot/config.toml"),
    ]


def find_config(explicit: str | None, env: Mapping[str, str] | None = None) -> tuple[Path, str]:
    """The file to load and why it was chosen, or a ConfigError listing the places looked in."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit), "-c"
    if env.get(ENV_VAR):
        path = Path(env[ENV_VAR])
        if not path.is_file():
            raise ConfigError([f"${ENV_VAR} is {str(path)!r}, which is not a file"])
        return path, f"${ENV_VAR}"
    places = candidates(env)
    for path in places:
        if path.is_file():
            return path, "the first of the default places that exists"
    looked = ", ".join([f"${ENV_VAR} (not set)", *map(str, places)])
    raise ConfigError(
        [
            f"no configuration file; looked in {looked}. "
            "Pass -c FILE, or write a starter one with `balancebot init`"
        ]
    )
