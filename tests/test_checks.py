"""System checks: each bad setting is reported with a stable id and a hint."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_qstash_batch.checks import check_settings

TOKEN = "a-secret-token-value"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QSTASH_TOKEN", "QSTASH_URL", "QSTASH_CURRENT_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)


def check_ids(**qstash_batch: Any) -> list[str]:
    with override_settings(QSTASH_BATCH=qstash_batch):
        return [message.id or "" for message in check_settings()]


def test_a_complete_configuration_passes() -> None:
    assert check_ids(TOKEN=TOKEN) == []


def test_missing_token_is_an_error_that_says_how_to_set_it() -> None:
    with override_settings(QSTASH_BATCH={}):
        [message] = check_settings()

    assert message.id == "qstash_batch.E001"
    assert "QSTASH_TOKEN" in (message.hint or "")
    assert "QSTASH_BATCH" in (message.hint or "")


@pytest.mark.django_db  # Django 6 runs the database checks with "check" too.
def test_manage_py_check_names_the_missing_token() -> None:
    with override_settings(QSTASH_BATCH={}), pytest.raises(SystemCheckError) as error:
        call_command("check")

    assert "qstash_batch.E001" in str(error.value)
    assert "export QSTASH_TOKEN" in str(error.value)


def test_a_token_from_the_environment_satisfies_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QSTASH_TOKEN", TOKEN)

    assert check_ids() == []


@pytest.mark.parametrize("url", ["qstash.upstash.io", "ftp://qstash.upstash.io", ""])
def test_a_url_that_is_not_absolute_http_is_an_error(url: str) -> None:
    assert check_ids(TOKEN=TOKEN, URL=url) == ["qstash_batch.E002"]


def test_a_bad_callback_url_is_an_error() -> None:
    ids = check_ids(TOKEN=TOKEN, CALLBACK_URL="/qstash/callback/")

    assert "qstash_batch.E002" in ids


@pytest.mark.parametrize("value", [0, -5, "100", 2.5, True])
def test_limits_must_be_positive_whole_numbers(value: Any) -> None:
    assert check_ids(TOKEN=TOKEN, MAX_MESSAGES_PER_REQUEST=value) == [
        "qstash_batch.E003"
    ]


def test_a_message_limit_above_the_request_limit_is_impossible() -> None:
    ids = check_ids(TOKEN=TOKEN, MAX_MESSAGE_BYTES=10_000, MAX_REQUEST_BYTES=5_000)

    assert ids == ["qstash_batch.E005"]


@pytest.mark.parametrize("timeout", [0, (5,), (5, -1), "30", None])
def test_a_bad_timeout_is_an_error(timeout: Any) -> None:
    assert check_ids(TOKEN=TOKEN, TIMEOUT=timeout) == ["qstash_batch.E006"]


def test_callbacks_without_a_signing_key_are_an_error() -> None:
    ids = check_ids(TOKEN=TOKEN, CALLBACK_URL="https://app.example/qstash/callback/")

    assert ids == ["qstash_batch.E004"]


def test_a_lease_as_long_as_the_dedup_window_is_a_warning() -> None:
    assert check_ids(TOKEN=TOKEN, LEASE_SECONDS=600) == ["qstash_batch.W002"]


def test_an_unknown_key_is_a_warning_that_lists_the_known_ones() -> None:
    with override_settings(QSTASH_BATCH={"TOKEN": TOKEN, "MAX_ATEMPTS": 3}):
        [message] = check_settings()

    assert message.id == "qstash_batch.W001"
    assert "MAX_ATTEMPTS" in (message.hint or "")


def test_no_check_message_repeats_a_secret() -> None:
    with override_settings(
        QSTASH_BATCH={
            "TOKEN": TOKEN,
            "CURRENT_SIGNING_KEY": "sig_current_secret",
            "URL": "not a url",
            "MAX_ATTEMPTS": 0,
            "CALLBACK_URL": "nope",
        }
    ):
        text = " ".join(f"{m.msg} {m.hint}" for m in check_settings())

    assert text
    assert TOKEN not in text
    assert "sig_current_secret" not in text
