"""``tools/list`` over stdio against the installed ``or-magic-mcp`` (the wheel step of .ci/run).

Run with the venv's python from outside the checkout: it spawns the console script next to that
python, as an MCP host would, and fails unless the server answers with its tools.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main() -> int:
    exe = Path(sys.executable).parent / "or-magic-mcp"
    params = StdioServerParameters(command=str(exe), args=["--offline"])
    async with Client(stdio_client(params)) as client:
        names = sorted(t.name for t in (await client.list_tools()).tools)
        result = await client.call_tool("health_check", {})
    print(f"tools/list: {len(names)} tools from {exe}: {', '.join(names)}")
    if len(names) < 20 or "chat_completion" not in names or result.is_error:
        print("wheel check: the installed MCP server is incomplete", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
