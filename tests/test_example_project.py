"""The example project's receiver view: signed deliveries in, unsigned ones out."""

from __future__ import annotations

from django.test import Client

from django_qstash_batch.conf import conf
from django_qstash_batch.signing import sign

HOOK_URL = "http://testserver/hooks/orders/"


def deliver(client: Client, body: bytes, signature: str | None) -> int:
    """POST ``body`` to the orders hook as QStash would; the answer's status."""
    headers = {"Upstash-Signature": signature} if signature is not None else {}
    response = client.post(
        "/hooks/orders/", body, content_type="application/json", headers=headers
    )
    return response.status_code


def test_a_delivery_signed_with_the_current_key_is_accepted(client: Client) -> None:
    body = b'{"order": 7}'

    status = deliver(client, body, sign(body, HOOK_URL, conf.CURRENT_SIGNING_KEY or ""))

    assert status == 200


def test_a_delivery_signed_with_the_next_key_is_accepted(client: Client) -> None:
    status = deliver(client, b"x", sign(b"x", HOOK_URL, conf.NEXT_SIGNING_KEY or ""))

    assert status == 200


def test_a_changed_body_is_refused(client: Client) -> None:
    signature = sign(b"original", HOOK_URL, conf.CURRENT_SIGNING_KEY or "")

    assert deliver(client, b"tampered", signature) == 401


def test_a_signature_for_another_url_is_refused(client: Client) -> None:
    signature = sign(
        b"x", "http://testserver/hooks/other/", conf.CURRENT_SIGNING_KEY or ""
    )

    assert deliver(client, b"x", signature) == 401


def test_an_unsigned_delivery_is_refused(client: Client) -> None:
    assert deliver(client, b"x", None) == 401
