"""``%openrouter mcp [start|status|stop]``: the MCP server in this kernel (``or_magic.mcp``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _parsing as P
from .._bundles import mcp_bundle
from .._common import cell_error
from .._errors import OpenRouterCellError
from .._run import show_bundles

if TYPE_CHECKING:  # pragma: no cover
    from .._core import OpenRouterMagics


def mcp(m: OpenRouterMagics, words: list[str]) -> Any:
    opts = P.parse(P.mcp_parser(), words)
    if opts.action == "status":
        return _status(m)
    if opts.action == "stop":
        return _stop(m)
    return _start(m, opts)


def _status(m: OpenRouterMagics) -> None:
    h = m._mcp_handle
    if h is None:
        try:
            from ...mcp import current

            h = current()
        except Exception:
            h = None
    if h is None or not getattr(h, "running", True):
        print("MCP server: not running (start it with %openrouter mcp start).")
        return None
    st = h.status() if hasattr(h, "status") else {}
    extra = f" · {st.get('calls', 0)} calls, {st.get('errors', 0)} errors" if st else ""
    print(f"MCP server: running at {h.url}{extra}")
    return None


def _stop(m: OpenRouterMagics) -> None:
    h, m._mcp_handle = m._mcp_handle, None
    if h is None:
        print("MCP server: not running.")
    else:
        h.stop()
        print("MCP server stopped.")


def _start(m: OpenRouterMagics, opts: Any) -> None:
    if m._mcp_handle is not None:
        print(f"MCP server already running at {m._mcp_handle.url}")
        return None
    try:
        from ...mcp import serve_in_background  # type: ignore[attr-defined]
    except ImportError:
        raise OpenRouterCellError(
            "INTERNAL",
            "The in-kernel MCP server is not available in this build of or_magic",
            suggestions=["Run `or-magic-mcp` in a terminal instead"],
        ) from None
    kwargs: dict[str, Any] = {"port": opts.port}
    if opts.host != "127.0.0.1":
        kwargs["host"] = opts.host
    try:
        handle = serve_in_background(**kwargs)
    except Exception as exc:
        raise cell_error(exc) from None
    m._mcp_handle = handle
    show_bundles([mcp_bundle(handle)], rich=m._rich())
