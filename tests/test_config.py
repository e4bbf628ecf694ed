"""Settings from the environment: defaults, malformed values, provider defaults, the key as a secret."""

from __future__ import annotations

import pytest

from or_magic.config import ENV_VARS, MiB, Secret, load_settings
from or_magic.errors import ConfigError, ErrorCode


def test_defaults_match_the_node_server():
    s = load_settings({})
    assert s.image_max_dimension == 800
    assert s.image_jpeg_quality == 80
    assert s.video_poll_interval_ms == 15_000
    assert s.video_max_wait_ms == 600_000
    assert s.video_gen_max_bytes == 256 * MiB
    assert s.video_inline_max_bytes == 10 * MiB
    assert s.image_inline_ceiling == MiB and s.audio_inline_ceiling == MiB
    assert s.model_cache_ttl_ms == 3_600_000
    assert s.max_result_text_chars == 512_000
    assert s.base_url == "https://openrouter.ai/api/v1"
    assert s.offline  # no key


@pytest.mark.parametrize(
    "name,value",
    [
        ("OPENROUTER_VIDEO_MAX_WAIT_MS", "-5"),
        ("OPENROUTER_VIDEO_MAX_WAIT_MS", "3.14"),
        ("OPENROUTER_VIDEO_MAX_WAIT_MS", "10"),  # below min 100
        ("OPENROUTER_IMAGE_JPEG_QUALITY", "101"),
        ("OPENROUTER_CACHE_RESPONSES", "maybe"),
        ("OPENROUTER_PROVIDER_SORT", "cheapest"),
        ("OPENROUTER_PROVIDER_ORDER", "[not json"),
        ("OPENROUTER_BASE_URL", "ftp://example.com"),
        ("OPENROUTER_LOG_LEVEL", "loud"),
    ],
)
def test_malformed_values_name_the_variable(name, value):
    with pytest.raises(ConfigError) as ei:
        load_settings({name: value})
    assert ei.value.variable == name
    assert name in ei.value.message
    assert ei.value.code is ErrorCode.INVALID_INPUT


def test_provider_defaults_parse_csv_json_and_bools():
    s = load_settings(
        {
            "OPENROUTER_PROVIDER_ORDER": '["anthropic", "openai"]',
            "OPENROUTER_PROVIDER_IGNORE": "a, b,,",
            "OPENROUTER_PROVIDER_ALLOW_FALLBACKS": "No",
            "OPENROUTER_PROVIDER_SORT": "Price",
        }
    )
    assert s.provider_defaults() == {
        "ignore": ["a", "b"],
        "order": ["anthropic", "openai"],
        "sort": "price",
        "allow_fallbacks": False,
    }


def test_key_is_a_secret_and_custom_base_url_without_key_is_not_offline():
    s = load_settings({"OPENROUTER_API_KEY": "sk-or-v1-abcdefabcdefabcdef"})
    assert isinstance(s.api_key, Secret)
    assert (
        "abcdef" not in repr(s)
        and "abcdef" not in repr(s.api_key)
        and "abcdef" not in f"{s.api_key}"
    )
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(s.api_key)
    assert not s.offline
    local = load_settings({"OPENROUTER_BASE_URL": "http://127.0.0.1:11434/v1"})
    assert not local.offline and local.api_key is None
    assert load_settings({"OPENROUTER_API_KEY": "k", "OPENROUTER_OFFLINE": "1"}).offline


def test_alias_default_model_and_env_table_lists_every_variable():
    assert load_settings({"DEFAULT_MODEL": "x/y"}).default_model == "x/y"
    from or_magic.config import env_table_markdown

    table = env_table_markdown()
    for v in ENV_VARS:
        assert v.name in table


def test_empty_values_mean_unset():
    s = load_settings({"OPENROUTER_VIDEO_MAX_WAIT_MS": "  ", "OPENROUTER_API_KEY": ""})
    assert s.video_max_wait_ms == 600_000 and s.api_key is None
