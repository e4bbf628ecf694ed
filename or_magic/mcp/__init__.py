"""or_magic as an MCP server: every tool of the core, over stdio or streamable HTTP.

Command line::

    python -m or_magic.mcp                  # stdio (Claude Desktop, Cursor, VS Code, ...)
    python -m or_magic.mcp --http --port 8765   # streamable HTTP on 127.0.0.1, bearer token

From a running kernel (the server is a task on the kernel's event loop)::

    import or_magic.mcp
    h = or_magic.mcp.serve_in_background(port=8765)
    h.url, h.token, h.status(), h.client_config()
    h.stop()

Everything here is imported lazily: ``import or_magic.mcp`` does not import the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes, lazy_table

__all__ = [
    "HttpServerHandle",
    "OrMagicServer",
    "build_http_app",
    "build_server",
    "current",
    "main",
    "serve_http",
    "serve_in_background",
    "serve_stdio",
]

_LAZY = lazy_table(
    {
        "or_magic.mcp._server": ("build_server", "OrMagicServer"),
        "or_magic.mcp._stdio": ("serve_stdio",),
        "or_magic.mcp._http": (
            "serve_http",
            "serve_in_background",
            "build_http_app",
            "HttpServerHandle",
            "current",
        ),
        "or_magic.mcp.__main__": ("main",),
    }
)

if TYPE_CHECKING:  # pragma: no cover
    from .__main__ import main
    from ._http import HttpServerHandle, build_http_app, current, serve_http, serve_in_background
    from ._server import OrMagicServer, build_server
    from ._stdio import serve_stdio


__getattr__, __dir__ = lazy_attributes(globals(), _LAZY)
