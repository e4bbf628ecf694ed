"""Settings from the environment, validated once per distinct environment.

Every variable of the Node server keeps its name and default (tool-surface.md §8), plus ours.
Unlike the Node server, a malformed value is an error that names the variable (``ConfigError``)
instead of a silent fall-back, so a typo in ``OPENROUTER_VIDEO_MAX_WAIT_MS`` is caught at start-up.
The table ``ENV_VARS`` is the single source: the README's table and its test are built from it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

MiB = 1024 * 1024

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_CHAT_MODEL = "google/gemma-4-26b-a4b-it:free"
DEFAULT_VISION_MODEL = "google/gemma-4-26b-a4b-it:free"
DEFAULT_AUDIO_MODEL = "google/gemini-2.5-flash"
DEFAULT_VIDEO_MODEL = "google/gemini-2.5-flash"
DEFAULT_IMAGE_GEN_MODEL = "google/gemini-2.5-flash-image"
DEFAULT_AUDIO_GEN_MODEL = "openai/gpt-audio"
DEFAULT_TTS_MODEL = "deepgram/flux-tts:free"
DEFAULT_STT_MODEL = "openai/whisper-1"
DEFAULT_VIDEO_GEN_MODEL = "google/veo-3.1"
DEFAULT_RERANK_MODEL = "cohere/rerank-v3.5"
DEFAULT_EMBED_MODEL = "openai/text-embedding-3-small"
DEFAULT_REFERER = "https://github.com/or-magic/or_magic"
DEFAULT_TITLE = "or_magic"

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
PROVIDER_SORTS = {"price", "throughput", "latency"}
LOG_LEVELS = {"error", "warn", "warning", "info", "debug"}


@dataclass(frozen=True)
class EnvVar:
    name: str
    field: str
    kind: str  # int | float | bool | str | csv | path | choice | order | url
    default: Any
    doc: str
    min: int | None = None
    max: int | None = None
    choices: frozenset[str] | None = None
    aliases: tuple[str, ...] = ()


def _v(name, fld, kind, default, doc, **kw) -> EnvVar:
    return EnvVar(name, fld, kind, default, doc, **kw)


ENV_VARS: tuple[EnvVar, ...] = (
    # --- connection
    _v(
        "OPENROUTER_API_KEY",
        "api_key",
        "secret",
        None,
        "API key; without it the offline backend answers",
    ),
    _v(
        "OPENROUTER_BASE_URL",
        "base_url",
        "url",
        DEFAULT_BASE_URL,
        "API base URL (any OpenAI-compatible server works for chat)",
    ),
    _v(
        "OPENROUTER_OFFLINE",
        "offline_forced",
        "bool",
        False,
        "1 = always use the offline double, even with a key",
    ),
    _v(
        "OPENROUTER_HTTP_REFERER",
        "http_referer",
        "str",
        DEFAULT_REFERER,
        "HTTP-Referer attribution header",
    ),
    _v(
        "OPENROUTER_APP_TITLE",
        "app_title",
        "str",
        DEFAULT_TITLE,
        "X-OpenRouter-Title attribution header",
    ),
    _v(
        "OPENROUTER_REQUEST_TIMEOUT_MS",
        "request_timeout_ms",
        "int",
        120_000,
        "whole-request timeout for chat and REST calls",
        min=1000,
    ),
    _v(
        "OPENROUTER_MAX_RETRIES",
        "max_retries",
        "int",
        2,
        "retries on 408/429/5xx/connection errors",
        min=0,
        max=10,
    ),
    _v(
        "OPENROUTER_RETRY_MAX_DELAY_MS",
        "retry_max_delay_ms",
        "int",
        10_000,
        "cap on one retry delay (Retry-After included)",
        min=0,
    ),
    _v(
        "OPENROUTER_MAX_RESPONSE_BYTES",
        "response_max_bytes",
        "int",
        128 * MiB,
        "cap on one API response body (JSON or a whole stream), counted after decompression",
        min=MiB,
    ),
    # --- default models
    _v(
        "OPENROUTER_DEFAULT_MODEL",
        "default_model",
        "str",
        None,
        "default chat model",
        aliases=("DEFAULT_MODEL",),
    ),
    _v(
        "OPENROUTER_DEFAULT_VISION_MODEL",
        "default_vision_model",
        "str",
        None,
        "default model for analyze_image",
    ),
    _v(
        "OPENROUTER_DEFAULT_AUDIO_MODEL",
        "default_audio_model",
        "str",
        None,
        "default model for analyze_audio",
    ),
    _v(
        "OPENROUTER_DEFAULT_VIDEO_MODEL",
        "default_video_model",
        "str",
        None,
        "default model for analyze_video",
    ),
    _v(
        "OPENROUTER_DEFAULT_IMAGE_MODEL",
        "default_image_model",
        "str",
        DEFAULT_IMAGE_GEN_MODEL,
        "default image generation model",
    ),
    _v(
        "OPENROUTER_DEFAULT_AUDIO_GEN_MODEL",
        "default_audio_gen_model",
        "str",
        DEFAULT_AUDIO_GEN_MODEL,
        "default generate_audio model",
    ),
    _v(
        "OPENROUTER_DEFAULT_TTS_MODEL",
        "default_tts_model",
        "str",
        DEFAULT_TTS_MODEL,
        "default text_to_speech model",
    ),
    _v(
        "OPENROUTER_DEFAULT_STT_MODEL",
        "default_stt_model",
        "str",
        DEFAULT_STT_MODEL,
        "default speech_to_text model",
    ),
    _v(
        "OPENROUTER_DEFAULT_VIDEO_GEN_MODEL",
        "default_video_gen_model",
        "str",
        DEFAULT_VIDEO_GEN_MODEL,
        "default video generation model",
    ),
    _v(
        "OPENROUTER_DEFAULT_RERANK_MODEL",
        "default_rerank_model",
        "str",
        DEFAULT_RERANK_MODEL,
        "default rerank model",
    ),
    _v(
        "OPENROUTER_DEFAULT_EMBED_MODEL",
        "default_embed_model",
        "str",
        DEFAULT_EMBED_MODEL,
        "default embeddings model",
    ),
    _v(
        "OPENROUTER_MAX_TOKENS",
        "max_tokens",
        "int",
        None,
        "max_tokens when a call gives none",
        min=1,
    ),
    # --- provider routing defaults
    _v(
        "OPENROUTER_PROVIDER_QUANTIZATIONS",
        "provider_quantizations",
        "csv",
        (),
        "provider.quantizations default (CSV)",
    ),
    _v("OPENROUTER_PROVIDER_IGNORE", "provider_ignore", "csv", (), "provider.ignore default (CSV)"),
    _v("OPENROUTER_PROVIDER_ONLY", "provider_only", "csv", (), "provider.only default (CSV)"),
    _v(
        "OPENROUTER_PROVIDER_SORT",
        "provider_sort",
        "choice",
        None,
        "provider.sort default",
        choices=frozenset(PROVIDER_SORTS),
    ),
    _v(
        "OPENROUTER_PROVIDER_ORDER",
        "provider_order",
        "order",
        (),
        "provider.order default (CSV or JSON array)",
    ),
    _v(
        "OPENROUTER_PROVIDER_REQUIRE_PARAMETERS",
        "provider_require_parameters",
        "bool",
        None,
        "provider.require_parameters default",
    ),
    _v(
        "OPENROUTER_PROVIDER_DATA_COLLECTION",
        "provider_data_collection",
        "choice",
        None,
        "provider.data_collection default",
        choices=frozenset({"allow", "deny"}),
    ),
    _v(
        "OPENROUTER_PROVIDER_ALLOW_FALLBACKS",
        "provider_allow_fallbacks",
        "bool",
        None,
        "provider.allow_fallbacks default",
    ),
    # --- behaviour
    _v(
        "OPENROUTER_CACHE_RESPONSES",
        "cache_responses",
        "bool",
        False,
        "send X-OpenRouter-Cache: true by default",
    ),
    _v(
        "OPENROUTER_INCLUDE_REASONING",
        "include_reasoning",
        "bool",
        False,
        "return reasoning in meta by default",
    ),
    _v(
        "OPENROUTER_MODEL_CACHE_TTL_MS",
        "model_cache_ttl_ms",
        "int",
        3_600_000,
        "model catalog cache lifetime",
        min=1,
    ),
    _v(
        "OPENROUTER_MAX_RESULT_TEXT_CHARS",
        "max_result_text_chars",
        "int",
        512_000,
        "cap on result text (0 = no cap)",
        min=0,
    ),
    _v(
        "OPENROUTER_ASYNC_JOBS_MEMORY_MAX",
        "async_jobs_memory_max",
        "int",
        200,
        "finished background jobs kept in memory (0 = unlimited)",
        min=0,
    ),
    _v(
        "OPENROUTER_LOG_LEVEL",
        "log_level",
        "choice",
        "info",
        "stderr JSON log level",
        choices=frozenset(LOG_LEVELS),
    ),
    # --- images
    _v(
        "OPENROUTER_IMAGE_MAX_DIMENSION",
        "image_max_dimension",
        "int",
        800,
        "longest edge sent for analysis",
        min=64,
        max=16384,
    ),
    _v(
        "OPENROUTER_IMAGE_JPEG_QUALITY",
        "image_jpeg_quality",
        "int",
        80,
        "JPEG quality of prepared images",
        min=1,
        max=100,
    ),
    _v(
        "OPENROUTER_IMAGE_FETCH_TIMEOUT_MS",
        "image_fetch_timeout_ms",
        "int",
        30_000,
        "whole-request timeout of image URL fetches",
        min=1000,
    ),
    _v(
        "OPENROUTER_IMAGE_MAX_DOWNLOAD_BYTES",
        "image_max_download_bytes",
        "int",
        25 * MiB,
        "cap on image URL downloads and local image files",
        min=1024,
    ),
    _v(
        "OPENROUTER_IMAGE_MAX_REDIRECTS",
        "image_max_redirects",
        "int",
        8,
        "redirects followed for image URLs",
        min=0,
        max=50,
    ),
    _v(
        "OPENROUTER_IMAGE_MAX_DATA_URL_BYTES",
        "image_max_data_url_bytes",
        "int",
        20 * MiB,
        "cap on image data URLs (decoded size)",
        min=1024,
    ),
    # --- audio
    _v(
        "OPENROUTER_AUDIO_FETCH_TIMEOUT_MS",
        "audio_fetch_timeout_ms",
        "int",
        30_000,
        "whole-request timeout of audio URL fetches",
        min=1000,
    ),
    _v(
        "OPENROUTER_AUDIO_MAX_DOWNLOAD_BYTES",
        "audio_max_download_bytes",
        "int",
        25 * MiB,
        "cap on audio downloads, local files and data URLs",
        min=1,
    ),
    _v(
        "OPENROUTER_AUDIO_MAX_REDIRECTS",
        "audio_max_redirects",
        "int",
        8,
        "redirects followed for audio URLs",
        min=0,
        max=50,
    ),
    _v(
        "OPENROUTER_AUDIO_MAX_DATA_URL_BYTES",
        "audio_max_data_url_bytes",
        "int",
        20 * MiB,
        "cap on audio data URLs (decoded size)",
        min=1024,
    ),
    # --- video
    _v(
        "OPENROUTER_VIDEO_FETCH_TIMEOUT_MS",
        "video_fetch_timeout_ms",
        "int",
        60_000,
        "whole-request timeout of video URL fetches",
        min=1000,
    ),
    _v(
        "OPENROUTER_VIDEO_MAX_DOWNLOAD_BYTES",
        "video_max_download_bytes",
        "int",
        100 * MiB,
        "cap on video downloads and local video files",
        min=1024,
    ),
    _v(
        "OPENROUTER_VIDEO_MAX_REDIRECTS",
        "video_max_redirects",
        "int",
        8,
        "redirects followed for video URLs",
        min=0,
        max=50,
    ),
    _v(
        "OPENROUTER_VIDEO_MAX_DATA_URL_BYTES",
        "video_max_data_url_bytes",
        "int",
        100 * MiB,
        "cap on video data URLs (decoded size)",
        min=1024,
    ),
    _v(
        "OPENROUTER_VIDEO_POLL_INTERVAL_MS",
        "video_poll_interval_ms",
        "int",
        15_000,
        "video job poll interval",
        min=50,
    ),
    _v(
        "OPENROUTER_VIDEO_MAX_WAIT_MS",
        "video_max_wait_ms",
        "int",
        600_000,
        "wait before returning JOB_STILL_RUNNING",
        min=100,
    ),
    _v(
        "OPENROUTER_VIDEO_GEN_MAX_BYTES",
        "video_gen_max_bytes",
        "int",
        256 * MiB,
        "cap on a generated video download",
        min=MiB,
    ),
    _v(
        "OPENROUTER_VIDEO_INLINE_MAX_BYTES",
        "video_inline_max_bytes",
        "int",
        10 * MiB,
        "largest video returned inline (0 = never)",
        min=0,
    ),
    _v(
        "OPENROUTER_INLINE_MAX_BYTES",
        "inline_max_bytes",
        "int",
        None,
        "global inline ceiling for images and audio (0 = never)",
        min=0,
    ),
    _v(
        "OPENROUTER_IMAGE_INLINE_MAX_BYTES",
        "image_inline_max_bytes",
        "int",
        None,
        "largest image returned inline (default 1 MiB)",
        min=0,
    ),
    _v(
        "OPENROUTER_AUDIO_INLINE_MAX_BYTES",
        "audio_inline_max_bytes",
        "int",
        None,
        "largest audio returned inline (default 1 MiB)",
        min=0,
    ),
    # --- sandboxes and safety
    _v(
        "OPENROUTER_OUTPUT_DIR",
        "output_dir",
        "path",
        None,
        "output sandbox root (default: working directory; a per-user data directory when that is / or a system directory)",
    ),
    _v(
        "OPENROUTER_INPUT_DIR",
        "input_dir",
        "path",
        None,
        "input sandbox root (default: OUTPUT_DIR, else the same default as OUTPUT_DIR)",
    ),
    _v(
        "OPENROUTER_ALLOW_UNSAFE_PATHS",
        "allow_unsafe_paths",
        "bool",
        False,
        "1 = disable both path sandboxes",
    ),
    _v(
        "OPENROUTER_URL_ALLOWLIST",
        "url_allowlist",
        "csv",
        (),
        "hosts, IPs or CIDRs URL fetches may reach despite the SSRF guard",
    ),
    # --- ours
    _v(
        "OR_MAGIC_STATE_DIR",
        "state_dir",
        "path",
        None,
        "where the job registry lives (default: user cache dir)",
    ),
    _v(
        "OR_MAGIC_LOG",
        "call_log",
        "bool",
        True,
        "0 = do not record calls in the call log (calls.sqlite3 in the state dir)",
    ),
    _v(
        "OR_MAGIC_CACHE",
        "local_cache",
        "choice",
        "off",
        "local response cache: off, on, deterministic (only temperature 0 or a seed)",
        choices=frozenset({"off", "on", "deterministic"}),
    ),
    _v(
        "OR_MAGIC_BUDGET_USD",
        "budget_usd",
        "float",
        None,
        "refuse calls whose estimated cost would take this process over this many USD",
    ),
    _v(
        "OR_MAGIC_HISTORY_TOKENS",
        "history_tokens",
        "int",
        0,
        "most estimated tokens of chat history sent (0 = whatever fits the context window)",
        min=0,
    ),
    _v(
        "OR_MAGIC_MCP_TOKEN",
        "mcp_token",
        "secret",
        None,
        "bearer token of the MCP HTTP server (default: generated)",
    ),
)

_BY_FIELD = {v.field: v for v in ENV_VARS}


class Secret:
    """A string that never shows itself in repr/str/format."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # never pickle a key into a file by accident
        raise TypeError("Secret values cannot be pickled")


