"""The ``Settings`` dataclass: every environment variable, declared once with its field.

Each field of ``Settings`` that the environment can set is declared with ``_env(...)``: the
variable's name, how its text parses (``kind``), the default and the README's one line about it.
``ENV_VARS`` (the README's table and its test, ``load_settings``, the settings cache) is read off
those fields, so a default cannot differ between ``Settings()`` and the documentation, and a new
variable is one new field. Every variable of the Node server keeps its name and default
(tool-surface.md §8), plus ours.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .roots import default_root
from .secret import Secret

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

PROVIDER_SORTS = {"price", "throughput", "latency"}
LOG_LEVELS = {"error", "warn", "warning", "info", "debug"}


@dataclass(frozen=True)
class EnvVar:
    """One environment variable and the ``Settings`` field it fills."""

    name: str
    field: str
    kind: str  # int | float | bool | str | csv | path | choice | order | url | secret
    default: Any
    doc: str
    min: int | None = None
    max: int | None = None
    choices: frozenset[str] | None = None
    aliases: tuple[str, ...] = ()


_ENV = "or_magic.env"  # the field metadata key that holds a field's variable


def _env(name: str, kind: str, default: Any, doc: str, **kw: Any) -> Any:
    """A ``Settings`` field read from the variable ``name`` (``kw``: ``min``, ``max``, ``choices``,
    ``aliases``, as on ``EnvVar``). It returns a ``dataclasses.field``, so the default is the
    field's default and evaluated once like any other (ruff's RUF009 cannot see that)."""
    return field(default=default, metadata={_ENV: (name, kind, doc, kw)})


@dataclass(frozen=True)
class Settings:
    """Every setting, validated. Frozen: one value per distinct environment, shared by every call
    (``get_settings`` caches it); ``replace`` makes a changed copy."""

    # --- connection
    api_key: Secret | None = _env(  # noqa: RUF009 (a field, see _env)
        "OPENROUTER_API_KEY", "secret", None, "API key; without it the offline backend answers"
    )
    base_url: str = _env(
        "OPENROUTER_BASE_URL",
        "url",
        DEFAULT_BASE_URL,
        "API base URL (any OpenAI-compatible server works for chat)",
    )
    offline_forced: bool = _env(
        "OPENROUTER_OFFLINE", "bool", False, "1 = always use the offline double, even with a key"
    )
    http_referer: str = _env(
        "OPENROUTER_HTTP_REFERER", "str", DEFAULT_REFERER, "HTTP-Referer attribution header"
    )
    app_title: str = _env(
        "OPENROUTER_APP_TITLE", "str", DEFAULT_TITLE, "X-OpenRouter-Title attribution header"
    )
    request_timeout_ms: int = _env(
        "OPENROUTER_REQUEST_TIMEOUT_MS",
        "int",
        120_000,
        "whole-request timeout for chat and REST calls",
        min=1000,
    )
    max_retries: int = _env(
        "OPENROUTER_MAX_RETRIES",
        "int",
        2,
        "retries on 408/429/5xx/connection errors",
        min=0,
        max=10,
    )
    retry_max_delay_ms: int = _env(
        "OPENROUTER_RETRY_MAX_DELAY_MS",
        "int",
        10_000,
        "cap on one retry delay (Retry-After included)",
        min=0,
    )
    response_max_bytes: int = _env(
        "OPENROUTER_MAX_RESPONSE_BYTES",
        "int",
        128 * MiB,
        "cap on one API response body (JSON or a whole stream), counted after decompression",
        min=MiB,
    )
    # --- default models
    default_model: str | None = _env(
        "OPENROUTER_DEFAULT_MODEL", "str", None, "default chat model", aliases=("DEFAULT_MODEL",)
    )
    default_vision_model: str | None = _env(
        "OPENROUTER_DEFAULT_VISION_MODEL", "str", None, "default model for analyze_image"
    )
    default_audio_model: str | None = _env(
        "OPENROUTER_DEFAULT_AUDIO_MODEL", "str", None, "default model for analyze_audio"
    )
    default_video_model: str | None = _env(
        "OPENROUTER_DEFAULT_VIDEO_MODEL", "str", None, "default model for analyze_video"
    )
    default_image_model: str = _env(
        "OPENROUTER_DEFAULT_IMAGE_MODEL",
        "str",
        DEFAULT_IMAGE_GEN_MODEL,
        "default image generation model",
    )
    default_audio_gen_model: str = _env(
        "OPENROUTER_DEFAULT_AUDIO_GEN_MODEL",
        "str",
        DEFAULT_AUDIO_GEN_MODEL,
        "default generate_audio model",
    )
    default_tts_model: str = _env(
        "OPENROUTER_DEFAULT_TTS_MODEL", "str", DEFAULT_TTS_MODEL, "default text_to_speech model"
    )
    default_stt_model: str = _env(
        "OPENROUTER_DEFAULT_STT_MODEL", "str", DEFAULT_STT_MODEL, "default speech_to_text model"
    )
    default_video_gen_model: str = _env(
        "OPENROUTER_DEFAULT_VIDEO_GEN_MODEL",
        "str",
        DEFAULT_VIDEO_GEN_MODEL,
        "default video generation model",
    )
    default_rerank_model: str = _env(
        "OPENROUTER_DEFAULT_RERANK_MODEL", "str", DEFAULT_RERANK_MODEL, "default rerank model"
    )
    default_embed_model: str = _env(
        "OPENROUTER_DEFAULT_EMBED_MODEL", "str", DEFAULT_EMBED_MODEL, "default embeddings model"
    )
    max_tokens: int | None = _env(
        "OPENROUTER_MAX_TOKENS", "int", None, "max_tokens when a call gives none", min=1
    )
    # --- provider routing defaults
    provider_quantizations: tuple[str, ...] = _env(
        "OPENROUTER_PROVIDER_QUANTIZATIONS", "csv", (), "provider.quantizations default (CSV)"
    )
    provider_ignore: tuple[str, ...] = _env(
        "OPENROUTER_PROVIDER_IGNORE", "csv", (), "provider.ignore default (CSV)"
    )
    provider_only: tuple[str, ...] = _env(
        "OPENROUTER_PROVIDER_ONLY", "csv", (), "provider.only default (CSV)"
    )
    provider_sort: str | None = _env(
        "OPENROUTER_PROVIDER_SORT",
        "choice",
        None,
        "provider.sort default",
        choices=frozenset(PROVIDER_SORTS),
    )
    provider_order: tuple[str, ...] = _env(
        "OPENROUTER_PROVIDER_ORDER", "order", (), "provider.order default (CSV or JSON array)"
    )
    provider_require_parameters: bool | None = _env(
        "OPENROUTER_PROVIDER_REQUIRE_PARAMETERS",
        "bool",
        None,
        "provider.require_parameters default",
    )
    provider_data_collection: str | None = _env(
        "OPENROUTER_PROVIDER_DATA_COLLECTION",
        "choice",
        None,
        "provider.data_collection default",
        choices=frozenset({"allow", "deny"}),
    )
    provider_allow_fallbacks: bool | None = _env(
        "OPENROUTER_PROVIDER_ALLOW_FALLBACKS", "bool", None, "provider.allow_fallbacks default"
    )
    # --- behaviour
    cache_responses: bool = _env(
        "OPENROUTER_CACHE_RESPONSES", "bool", False, "send X-OpenRouter-Cache: true by default"
    )
    include_reasoning: bool = _env(
        "OPENROUTER_INCLUDE_REASONING", "bool", False, "return reasoning in meta by default"
    )
    model_cache_ttl_ms: int = _env(
        "OPENROUTER_MODEL_CACHE_TTL_MS", "int", 3_600_000, "model catalog cache lifetime", min=1
    )
    max_result_text_chars: int = _env(
        "OPENROUTER_MAX_RESULT_TEXT_CHARS", "int", 512_000, "cap on result text (0 = no cap)", min=0
    )
    async_jobs_memory_max: int = _env(
        "OPENROUTER_ASYNC_JOBS_MEMORY_MAX",
        "int",
        200,
        "finished background jobs kept in memory (0 = unlimited)",
        min=0,
    )
    log_level: str = _env(
        "OPENROUTER_LOG_LEVEL",
        "choice",
        "info",
        "stderr JSON log level",
        choices=frozenset(LOG_LEVELS),
    )
    # --- images
    image_max_dimension: int = _env(
        "OPENROUTER_IMAGE_MAX_DIMENSION",
        "int",
        800,
        "longest edge sent for analysis",
        min=64,
        max=16384,
    )
    image_jpeg_quality: int = _env(
        "OPENROUTER_IMAGE_JPEG_QUALITY",
        "int",
        80,
        "JPEG quality of prepared images",
        min=1,
        max=100,
    )
    image_fetch_timeout_ms: int = _env(
        "OPENROUTER_IMAGE_FETCH_TIMEOUT_MS",
        "int",
        30_000,
        "whole-request timeout of image URL fetches",
        min=1000,
    )
    image_max_download_bytes: int = _env(
        "OPENROUTER_IMAGE_MAX_DOWNLOAD_BYTES",
        "int",
        25 * MiB,
        "cap on image URL downloads and local image files",
        min=1024,
    )
    image_max_redirects: int = _env(
        "OPENROUTER_IMAGE_MAX_REDIRECTS",
        "int",
        8,
        "redirects followed for image URLs",
        min=0,
        max=50,
    )
    image_max_data_url_bytes: int = _env(
        "OPENROUTER_IMAGE_MAX_DATA_URL_BYTES",
        "int",
        20 * MiB,
        "cap on image data URLs (decoded size)",
        min=1024,
    )
    # --- audio
    audio_fetch_timeout_ms: int = _env(
        "OPENROUTER_AUDIO_FETCH_TIMEOUT_MS",
        "int",
        30_000,
        "whole-request timeout of audio URL fetches",
        min=1000,
    )
    audio_max_download_bytes: int = _env(
        "OPENROUTER_AUDIO_MAX_DOWNLOAD_BYTES",
        "int",
        25 * MiB,
        "cap on audio downloads, local files and data URLs",
        min=1,
    )
    audio_max_redirects: int = _env(
        "OPENROUTER_AUDIO_MAX_REDIRECTS",
        "int",
        8,
        "redirects followed for audio URLs",
        min=0,
        max=50,
    )
    audio_max_data_url_bytes: int = _env(
        "OPENROUTER_AUDIO_MAX_DATA_URL_BYTES",
        "int",
        20 * MiB,
        "cap on audio data URLs (decoded size)",
        min=1024,
    )
    # --- video
    video_fetch_timeout_ms: int = _env(
        "OPENROUTER_VIDEO_FETCH_TIMEOUT_MS",
        "int",
        60_000,
        "whole-request timeout of video URL fetches",
        min=1000,
    )
    video_max_download_bytes: int = _env(
        "OPENROUTER_VIDEO_MAX_DOWNLOAD_BYTES",
        "int",
        100 * MiB,
        "cap on video downloads and local video files",
        min=1024,
    )
    video_max_redirects: int = _env(
        "OPENROUTER_VIDEO_MAX_REDIRECTS",
        "int",
        8,
        "redirects followed for video URLs",
        min=0,
        max=50,
    )
    video_max_data_url_bytes: int = _env(
        "OPENROUTER_VIDEO_MAX_DATA_URL_BYTES",
        "int",
        100 * MiB,
        "cap on video data URLs (decoded size)",
        min=1024,
    )
    video_poll_interval_ms: int = _env(
        "OPENROUTER_VIDEO_POLL_INTERVAL_MS", "int", 15_000, "video job poll interval", min=50
    )
    video_max_wait_ms: int = _env(
        "OPENROUTER_VIDEO_MAX_WAIT_MS",
        "int",
        600_000,
        "wait before returning JOB_STILL_RUNNING",
        min=100,
    )
    video_gen_max_bytes: int = _env(
        "OPENROUTER_VIDEO_GEN_MAX_BYTES",
        "int",
        256 * MiB,
        "cap on a generated video download",
        min=MiB,
    )
    video_inline_max_bytes: int = _env(
        "OPENROUTER_VIDEO_INLINE_MAX_BYTES",
        "int",
        10 * MiB,
        "largest video returned inline (0 = never)",
        min=0,
    )
    inline_max_bytes: int | None = _env(
        "OPENROUTER_INLINE_MAX_BYTES",
        "int",
        None,
        "global inline ceiling for images and audio (0 = never)",
        min=0,
    )
    image_inline_max_bytes: int | None = _env(
        "OPENROUTER_IMAGE_INLINE_MAX_BYTES",
        "int",
        None,
        "largest image returned inline (default 1 MiB)",
        min=0,
    )
    audio_inline_max_bytes: int | None = _env(
        "OPENROUTER_AUDIO_INLINE_MAX_BYTES",
        "int",
        None,
        "largest audio returned inline (default 1 MiB)",
        min=0,
    )
    # --- sandboxes and safety
    output_dir: Path | None = _env(  # noqa: RUF009 (a field, see _env)
        "OPENROUTER_OUTPUT_DIR",
        "path",
        None,
        "output sandbox root (default: working directory; a per-user data directory when that is / or a system directory)",
    )
    input_dir: Path | None = _env(  # noqa: RUF009 (a field, see _env)
        "OPENROUTER_INPUT_DIR",
        "path",
        None,
        "input sandbox root (default: OUTPUT_DIR, else the same default as OUTPUT_DIR)",
    )
    allow_unsafe_paths: bool = _env(
        "OPENROUTER_ALLOW_UNSAFE_PATHS", "bool", False, "1 = disable both path sandboxes"
    )
    url_allowlist: tuple[str, ...] = _env(
        "OPENROUTER_URL_ALLOWLIST",
        "csv",
        (),
        "hosts, IPs or CIDRs URL fetches may reach despite the SSRF guard",
    )
    # --- ours
    state_dir: Path | None = _env(  # noqa: RUF009 (a field, see _env)
        "OR_MAGIC_STATE_DIR", "path", None, "where the job registry lives (default: user cache dir)"
    )
    call_log: bool = _env(
        "OR_MAGIC_LOG",
        "bool",
        True,
        "0 = do not record calls in the call log (calls.sqlite3 in the state dir)",
    )
    local_cache: str = _env(
        "OR_MAGIC_CACHE",
        "choice",
        "off",
        "local response cache: off, on, deterministic (only temperature 0 or a seed)",
        choices=frozenset({"off", "on", "deterministic"}),
    )
    budget_usd: float | None = _env(
        "OR_MAGIC_BUDGET_USD",
        "float",
        None,
        "refuse calls whose estimated cost would take this process over this many USD",
    )
    history_tokens: int = _env(
        "OR_MAGIC_HISTORY_TOKENS",
        "int",
        0,
        "most estimated tokens of chat history sent (0 = whatever fits the context window)",
        min=0,
    )
    mcp_token: Secret | None = _env(  # noqa: RUF009 (a field, see _env)
        "OR_MAGIC_MCP_TOKEN",
        "secret",
        None,
        "bearer token of the MCP HTTP server (default: generated)",
    )

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


ENV_VARS: tuple[EnvVar, ...] = tuple(
    EnvVar(meta[0], f.name, meta[1], f.default, meta[2], **meta[3])
    for f in fields(Settings)
    if (meta := f.metadata.get(_ENV)) is not None
)


def _first_set(*values: int | None) -> int:
    for v in values:
        if v is not None:
            return v
    raise AssertionError("unreachable")


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
