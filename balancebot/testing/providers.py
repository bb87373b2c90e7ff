"""Every provider fake at once, in a process of its own (the mixed-provider benchmark).

    python -m balancebot.testing.providers --accounts N

Serves keys `sk-sim-0` ... `sk-sim-{N-1}` at each fake and prints one line,
`READY {"deepseek": url, "moonshot": url, ...}`, once all listen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from contextlib import AsyncExitStack

from .deepseek import DeepSeekSimulator
from .fakeapi import FakeAPI
from .moonshot import MoonshotFake
from .novita import NovitaFake
from .openrouter import OpenRouterFake
from .siliconflow import SiliconFlowFake


async def serve(accounts: int) -> None:
    fakes: dict[str, FakeAPI] = {
        "moonshot": MoonshotFake(),
        "siliconflow": SiliconFlowFake(),
        "openrouter": OpenRouterFake(),
        "novita": NovitaFake(),
    }
    deepseek = DeepSeekSimulator()
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(deepseek)
        for fake in fakes.values():
            await stack.enter_async_context(fake)
        for i in range(accounts):
            deepseek.add_account(f"sk-sim-{i}", {"CNY": ("10.00", "100.00")})
            for fake in fakes.values():
                fake.add_account(f"sk-sim-{i}")
        urls = {"deepseek": deepseek.base_url, **{name: f.url for name, f in fakes.items()}}
        print(f"READY {json.dumps(urls)}", flush=True)
        await asyncio.Event().wait()  # until the process is stopped


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="every provider fake on loopback")
    parser.add_argument("--accounts", type=int, default=1)
    asyncio.run(serve(parser.parse_args().accounts))