@dataclass(frozen=True)
class Settings:
    api_key: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    offline_forced: bool = False
    http_referer: str = DEFAULT_REFERER
    app_title: str = DEFAULT_TITLE
    request_timeout_ms: int = 120_000
    max_retries: int = 2
    retry_max_delay_ms: int = 10_000
    response_max_bytes: int = 128 * MiB
    default_model: str | None = None
    default_vision_model: str | None = None
    default_audio_model: str | None = None
    default_video_model: str | None = None
    default_image_model: str = DEFAULT_IMAGE_GEN_MODEL
    default_audio_gen_model: str = DEFAULT_AUDIO_GEN_MODEL
    default_tts_model: str = DEFAULT_TTS_MODEL
    default_stt_model: str = DEFAULT_STT_MODEL
    default_video_gen_model: str = DEFAULT_VIDEO_GEN_MODEL
    default_rerank_model: str = DEFAULT_RERANK_MODEL
    default_embed_model: str = DEFAULT_EMBED_MODEL
    max_tokens: int | None = None
    provider_quantizations: tuple[str, ...] = ()
    provider_ignore: tuple[str, ...] = ()
    provider_only: tuple[str, ...] = ()
    provider_sort: str | None = None
    provider_order: tuple[str, ...] = ()
    provider_require_parameters: bool | None = None
    provider_data_collection: str | None = None
    provider_allow_fallbacks: bool | None = None
    cache_responses: bool = False
    include_reasoning: bool = False
    model_cache_ttl_ms: int = 3_600_000
    max_result_text_chars: int = 512_000
    async_jobs_memory_max: int = 200
    log_level: str = "info"
    image_max_dimension: int = 800
    image_jpeg_quality: int = 80
    image_fetch_timeout_ms: int = 30_000
    image_max_download_bytes: int = 25 * MiB
    image_max_redirects: int = 8
    image_max_data_url_bytes: int = 20 * MiB
    audio_fetch_timeout_ms: int = 30_000
    audio_max_download_bytes: int = 25 * MiB
    audio_max_redirects: int = 8
    audio_max_data_url_bytes: int = 20 * MiB
    video_fetch_timeout_ms: int = 60_000
    video_max_download_bytes: int = 100 * MiB
    video_max_redirects: int = 8
    video_max_data_url_bytes: int = 100 * MiB
    video_poll_interval_ms: int = 15_000
    video_max_wait_ms: int = 600_000
    video_gen_max_bytes: int = 256 * MiB
    video_inline_max_bytes: int = 10 * MiB
    inline_max_bytes: int | None = None
    image_inline_max_bytes: int | None = None
    audio_inline_max_bytes: int | None = None
    output_dir: Path | None = None
    input_dir: Path | None = None
    allow_unsafe_paths: bool = False
    url_allowlist: tuple[str, ...] = ()
    state_dir: Path | None = None
    call_log: bool = True
    local_cache: str = "off"
    budget_usd: float | None = None
    history_tokens: int = 0
    mcp_token: Secret | None = None
    # Set by the front-ends (never from the environment): where the offline double listens.
    offline_base_url: str | None = field(default=None, compare=False)
    # Fields whose value came from the environment (not a default), e.g. to pick offline defaults.
    explicit: frozenset[str] = field(default=frozenset(), compare=False)

    # ---- derived values --------------------------------------------------------------------
    @property
    def offline(self) -> bool:
        """True when the in-process double answers instead of OpenRouter.

        No key and the default base URL means offline; a custom ``OPENROUTER_BASE_URL`` without a
        key is a keyless OpenAI-compatible server (a local model, a proxy) and is used as is.
        """
        if self.offline_forced:
            return True
        return self.api_key is None and self.base_url == DEFAULT_BASE_URL

    @property
    def effective_default_model(self) -> str:
        return self.default_model or DEFAULT_CHAT_MODEL

    @property
    def image_inline_ceiling(self) -> int:
        return _first_set(self.image_inline_max_bytes, self.inline_max_bytes, MiB)

    @property
    def audio_inline_ceiling(self) -> int:
        return _first_set(self.audio_inline_max_bytes, self.inline_max_bytes, MiB)

    @property
    def output_root(self) -> Path:
        return (self.output_dir or default_root()).expanduser()

    @property
    def input_root(self) -> Path:
        return (self.input_dir or self.output_dir or default_root()).expanduser()

    @property
    def state_root(self) -> Path:
        if self.state_dir is not None:
            return self.state_dir.expanduser()
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "or_magic"

    def provider_defaults(self) -> dict[str, Any]:
        """The env's provider routing defaults, in the request body's shape (empty values dropped)."""
        out: dict[str, Any] = {}
        if self.provider_quantizations:
            out["quantizations"] = list(self.provider_quantizations)
        if self.provider_ignore:
            out["ignore"] = list(self.provider_ignore)
        if self.provider_only:
            out["only"] = list(self.provider_only)
        if self.provider_order:
            out["order"] = list(self.provider_order)
        if self.provider_sort:
            out["sort"] = self.provider_sort
        if self.provider_require_parameters is not None:
            out["require_parameters"] = self.provider_require_parameters
        if self.provider_data_collection:
            out["data_collection"] = self.provider_data_collection
        if self.provider_allow_fallbacks is not None:
            out["allow_fallbacks"] = self.provider_allow_fallbacks
        return out

    def secrets(self) -> list[str]:
        """Every secret value these settings hold (for redaction)."""
        return [s.get() for s in (self.api_key, self.mcp_token) if s is not None and s.get()]

    def replace(self, **changes: Any) -> Settings:
        import dataclasses

        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:  # dataclass repr would be long; keys are Secret anyway
        return f"Settings(base_url={self.base_url!r}, offline={self.offline}, output_root={str(self.output_root)!r})"


