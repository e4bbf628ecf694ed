"""Allowed values shared by the tools and the front-ends (no heavy imports: the magics parser
and the dashboard read them without loading pydantic)."""

from __future__ import annotations

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
