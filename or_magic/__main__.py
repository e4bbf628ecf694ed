"""``python -m or_magic [demo|lab|tools|call NAME JSON]`` — the tool core from a shell.

``demo`` calls a few tools (on the offline double when there is no ``OPENROUTER_API_KEY``) and
prints what came back, so a fresh install can be checked in one command. ``lab`` opens the
quickstart notebook in JupyterLab (see ``or_magic/_lab.py``: it handles running as root).
Output piped into ``head`` and the like ends quietly: a closed pipe is not an error here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ._version import __version__


def _print_result(title: str, result: Any) -> None:
    badge = " [offline]" if result.offline else ""
    status = f"ERROR {result.code}" if result.is_error else (result.code or "ok")
    print(f"\n=== {title} — {status}{badge}")
    if result.text:
        print(result.text if len(result.text) < 1500 else result.text[:1500] + "…")
    for m in result.media:
        where = m.path or "inline"
        print(f"  media: {m.kind} {m.mime} {m.size_bytes} bytes ({where})")
    meta = {k: result.meta[k] for k in ("model", "usage", "latency_ms") if k in result.meta}
    if meta:
        print("  meta:", json.dumps(meta, default=str))
    if result.cost is not None:
        from .display import format_cost, format_spend

        cost = format_spend(None, result.cost) if result.offline else format_cost(result.cost)
        if cost:
            print("  cost:", cost)
    if result.is_error and result.suggestions:
        print("  suggestions:", "; ".join(result.suggestions))


def demo() -> int:
    from .config import get_settings
    from .tools.api import call_tool_sync, list_tools

    settings = get_settings()
    mode = (
        "OFFLINE (no OPENROUTER_API_KEY: the built-in OpenRouter double answers)"
        if settings.offline
        else f"LIVE ({settings.base_url})"
    )
    print(f"or_magic {__version__} — {mode}")
    names = [t.name for t in list_tools()]
    print(f"{len(names)} tools: {', '.join(names)}")

    _print_result("health_check", call_tool_sync("health_check", {}))
    _print_result(
        "chat_completion",
        call_tool_sync(
            "chat_completion",
            {"prompt": "Say hello to a data scientist in one sentence.", "max_tokens": 80},
        ),
    )
    _print_result(
        "search_models (image generators)",
        call_tool_sync("search_models", {"output_modalities": ["image"], "limit": 5}),
    )
    _print_result(
        "rerank_documents",
        call_tool_sync(
            "rerank_documents",
            {
                "query": "ocean tides",
                "documents": [
                    "The moon pulls the oceans.",
                    "Cats sleep all day.",
                    "Tides rise twice a day.",
                ],
            },
        ),
    )
    bad = call_tool_sync("chat_completion", {"messages": []})
    _print_result("chat_completion with bad input (expected INVALID_INPUT)", bad)
    if "generate_image" in names:
        _print_result(
            "generate_image",
            call_tool_sync(
                "generate_image",
                {
                    "prompt": "a red fox in snow, watercolour",
                    "aspect_ratio": "16:9",
                    "save_path": "or_magic_demo/fox.png",
                },
            ),
        )
    if "text_to_speech" in names:
        _print_result(
            "text_to_speech",
            call_tool_sync(
                "text_to_speech",
                {"input": "Hello from or magic.", "save_path": "or_magic_demo/hello.mp3"},
            ),
        )
    if settings.offline:
        print(
            "\nTo go live: export OPENROUTER_API_KEY=sk-or-v1-... (https://openrouter.ai/settings/keys) and run again."
        )
    return 0 if not bad.is_error or bad.code == "INVALID_INPUT" else 1


def main(argv: list[str] | None = None) -> int:
    try:
        rc = _main(sys.argv[1:] if argv is None else argv)
        sys.stdout.flush()  # a closed pipe shows up here, inside the try
        return rc
    except BrokenPipeError:
        # `python -m or_magic tools | head -5`: the reader left; say nothing, like coreutils do.
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m or_magic", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=f"or_magic {__version__}")
    sub = p.add_subparsers(dest="cmd")
    sub.add_parser("demo", help="call a few tools and print the results (default)")
    lab = sub.add_parser(
        "lab",
        help="open the quickstart notebook in JupyterLab (other arguments go to JupyterLab)",
        description="JupyterLab on notebooks/quickstart.ipynb; --allow-root is added only when "
        "running as root; every other argument is passed to JupyterLab, e.g. "
        "`python -m or_magic lab --no-browser --port 8890`.",
    )
    lab.add_argument(
        "--dry-run", action="store_true", help="print the JupyterLab command, do not run it"
    )
    sub.add_parser("tools", help="list the tools")
    c = sub.add_parser(
        "call", help='call one tool: python -m or_magic call chat_completion \'{"prompt":"hi"}\''
    )
    c.add_argument("name")
    c.add_argument("arguments", nargs="?", default="{}")
    args, extra = p.parse_known_args(argv)
    if args.cmd == "lab":
        from . import _lab

        return _lab.main(extra, dry_run=args.dry_run)
    if extra:
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.cmd in (None, "demo"):
        return demo()
    from .tools.api import call_tool_sync, list_tools

    if args.cmd == "tools":
        for t in list_tools():
            print(f"{t.name:28} {t.title}")
        return 0
    try:
        arguments = json.loads(args.arguments)
    except ValueError as exc:
        print(f"arguments must be a JSON object: {exc}", file=sys.stderr)
        return 2
    result = call_tool_sync(args.name, arguments)
    _print_result(args.name, result)
    return 1 if result.is_error else 0


if __name__ == "__main__":
    raise SystemExit(main())