# ---- the default sandbox root ----------------------------------------------------------------------

# Working directories that are never a project folder: an MCP host that spawns the server in ``/``
# must not make the sandbox the whole filesystem. Exact matches, and (second set) trees.
_SYSTEM_DIRS = frozenset({"/", "/usr", "/var", "/opt", "/home", "/Users", "/tmp", "/private"})
_SYSTEM_TREES = (
    "/bin", "/sbin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
    "/run", "/sys", "/usr", "/System", "/Library", "/private/etc", "/snap",
)  # fmt: skip
_notice_lock = threading.Lock()
_notice_shown = False


def unsuitable_cwd(cwd: str) -> bool:
    """True for a working directory that must not become a sandbox root (``/``, a drive root,
    system directories and their trees). The home directory is a deliberate choice and allowed."""
    real = os.path.realpath(cwd)
    if os.name == "nt":  # pragma: no cover - Windows
        drive, rest = os.path.splitdrive(real)
        if rest in ("", "\\", "/"):
            return True
        low = real.lower()
        windir = os.path.realpath(os.environ.get("SYSTEMROOT", drive + "\\Windows")).lower()
        progs = [os.environ.get(v, "") for v in ("ProgramFiles", "ProgramFiles(x86)")]
        return any(
            low == t or low.startswith(t + "\\") for t in [windir, *map(str.lower, progs)] if t
        )
    if real in _SYSTEM_DIRS:
        return True
    return any(real == t or real.startswith(t + "/") for t in _SYSTEM_TREES)


