"""balancebot: warns your team before a DeepSeek API account runs out of balance."""

from __future__ import annotations

__version__ = "0.1.0"
