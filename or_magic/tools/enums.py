"""Every fixed list of allowed values a tool argument takes: one home for each.

The tools' input models use these as ``Literal[...]``; front-ends never read this module, they ask
the core (``or_magic.tools.allowed_values``), which reads the models. Order matters: it is the
order the magic's ``--help`` and the dashboard's dropdowns show.
"""

from __future__ import annotations

# generate_image / generate_image_dedicated
ASPECT_RATIOS = (
    "1:1",
    "2:3",
    "3:2",
    "3:4",
    "4:3",
    "4:5",
    "5:4",
    "9:16",
    "16:9",
    "21:9",
    "1:4",
    "4:1",
    "1:8",
    "8:1",
)
IMAGE_SIZES = ("0.5K", "1K", "2K", "4K")
DEDICATED_RESOLUTIONS = ("512", "0.5K", "1K", "2K", "4K")
QUALITIES = ("auto", "low", "medium", "high")
OUTPUT_FORMATS = ("png", "jpeg", "webp", "svg")

# chat_completion (reasoning_effort and reasoning.effort)
REASONING_EFFORTS = ("max", "xhigh", "high", "medium", "low", "minimal", "none")

# analyze_image / analyze_media (image_url.detail)
IMAGE_DETAILS = ("auto", "low", "high", "original")

# generate_audio, text_to_speech, speech_to_text
AUDIO_FORMATS = ("wav", "mp3", "flac", "opus", "pcm16")
TTS_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
STT_RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