def user_data_root() -> Path:
    """The per-user fallback root: ``$XDG_DATA_HOME/or_magic/files`` (``~/.local/share``),
    ``~/Library/Application Support/or_magic/files`` on macOS, ``%LOCALAPPDATA%`` on Windows."""
    import sys

    if os.name == "nt":  # pragma: no cover - Windows
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":  # pragma: no cover - macOS
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "or_magic" / "files"


def default_root() -> Path:
    """The sandbox root when no ``OPENROUTER_OUTPUT_DIR`` / ``OPENROUTER_INPUT_DIR`` is set: the
    working directory, unless ``unsuitable_cwd`` (then ``user_data_root``, said once on stderr)."""
    global _notice_shown
    cwd = os.getcwd()
    if not unsuitable_cwd(cwd):
        return Path(cwd)
    root = user_data_root()
    with _notice_lock:
        if not _notice_shown:
            _notice_shown = True
            import sys

            try:
                root.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError:
                pass
            print(
                f"or_magic: the working directory {cwd} is not a project folder; reading and "
                f"writing files under {root} instead (set OPENROUTER_OUTPUT_DIR and "
                "OPENROUTER_INPUT_DIR to choose).",
                file=sys.stderr,
            )
    return root


def _first_set(*values: int | None) -> int:
    for v in values:
        if v is not None:
            return v
    raise AssertionError("unreachable")


