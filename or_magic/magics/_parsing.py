"""Argument parsers for ``%openrouter`` / ``%%openrouter`` (argparse; errors become UsageError)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from IPython.core.error import UsageError

from ..tools.enums import ASPECT_RATIOS, IMAGE_SIZES

FORMATS = ("markdown", "md", "text", "json", "html", "code")
ASPECTS = ASPECT_RATIOS
SIZES = IMAGE_SIZES

CELL_MODES = ("chat", "analyze", "image", "audio", "speech", "video")
LINE_COMMANDS = (
    "models",
    "info",
    "health",
    "usage",
    "jobs",
    "batches",
    "wait",
    "cancel",
    "status",
    "reset",
    "key",
    "config",
    "help",
    "mcp",
    "history",
    "dashboard",
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


def _common_out(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--out", metavar="VAR", help="store the rich result in this variable")
    p.add_argument("-q", "--quiet", action="store_true", help="do not display the result")
    p.add_argument(
        "--raw", action="store_true", help="send the cell verbatim (no {{var}} interpolation)"
    )


def _batch_flags(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("--reasoning", choices=("none", "minimal", "low", "medium", "high", "xhigh"))
    p.add_argument("--online", action="store_true", help="web-grounded answer")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--chat", metavar="NAME", help="named conversation (default: 'default')")
    g.add_argument("--no-history", action="store_true", help="send no history, record nothing")
    _fmt(p)
    p.add_argument("--schema", metavar="VAR", help="JSON schema (dict or pydantic model) variable")
    p.add_argument("--no-stream", action="store_true", help="do not stream the answer")
    p.add_argument("--background", action="store_true", help="return a Job at once")
    p.add_argument("--each", metavar="VAR", help="run once per item of VAR ({{item}} in the cell)")
    p.add_argument("--concurrency", type=int, default=8)
    _batch_flags(p)
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
    p.add_argument("--each", metavar="VAR", help="analyze every item of VAR separately (batch)")
    p.add_argument("--concurrency", type=int, default=8)
    _batch_flags(p)
    _common_out(p)
    return p


def image_parser() -> _Parser:
    p = _Parser("%%openrouter image", description="Generate an image; the cell is the prompt.")
    p.add_argument("-m", "--model")
    p.add_argument("--aspect", choices=ASPECTS, metavar="RATIO", help=", ".join(ASPECTS))
    p.add_argument("--size", choices=SIZES, help="image size")
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
    p.add_argument("--format", dest="audio_format", metavar="FMT", help="wav, mp3, flac, opus, ...")
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
    p.add_argument("--free", action="store_true")
    p.add_argument("-n", "--limit", type=int, default=20)
    p.add_argument("-o", "--out", metavar="VAR")
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
