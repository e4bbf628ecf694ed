"""Argument parsers for ``%openrouter`` / ``%%openrouter`` (argparse; errors become UsageError).

An option that feeds a tool argument with a fixed set of values (``--reasoning``, ``--aspect``,
``--format`` ...) takes its ``choices`` from the tool's input model (``TOOL_CHOICES``), so the magic
accepts exactly what the tool does. Parsers are built when a line is parsed, never at
``%load_ext``: reading the models loads pydantic and the tool modules, which the first call needs
anyway.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError

FORMATS = ("markdown", "md", "text", "json", "html", "code")

# (parser, option dest) -> (tool, argument) whose allowed values are the option's choices.
# ``audio --format`` is not here: it goes to generate_audio, or with ``--tts`` to text_to_speech,
# whose formats differ, so the tool that runs checks it (its help lists both).
TOOL_CHOICES: dict[tuple[str, str], tuple[str, str]] = {
    ("chat", "reasoning"): ("chat_completion", "reasoning_effort"),
    ("image", "aspect"): ("generate_image", "aspect_ratio"),
    ("image", "size"): ("generate_image", "image_size"),
    ("speech", "audio_format"): ("text_to_speech", "response_format"),
}
# Choices that are the magic's own, not a tool argument's: how to show the answer, which analyze
# tool a source goes to, and the in-kernel MCP server's actions.
MAGIC_CHOICES = frozenset(
    {("chat", "format"), ("analyze", "format"), ("analyze", "kind"), ("mcp", "action")}
)


class HelpShown(Exception):
    def __init__(self, text: str) -> None:
        self.text = text


class _Parser(argparse.ArgumentParser):
    def __init__(self, prog: str, **kw: Any) -> None:
        super().__init__(prog=prog, add_help=True, allow_abbrev=False, **kw)

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None):  # type: ignore[override]
        raise HelpShown(message or "")

    def print_help(self, file: Any = None) -> None:
        raise HelpShown(self.format_help())


def split(line: str) -> list[str]:
    try:
        return shlex.split(line, posix=True)
    except ValueError as exc:
        raise UsageError(f"%openrouter: cannot parse the line ({exc})") from None


def parse(parser: argparse.ArgumentParser, words: list[str]) -> argparse.Namespace:
    return parser.parse_args(words)


def tool_choices(parser: str, dest: str) -> tuple[Any, ...] | None:
    """The allowed values of the tool argument behind ``parser``'s option ``dest`` (from the tool's
    input model); None when the tool is not registered, so the core validates instead."""
    from ..tools import allowed_values

    tool, field = TOOL_CHOICES[(parser, dest)]
    return allowed_values(tool, field) or None


def _tool_option(
    p: argparse.ArgumentParser, parser: str, *flags: str, dest: str, **kw: Any
) -> None:
    choices = tool_choices(parser, dest)
    if choices is not None and "metavar" in kw:
        kw.setdefault("help", ", ".join(map(str, choices)))
    p.add_argument(*flags, dest=dest, choices=choices, **kw)


def _audio_formats_help() -> str:
    from ..tools import allowed_values

    def listed(tool: str, field: str) -> str:
        return ", ".join(map(str, allowed_values(tool, field))) or "see the tool"

    return (
        f"{listed('generate_audio', 'format')}; "
        f"with --tts: {listed('text_to_speech', 'response_format')}"
    )


def _common_out(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--out", metavar="VAR", help="store the rich result in this variable")
    p.add_argument("-q", "--quiet", action="store_true", help="do not display the result")
    p.add_argument(
        "--raw", action="store_true", help="send the cell verbatim (no {{var}} interpolation)"
    )
    p.add_argument(
        "--cache",
        action="store_true",
        help="answer from the local response cache when this exact request was answered before",
    )
    p.add_argument(
        "--max-cost",
        type=float,
        metavar="USD",
        help="refuse (nothing sent) when the estimated cost is over USD",
    )


def _each_flags(p: argparse.ArgumentParser, each_help: str) -> None:
    """``--each VAR`` (one call per item), how many at a time, and the Batch API instead."""
    p.add_argument("--each", metavar="VAR", help=each_help)
    p.add_argument("--concurrency", type=int, default=8)
    _batch_flags(p)


def _batch_flags(p: argparse.ArgumentParser) -> None:
    """``--batch`` / ``--batch-size``: run ``--each`` as OpenRouter Batch API jobs."""
    p.add_argument(
        "--batch",
        action="store_true",
        help="with --each: run as OpenRouter Batch API jobs (survive restarts; may take hours)",
    )
    p.add_argument("--batch-size", type=int, default=None, help="requests per upstream batch")


def _fmt(p: argparse.ArgumentParser, default: str | None = None) -> None:
    p.add_argument(
        "-f", "--format", choices=FORMATS, default=default, help="how to show the answer"
    )


def chat_parser() -> _Parser:
    p = _Parser("%%openrouter", description="Chat with a model; the cell body is the prompt.")
    p.add_argument("-m", "--model", help="model id (default: OpenRouterMagics.default_model)")
    p.add_argument("--fallback", action="append", metavar="MODEL", help="fallback model(s)")
    p.add_argument("-s", "--system", help="system message for this call")
    p.add_argument("-t", "--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--seed", type=int)
    _tool_option(p, "chat", "--reasoning", dest="reasoning", help="reasoning effort")
    p.add_argument("--online", action="store_true", help="web-grounded answer")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--chat", metavar="NAME", help="named conversation (default: 'default')")
    g.add_argument("--no-history", action="store_true", help="send no history, record nothing")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the --chat conversation from the call log (e.g. in a new kernel)",
    )
    _fmt(p)
    p.add_argument("--schema", metavar="VAR", help="JSON schema (dict or pydantic model) variable")
    p.add_argument("--no-stream", action="store_true", help="do not stream the answer")
    p.add_argument("--background", action="store_true", help="return a Job at once")
    _each_flags(p, "run once per item of VAR ({{item}} in the cell)")
    _common_out(p)
    return p


def analyze_parser() -> _Parser:
    p = _Parser(
        "%%openrouter analyze",
        description="Ask about images, audio or video; the cell body is the question. "
        "SOURCE is a path, URL, data URL or the name of a notebook variable.",
    )
    p.add_argument("sources", nargs="*", metavar="SOURCE")
    p.add_argument("-m", "--model")
    p.add_argument("-k", "--kind", choices=("image", "audio", "video"), help="force the media kind")
    _fmt(p)
    p.add_argument("--background", action="store_true")
    _each_flags(p, "analyze every item of VAR separately (batch)")
    _common_out(p)
    return p


def image_parser() -> _Parser:
    p = _Parser("%%openrouter image", description="Generate an image; the cell is the prompt.")
    p.add_argument("-m", "--model")
    _tool_option(p, "image", "--aspect", dest="aspect", metavar="RATIO")
    _tool_option(p, "image", "--size", dest="size", help="image size")
    p.add_argument("--ref", action="append", metavar="SRC", help="reference image (repeatable)")
    p.add_argument("--save", metavar="PATH", help="where to save the image")
    p.add_argument("--background", action="store_true")
    _common_out(p)
    return p


def audio_parser(speech: bool = False) -> _Parser:
    name = "speech" if speech else "audio"
    p = _Parser(
        f"%%openrouter {name}",
        description=(
            "Text to speech: the cell is read aloud."
            if speech
            else "Generate audio (speech or music) with an audio-output chat model."
        ),
    )
    p.add_argument("-m", "--model")
    p.add_argument("--voice")
    if speech:
        _tool_option(p, "speech", "--format", dest="audio_format", metavar="FMT")
    else:
        p.add_argument("--format", dest="audio_format", metavar="FMT", help=_audio_formats_help())
    if speech:
        p.add_argument("--speed", type=float)
        p.add_argument("--instructions")
    else:
        p.add_argument("--tts", action="store_true", help="use text_to_speech instead")
    p.add_argument("--save", metavar="PATH")
    p.add_argument("--background", action="store_true")
    _common_out(p)
    return p


def video_parser() -> _Parser:
    p = _Parser("%%openrouter video", description="Generate a video; the cell is the prompt.")
    p.add_argument("-m", "--model")
    p.add_argument("--duration", type=int)
    p.add_argument("--resolution", help="e.g. 720p, 1080p")
    p.add_argument("--aspect", help="e.g. 16:9")
    p.add_argument("--seed", type=int)
    p.add_argument("--first-frame", metavar="SRC")
    p.add_argument("--last-frame", metavar="SRC")
    p.add_argument("--ref", action="append", metavar="SRC", help="reference image (repeatable)")
    p.add_argument("--save", metavar="PATH")
    p.add_argument("--max-wait", type=float, metavar="SECONDS", help="give up waiting after this")
    p.add_argument("--poll", type=float, metavar="SECONDS", help="poll interval")
    p.add_argument("--background", action="store_true")
    _common_out(p)
    return p


def models_parser() -> _Parser:
    p = _Parser("%openrouter models", description="Search the model catalogue.")
    p.add_argument("query", nargs="*")
    p.add_argument("--provider")
    for flag in ("vision", "audio", "video"):
        p.add_argument(f"--{flag}", action="store_true", help=f"accepts {flag} input")
    for flag in ("image-out", "audio-out", "video-out"):
        p.add_argument(f"--{flag}", action="store_true", help=f"generates {flag[:-4]}")
    p.add_argument("--embed", action="store_true", help="embeddings models")
    p.add_argument("--free", action="store_true")
    p.add_argument("-n", "--limit", type=int, default=20)
    p.add_argument("-o", "--out", metavar="VAR")
    return p


def log_parser() -> _Parser:
    p = _Parser("%openrouter log", description="Search the call log (every call, all sessions).")
    p.add_argument("query", nargs="*", help="words to find in prompts and answers")
    p.add_argument("-n", type=int, default=20, help="how many calls (newest first)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--here", action="store_true", help="only this kernel's calls")
    p.add_argument("--chat", metavar="NAME", help="only this conversation")
    p.add_argument("-o", "--out", metavar="VAR", help="store the rows in this variable")
    return p


def status_parser() -> _Parser:
    p = _Parser(
        "%openrouter status",
        description="Check (and fetch) a video job; without an id, list recent video jobs.",
    )
    p.add_argument("video_id", nargs="?")
    p.add_argument("--save", metavar="PATH")
    p.add_argument("--wait", action="store_true", help="poll until the job ends (live panel)")
    p.add_argument("--max-wait", type=float, metavar="SECONDS")
    p.add_argument("-o", "--out", metavar="VAR")
    return p


def wait_parser() -> _Parser:
    p = _Parser("%openrouter wait", description="Wait for a background job.")
    p.add_argument("job_id", nargs="?")
    p.add_argument("--timeout", type=float)
    p.add_argument("-o", "--out", metavar="VAR")
    return p


def mcp_parser() -> _Parser:
    p = _Parser("%openrouter mcp", description="In-kernel MCP server.")
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    return p


PARSERS: dict[str, Callable[[], _Parser]] = {
    "chat": chat_parser,
    "analyze": analyze_parser,
    "image": image_parser,
    "audio": audio_parser,
    "speech": lambda: audio_parser(speech=True),
    "video": video_parser,
    "models": models_parser,
    "status": status_parser,
    "wait": wait_parser,
    "mcp": mcp_parser,
}
"""Every parser by name (the names ``TOOL_CHOICES`` and ``MAGIC_CHOICES`` use)."""
