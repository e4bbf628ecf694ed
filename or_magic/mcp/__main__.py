"""``python -m or_magic.mcp`` / ``or-magic-mcp``: the MCP server over stdio or streamable HTTP.

Exit status: 0 after a clean shutdown (stdin closed, SIGINT, SIGTERM); 2 for a configuration
problem (no API key without ``--offline``, a malformed variable, a refused bind), printed as one
line on stderr; 1 if the server could not run (e.g. the port is taken). stdout carries nothing but
the protocol (``--help`` / ``--version`` aside).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

PROG = "or-magic-mcp"


def _parser() -> argparse.ArgumentParser:
    from or_magic._version import __version__

    p = argparse.ArgumentParser(
        prog=PROG,
        description="MCP server for the OpenRouter API (chat, vision/audio/video analysis, "
        "image/audio/video generation, model search, rerank). Serves stdio by default.",
        epilog="Environment: OPENROUTER_API_KEY (required unless --offline), "
        "OPENROUTER_LOG_LEVEL (JSON logs on stderr), OR_MAGIC_MCP_TOKEN (HTTP bearer token), "
        "and every OPENROUTER_* variable of the README.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument(
        "--http", action="store_true", help="serve streamable HTTP instead of stdio (path /mcp)"
    )
    p.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=None, help="HTTP port (default 8765; 0 = any free port)"
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the bearer token is then all that protects your key)",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="extra Host header value accepted by the DNS-rebinding check (repeatable)",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        help="answer from the built-in OpenRouter double (no key, no network; results are "
        "marked offline); same as OPENROUTER_OFFLINE=1",
    )
    return p


def _fail(message: str, status: int = 2) -> int:
    try:
        sys.stderr.write(f"{PROG}: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return status


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.port is not None and not 0 <= args.port <= 65535:
        return _fail(f"--port must be 0..65535, got {args.port}")
    if not args.http and (args.port is not None or args.allow_remote or args.allowed_host):
        return _fail("--port / --allow-remote / --allowed-host need --http")
    if args.http:
        from ._http import RemoteBindRefused, check_bind

        try:
            check_bind(args.host, args.allow_remote)
        except RemoteBindRefused as exc:
            return _fail(str(exc))
    if args.offline:
        os.environ["OPENROUTER_OFFLINE"] = "1"

    from or_magic.config import DEFAULT_BASE_URL, get_settings
    from or_magic.errors import ConfigError

    try:
        settings = get_settings()
    except ConfigError as exc:
        return _fail(exc.message)
    # No key against OpenRouter itself is a mistake; a keyless custom OPENROUTER_BASE_URL (a local
    # OpenAI-compatible server) is a valid set-up and is used as is.
    if (
        settings.api_key is None
        and not settings.offline_forced
        and settings.base_url == DEFAULT_BASE_URL
    ):
        return _fail(
            "OPENROUTER_API_KEY is not set: set it (https://openrouter.ai/settings/keys), or pass "
            "--offline (OPENROUTER_OFFLINE=1) to try the tools against the built-in double"
        )
    if settings.api_key is not None:
        from or_magic.redact import register_secret

        register_secret(settings.api_key.get())

    from or_magic import log

    from ._logging import configure_process_logging

    configure_process_logging(settings.log_level)
    if settings.offline:
        log.info("mcp.offline", note="no network: every result comes from the offline double")

    try:
        if args.http:
            from ._http import DEFAULT_PORT, serve_http

            port = DEFAULT_PORT if args.port is None else args.port
            try:
                asyncio.run(
                    serve_http(
                        host=args.host,
                        port=port,
                        allow_remote=args.allow_remote,
                        allowed_hosts=args.allowed_host,
                    )
                )
            except OSError as exc:
                return _fail(f"cannot serve on {args.host}:{port}: {exc.strerror or exc}", 1)
        else:
            from ._fast import load_fast_cache

            cache = None
            if not os.environ.get("OR_MAGIC_MCP_NO_FAST"):
                cache = load_fast_cache(settings.state_root)
            if cache is not None:  # answer the handshake while the SDK imports
                from ._fast import serve_stdio_fast

                asyncio.run(serve_stdio_fast(cache))
            else:
                from ._server import build_server
                from ._stdio import serve_stdio

                server = build_server(use_cache=True)
                asyncio.run(serve_stdio(server))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
