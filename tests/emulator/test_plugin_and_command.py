"""The pytest fixture, the emulator's lifecycle, and ``manage.py qstash_emulator``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from django_qstash_batch.conf import conf
from django_qstash_batch.testing import (
    DEV_CURRENT_SIGNING_KEY,
    DEV_NEXT_SIGNING_KEY,
    DEV_TOKEN,
    QStashEmulator,
)

ROOT = Path(__file__).resolve().parents[2]


def test_fixture_points_the_app_settings_at_the_emulator(
    qstash_emulator: QStashEmulator,
) -> None:
    assert conf.URL == qstash_emulator.url
    assert conf.TOKEN == DEV_TOKEN
    assert conf.CURRENT_SIGNING_KEY == DEV_CURRENT_SIGNING_KEY
    assert conf.NEXT_SIGNING_KEY == DEV_NEXT_SIGNING_KEY


def test_fixture_keeps_other_app_settings(
    settings: Any, request: pytest.FixtureRequest
) -> None:
    settings.QSTASH_BATCH = {"MAX_ATTEMPTS": 3}

    emulator = request.getfixturevalue("qstash_emulator")

    assert conf.MAX_ATTEMPTS == 3
    assert conf.URL == emulator.url


def test_fixture_hands_out_a_reset_emulator(
    qstash_emulator_server: QStashEmulator, request: pytest.FixtureRequest
) -> None:
    qstash_emulator_server.faults.fail_next(status=503)
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {qstash_emulator_server.token}"
        http.post(f"{qstash_emulator_server.url}/v2/batch", json=[])

    emulator = request.getfixturevalue("qstash_emulator")

    assert emulator is qstash_emulator_server
    assert emulator.received == []
    assert emulator.faults.take_canned("/v2/batch") is None


def test_defaults_match_the_official_dev_server() -> None:
    emulator = QStashEmulator()

    assert emulator.token == DEV_TOKEN
    assert emulator.current_signing_key == "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
    assert emulator.next_signing_key == "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"


def test_url_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        QStashEmulator().url  # noqa: B018


def test_context_manager_serves_then_stops() -> None:
    with QStashEmulator() as emulator:
        url = emulator.url
        assert requests.get(f"{url}/v2/keys", timeout=2).status_code == 401

    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v2/keys", timeout=2)


def test_env_names_what_the_sdks_read() -> None:
    with QStashEmulator() as emulator:
        assert emulator.env() == {
            "QSTASH_URL": emulator.url,
            "QSTASH_TOKEN": DEV_TOKEN,
            "QSTASH_CURRENT_SIGNING_KEY": DEV_CURRENT_SIGNING_KEY,
            "QSTASH_NEXT_SIGNING_KEY": DEV_NEXT_SIGNING_KEY,
        }


def test_custom_token_is_enforced() -> None:
    with QStashEmulator(token="my-own-token") as emulator:
        response = requests.get(
            f"{emulator.url}/v2/keys",
            headers={"Authorization": "Bearer my-own-token"},
            timeout=2,
        )

    assert response.status_code == 200


def test_command_prints_the_variables_to_export_and_serves() -> None:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "manage.py", "qstash_emulator", "--port", "0"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(6)]
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in lines
            if line.startswith("export ")
        )
        keys = requests.get(
            f"{exports['QSTASH_URL']}/v2/keys",
            headers={"Authorization": f"Bearer {exports['QSTASH_TOKEN']}"},
            timeout=5,
        ).json()
        process.send_signal(signal.SIGTERM)
        rest = process.stdout.read()

    assert lines[0].startswith("QStash emulator running at http://127.0.0.1:")
    assert exports["QSTASH_TOKEN"] == DEV_TOKEN
    assert keys == {"current": DEV_CURRENT_SIGNING_KEY, "next": DEV_NEXT_SIGNING_KEY}
    assert "stopped" in rest
    assert process.returncode == 0
