"""The QStash client against the emulator: headers, answers and typed errors."""

from __future__ import annotations

import socket
import time

import pytest

from django_qstash_batch import __version__
from django_qstash_batch.client import QStashClient
from django_qstash_batch.exceptions import (
    QStashAPIError,
    QStashConfigurationError,
    QStashConnectionError,
    QStashProtocolError,
    QuotaExceeded,
    RateLimited,
)
from django_qstash_batch.testing import QStashEmulator
from tests.dispatch.conftest import wait_for_answers

ONE_ITEM = b'[{"destination":"https://example.com/a","body":"hi"}]'


def test_requests_carry_the_bearer_token_and_a_versioned_user_agent(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    client.batch(ONE_ITEM)

    headers = qstash.received[0].headers
    assert headers["Authorization"] == f"Bearer {qstash.token}"
    assert headers["User-Agent"].startswith(f"django-qstash-batch/{__version__} ")


def test_batch_returns_the_answer_array(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    answer = client.batch(ONE_ITEM)

    assert answer == [{"messageId": qstash.published[0].message_id}]


def test_connections_are_reused_between_requests(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    client.batch(ONE_ITEM)
    client.batch(ONE_ITEM)

    pools = client.session.get_adapter(qstash.url).poolmanager.pools
    [pool] = [pools[key] for key in pools.keys()]  # noqa: SIM118  (not iterable)
    assert (pool.num_connections, pool.num_requests) == (1, 2)


def test_an_error_status_carries_the_status_and_qstash_text(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    qstash.faults.fail_next(status=412, body={"error": "retries exceed plan"})

    with pytest.raises(QStashAPIError) as caught:
        client.batch(ONE_ITEM)

    assert caught.value.status == 412
    assert caught.value.error_text == "retries exceed plan"
    assert str(caught.value) == "QStash answered 412: retries exceed plan"


def test_a_plain_text_error_body_is_kept_as_the_error_text(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    qstash.faults.fail_next(status=502, body="upstream went away")

    with pytest.raises(QStashAPIError) as caught:
        client.batch(ONE_ITEM)

    assert caught.value.error_text == "upstream went away"
    assert caught.value.is_retryable


def test_a_daily_quota_429_raises_quota_exceeded_with_its_reset(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    reset = time.time() + 3600
    qstash.faults.rate_limit_daily(limit=500, reset_at=reset)

    with pytest.raises(QuotaExceeded) as caught:
        client.batch(ONE_ITEM)

    limit = caught.value.rate_limit
    assert limit is not None
    assert (limit.kind, limit.limit, limit.remaining) == ("daily", 500, 0)
    assert limit.reset == pytest.approx(reset, abs=1)


def test_a_burst_429_raises_rate_limited(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    qstash.faults.rate_limit_burst(limit=100, reset_in=2)

    with pytest.raises(RateLimited) as caught:
        client.batch(ONE_ITEM)

    assert not isinstance(caught.value, QuotaExceeded)
    assert caught.value.rate_limit is not None
    assert caught.value.rate_limit.kind == "burst"


def test_a_reset_in_milliseconds_is_read_as_seconds(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    reset_ms = int((time.time() + 60) * 1000)
    qstash.faults.fail_next(
        status=429, headers={"RateLimit-Limit": "10", "RateLimit-Reset": str(reset_ms)}
    )

    with pytest.raises(QuotaExceeded) as caught:
        client.batch(ONE_ITEM)

    assert caught.value.rate_limit is not None
    assert caught.value.rate_limit.reset == pytest.approx(reset_ms / 1000)


def test_a_dropped_answer_raises_a_connection_error(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    qstash.faults.drop_after_accept()

    with pytest.raises(QStashConnectionError):
        client.batch(ONE_ITEM)

    assert len(qstash.published) == 1


def test_a_slow_answer_raises_a_connection_error_after_the_read_timeout(
    qstash: QStashEmulator,
) -> None:
    qstash.faults.latency(0.5)

    with (
        QStashClient(url=qstash.url, token=qstash.token, timeout=(1, 0.2)) as client,
        pytest.raises(QStashConnectionError, match="did not answer"),
    ):
        client.batch(ONE_ITEM)
    wait_for_answers(qstash)


def test_an_unreachable_server_raises_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with (
        QStashClient(url=f"http://127.0.0.1:{port}", token="t") as client,
        pytest.raises(QStashConnectionError, match="could not be reached"),
    ):
        client.batch(ONE_ITEM)


def test_a_2xx_answer_that_is_not_json_is_a_protocol_error(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    qstash.faults.fail_next(status=200, body="<html>ok</html>")

    with pytest.raises(QStashProtocolError):
        client.batch(ONE_ITEM)


def test_a_batch_answer_that_is_not_an_array_is_a_protocol_error(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    qstash.faults.fail_next(status=200, body={"messageId": "msg_1"})

    with pytest.raises(QStashProtocolError):
        client.batch(ONE_ITEM)


def test_no_error_message_contains_the_token(qstash: QStashEmulator) -> None:
    token = "secret-token-value"
    messages = []
    with QStashClient(url=qstash.url, token=token, timeout=(1, 0.2)) as client:
        for arm in (
            lambda: qstash.faults.fail_next(status=401),
            lambda: qstash.faults.rate_limit_daily(),
            lambda: qstash.faults.latency(0.5),
        ):
            arm()
            try:
                client.batch(ONE_ITEM)
            except Exception as exc:
                messages.append(f"{exc!s} {exc!r}")
            qstash.faults.clear()
            wait_for_answers(qstash)

    assert len(messages) == 3
    assert not any(token in message for message in messages)
    assert token not in repr(client)


def test_a_client_needs_a_token() -> None:
    with pytest.raises(QStashConfigurationError):
        QStashClient(url="http://127.0.0.1:1", token="")


def test_cancel_message_says_whether_qstash_still_had_it(
    qstash: QStashEmulator, client: QStashClient
) -> None:
    delayed = (
        b'[{"destination":"https://example.com/a","headers":{"Upstash-Delay":"1h"}}]'
    )
    qstash_message_id = client.batch(delayed)[0]["messageId"]

    assert client.cancel_message(qstash_message_id) is True
    assert client.cancel_message("msg_unknown") is False
