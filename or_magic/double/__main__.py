"""``python -m or_magic.double`` / ``or-magic-double``: serve the double until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="or-magic-double",
        description="Serve the or_magic OpenRouter double (offline stand-in for the API).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8089, help="port (default 8089; 0 = any free)")
    parser.add_argument(
        "--require-auth",
        action="store_true",
        help="answer 401 without a bearer token (default: no key needed, like the offline backend)",
    )
    parser.add_argument(
        "--key", action="append", default=None, help="accept only this key (repeatable)"
    )
    parser.add_argument(
        "--management-key",
        action="append",
        default=None,
        help="treat this key as a management key (GET /credits answers it; repeatable)",
    )
    parser.add_argument("--video-polls", type=int, default=2, help="polls until a video completes")
    parser.add_argument("--crlf", action="store_true", help="use CRLF line endings in SSE")
    args = parser.parse_args(argv)

    from .server import OpenRouterDouble

    keys = set(args.key or []) | set(args.management_key or []) if args.key else None
    double = OpenRouterDouble(
        valid_keys=keys,
        require_auth=args.require_auth or bool(args.key),
        video_polls_to_complete=args.video_polls,
        crlf=args.crlf,
        host=args.host,
        port=args.port,
    )
    for key in args.management_key or []:
        double.set_key_info(key, is_management_key=True)
    # SIGTERM stops it like Ctrl-C does (process managers, `kill`, test harnesses).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        try:
            double.start()
        except OSError as exc:
            print(
                f"or-magic-double: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
            )
            return 1
        # The ready line comes after bind *and* after the server accepts requests: a script may
        # start sending the moment it reads it. Ctrl-C from here on always stops cleanly (exit 0).
        # one write with its newline (print() writes the end separately: a signal between the
        # two would glue the next line onto this one)
        sys.stdout.write(
            f"OpenRouter double serving at {double.base_url}  (Ctrl-C to stop)\n"
            f"  export OPENROUTER_BASE_URL={double.base_url}\n"
        )
        sys.stdout.flush()
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        double.stop()
    print("OpenRouter double stopped", flush=True)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