# ---- parsing ---------------------------------------------------------------------------------


def _parse(var: EnvVar, raw: str) -> Any:
    kind = var.kind
    s = raw.strip()
    if kind == "int":
        if not s.isdigit():
            bound = f" >= {var.min}" if var.min is not None else ""
            raise ConfigError(var.name, f"must be a whole number{bound}, got {raw!r}")
        n = int(s)
        if var.min is not None and n < var.min:
            raise ConfigError(var.name, f"must be >= {var.min}, got {n}")
        if var.max is not None and n > var.max:
            raise ConfigError(var.name, f"must be <= {var.max}, got {n}")
        return n
    if kind == "float":
        try:
            x = float(s)
        except ValueError:
            x = float("nan")
        if not (x >= 0 and x != float("inf")):
            raise ConfigError(var.name, f"must be a number >= 0, got {raw!r}")
        return x
    if kind == "bool":
        low = s.lower()
        if low in TRUE_WORDS:
            return True
        if low in FALSE_WORDS:
            return False
        raise ConfigError(var.name, f"must be one of 1/true/yes or 0/false/no, got {raw!r}")
    if kind == "choice":
        low = s.lower()
        assert var.choices is not None
        if low not in var.choices:
            raise ConfigError(
                var.name, f"must be one of {', '.join(sorted(var.choices))}, got {raw!r}"
            )
        return "warn" if low == "warning" else low
    if kind == "csv":
        return tuple(p.strip() for p in s.split(",") if p.strip())
    if kind == "order":
        if s.startswith("["):
            try:
                arr = json.loads(s)
            except ValueError as exc:
                raise ConfigError(var.name, f"is not a valid JSON array ({exc.msg})") from None
            if not isinstance(arr, list) or not all(isinstance(x, str) and x.strip() for x in arr):
                raise ConfigError(var.name, "must be a JSON array of non-empty strings")
            return tuple(x.strip() for x in arr)
        return tuple(p.strip() for p in s.split(",") if p.strip())
    if kind == "path":
        if "\x00" in s:
            raise ConfigError(var.name, "contains a NUL byte")
        return Path(s).expanduser()
    if kind == "url":
        from urllib.parse import urlsplit

        parts = urlsplit(s)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(var.name, f"must be an http(s) URL, got {raw!r}")
        return s.rstrip("/")
    if kind == "secret":
        from .redact import register_secret

        register_secret(check_secret(var.name, s))  # log lines scrub it before any client exists
        return Secret(s)
    return s


