"""``python -m or_magic.testing``: the old name of ``python -m or_magic.double`` (same CLI)."""

from __future__ import annotations

import sys

from ..double.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
