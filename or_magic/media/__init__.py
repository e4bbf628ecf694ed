"""Media handling: sniffing, ``Blob``, data URLs, image/audio/video helpers, notebook objects.

Light re-exports only: importing this package never imports Pillow, numpy, matplotlib or IPython
(the modules import them inside the functions that need them).
"""

from .audio import WavInfo, numpy_to_wav, wav_info, wrap_pcm16_wav
from .blob import Blob, base64_len
from .dataurl import is_data_url, parse_data_url, split_data_url, to_data_url
from .image import DEFAULT_MAX_PIXELS, image_size, png_dimensions, prepare_image
from .objects import ObjectRef, blob_from_object
from .sniff import (
    AUDIO_FORMATS,
    HEAD_BYTES,
    VIDEO_FORMATS,
    Sniffed,
    audio_fmt_from_mime,
    describe,
    ext_for_mime,
    kind_of_mime,
    looks_like_html,
    mime_for_audio_fmt,
    require,
    sniff,
    video_ext_for_mime,
    video_fmt_from_mime,
)
from .video import mp4_duration, mp4_has_signature

__all__ = [
    "AUDIO_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "HEAD_BYTES",
    "VIDEO_FORMATS",
    "Blob",
    "ObjectRef",
    "Sniffed",
    "WavInfo",
    "audio_fmt_from_mime",
    "base64_len",
    "blob_from_object",
    "describe",
    "ext_for_mime",
    "image_size",
    "is_data_url",
    "kind_of_mime",
    "looks_like_html",
    "mime_for_audio_fmt",
    "mp4_duration",
    "mp4_has_signature",
    "numpy_to_wav",
    "parse_data_url",
    "png_dimensions",
    "prepare_image",
    "require",
    "sniff",
    "split_data_url",
    "to_data_url",
    "video_ext_for_mime",
    "video_fmt_from_mime",
    "wav_info",
    "wrap_pcm16_wav",
]