def check_secret(variable: str, value: str) -> str:
    """``value`` if it can travel in an HTTP header; else a ``ConfigError`` naming ``variable``.

    A key with non-ASCII letters (a pasted typographic dash), whitespace or control characters
    inside would otherwise fail deep in the HTTP layer as INTERNAL. The message says where, never
    what: the value is a secret.
    """
    for i, ch in enumerate(value):
        if not 0x21 <= ord(ch) <= 0x7E:
            what = (
                "a non-ASCII character"
                if ord(ch) > 0x7E
                else "whitespace"
                if ch.isspace()
                else "a control character"
            )
            raise ConfigError(
                variable,
                f"contains {what} at position {i + 1} of {len(value)}; a key is printable "
                "ASCII without spaces (re-copy it from https://openrouter.ai/settings/keys)",
            )
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build ``Settings`` from ``env`` (default ``os.environ``). Raises ``ConfigError``."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for var in ENV_VARS:
        raw = env.get(var.name)
        if raw is None or not raw.strip():
            for alias in var.aliases:
                raw = env.get(alias)
                if raw is not None and raw.strip():
                    break
        if raw is None or not raw.strip():
            continue
        values[var.field] = _parse(var, raw)
    if _KEY_OVERRIDE is not None:
        values["api_key"] = _KEY_OVERRIDE
    elif "api_key" not in values and env is os.environ:  # last: the OS keyring, when installed
        from .keyring_store import get_key

        stored = get_key()
        if stored:
            from .redact import register_secret

            register_secret(stored)
            values["api_key"] = Secret(stored)
    valid = {f.name for f in fields(Settings)}
    kept = {k: v for k, v in values.items() if k in valid}
    return Settings(**kept, explicit=frozenset(kept))


