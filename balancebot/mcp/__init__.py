"""The Model Context Protocol server: balances, alerts, history and status as tools an AI
assistant can call, over stdio (`balancebot mcp`) or at `/mcp` on the daemon's `[http]`.

    tools.py    what each tool answers (no MCP SDK in it: plain dicts, tested directly)
    summary.py  a balance, a runway and a span of history as JSON-ready dicts
    server.py   the tools registered with the SDK's MCPServer, with their descriptions
    stdio.py    `balancebot mcp`: the read model from the store, served over stdin/stdout
    http.py     `/mcp` on the daemon's aiohttp server: bearer token, then the SDK's ASGI app

The SDK (the `mcp` extra) is imported by server.py, stdio.py and http.py only.
"""
