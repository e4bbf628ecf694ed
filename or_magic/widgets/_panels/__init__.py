"""The dashboard's tabs, one module per tab over the shared ``RunPanel`` (``base``).

Every call goes through ``call_tool``; results are shown as the core made them.
"""

from .analyze import ANALYZE_KINDS, AnalyzePanel
from .audio import AUDIO_MODES, AudioPanel
from .base import DashboardPanel, RunPanel, elapsed_text
from .chat import ChatPanel
from .image import ImagePanel
from .jobs import JobsPanel
from .models import MODALITIES, OUT_MODALITIES, ModelsPanel
from .usage import UsagePanel
from .video import VideoPanel

__all__ = [
    "ANALYZE_KINDS",
    "AUDIO_MODES",
    "MODALITIES",
    "OUT_MODALITIES",
    "AnalyzePanel",
    "AudioPanel",
    "ChatPanel",
    "DashboardPanel",
    "ImagePanel",
    "JobsPanel",
    "ModelsPanel",
    "RunPanel",
    "UsagePanel",
    "VideoPanel",
    "elapsed_text",
]