# ---- process-wide cache and runtime overrides ----------------------------------------------------

_KEY_OVERRIDE: Secret | None = None
_KEY_GENERATION = 0  # bumped when the key changes anywhere (keyring saved or cleared)
_cache_lock = threading.Lock()
_cache: tuple[tuple, Settings] | None = None
_NAMES = tuple({n for v in ENV_VARS for n in (v.name, *v.aliases)})


# ``os.environ`` keeps its raw (bytes on POSIX) mapping in ``_data``; reading that skips the
# per-name encode/decode of ``os.environ.get``, which made this snapshot the largest part of a
# warm, cheap tool call (61 names).
_RAW_ENV: Any = getattr(os.environ, "_data", None)
_RAW_NAMES = (
    tuple(
        os.environ.encodekey(n)
        for n in _NAMES  # type: ignore[attr-defined]
    )
    if _RAW_ENV is not None and hasattr(os.environ, "encodekey")
    else ()
)


def _snapshot() -> tuple:
    raw = _RAW_ENV
    if _RAW_NAMES and raw is os.environ._data:  # type: ignore[attr-defined]
        values = tuple(map(raw.get, _RAW_NAMES))
    else:
        env = os.environ
        values = tuple(env.get(n) for n in _NAMES)
    return (values, id(_KEY_OVERRIDE), _KEY_GENERATION, os.getcwd())


