"""Small tool helpers: cache TTL normalisation and model suffix splitting."""

from __future__ import annotations

import pytest

from or_magic.tools.common import normalise_ttl, split_suffix


@pytest.mark.parametrize(
    "v,secs", [(300, 300), ("300", 300), ("30s", 30), ("5m", 300), ("1h", 3600), ("1d", 86400)]
)
def test_ttl_normalised(v, secs):
    assert normalise_ttl(v) == secs


@pytest.mark.parametrize("v", [0, 86401, "2d", "5 minutes", "", True])
def test_ttl_rejected(v):
    with pytest.raises(ValueError):
        normalise_ttl(v)


def test_split_suffix():
    assert split_suffix("openai/gpt-4o:nitro") == ("openai/gpt-4o", "nitro")
    assert split_suffix("openai/gpt-4o") == ("openai/gpt-4o", None)
    assert split_suffix("weird:tag") == ("weird:tag", None)
