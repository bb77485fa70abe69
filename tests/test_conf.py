"""The settings accessor: where each value comes from, read on every access."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_qstash_batch.conf import DEFAULT_URL, conf


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "QSTASH_TOKEN",
        "QSTASH_URL",
        "QSTASH_CURRENT_SIGNING_KEY",
        "QSTASH_NEXT_SIGNING_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


@override_settings(QSTASH_BATCH={})
def test_defaults_apply_when_nothing_is_configured() -> None:
    assert conf.TOKEN is None
    assert conf.URL == DEFAULT_URL
    assert conf.MAX_MESSAGES_PER_REQUEST == 100
    assert conf.TIMEOUT == (5.0, 30.0)


@override_settings(QSTASH_BATCH={})
def test_token_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QSTASH_TOKEN", "from-env")
    monkeypatch.setenv("QSTASH_CURRENT_SIGNING_KEY", "sig_env_current")
    monkeypatch.setenv("QSTASH_NEXT_SIGNING_KEY", "sig_env_next")

    assert conf.TOKEN == "from-env"
    assert conf.CURRENT_SIGNING_KEY == "sig_env_current"
    assert conf.NEXT_SIGNING_KEY == "sig_env_next"


@override_settings(QSTASH_BATCH={})
def test_url_falls_back_to_the_environment_without_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QSTASH_URL", "https://qstash-eu-central-1.upstash.io/")

    assert conf.URL == "https://qstash-eu-central-1.upstash.io"


@override_settings(QSTASH_BATCH={}, QSTASH_TOKEN="from-setting")
def test_top_level_setting_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QSTASH_TOKEN", "from-env")

    assert conf.TOKEN == "from-setting"


@override_settings(QSTASH_BATCH={"TOKEN": "from-dict"}, QSTASH_TOKEN="from-setting")
def test_the_settings_dict_wins_over_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QSTASH_TOKEN", "from-env")

    assert conf.TOKEN == "from-dict"


def test_values_are_read_on_access_so_override_settings_works() -> None:
    with override_settings(QSTASH_BATCH={"MAX_ATTEMPTS": 3}):
        assert conf.MAX_ATTEMPTS == 3
    with override_settings(QSTASH_BATCH={"MAX_ATTEMPTS": 5}):
        assert conf.MAX_ATTEMPTS == 5


@override_settings(QSTASH_BATCH={"TIMEOUT": 7})
def test_a_single_timeout_applies_to_connect_and_read() -> None:
    assert conf.TIMEOUT == (7.0, 7.0)


@override_settings(QSTASH_BATCH={"TOKEN": "t", "MAX_ATEMPTS": 3})
def test_unknown_keys_are_listed() -> None:
    assert conf.unknown_keys() == ["MAX_ATEMPTS"]


def test_asking_for_an_unknown_setting_is_an_error() -> None:
    with pytest.raises(KeyError, match="MAX_ATEMPTS"):
        conf.get("MAX_ATEMPTS")