def get_settings() -> Settings:
    """Current settings; re-parsed only when a relevant variable changed (cheap to call often)."""
    global _cache
    snap = _snapshot()
    cached = _cache
    if cached is not None and cached[0] == snap:
        return cached[1]
    with _cache_lock:
        settings = load_settings()
        _cache = (snap, settings)
        return settings


def set_api_key(key: str | None, *, source: str = "set_api_key") -> None:
    """Use ``key`` for this process only (``%openrouter key``); ``None`` clears it.

    A malformed key raises ``ConfigError`` naming ``source`` (the setter the user called).
    """
    global _KEY_OVERRIDE, _KEY_GENERATION
    _KEY_GENERATION += 1
    if key is not None:
        key = key.strip()
        if not key:
            key = None
        else:
            check_secret(source, key)
    _KEY_OVERRIDE = Secret(key) if key else None
    if key:
        from .redact import register_secret

        register_secret(key)


def env_table_markdown() -> str:
    """The README's environment table, generated from ``ENV_VARS``."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for v in ENV_VARS:
        d = v.default
        if isinstance(d, tuple):
            d = ""
        if v.kind == "int" and isinstance(d, int) and d >= MiB and d % MiB == 0:
            shown = f"{d} ({d // MiB} MiB)"
        else:
            shown = "" if d is None else str(d).lower() if isinstance(d, bool) else str(d)
        name = " / ".join(f"`{n}`" for n in (v.name, *v.aliases))
        rows.append(f"| {name} | {shown or '—'} | {v.doc} |")
    return "\n".join(rows)
