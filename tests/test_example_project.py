"""The example project's receiver view: signed deliveries in, unsigned ones out."""

from __future__ import annotations

from django.test import Client

from django_qstash_batch.conf import conf
from django_qstash_batch.signing import sign

HOOK_URL = "http://testserver/hooks/orders/"


def test_a_delivery_signed_with_the_current_key_is_accepted(client: Client) -> None:
    body = b'{"order": 7}'
    signature = sign(body, HOOK_URL, conf.CURRENT_SIGNING_KEY or "")

    response = client.post(
        "/hooks/orders/",
        body,
        content_type="application/json",
        headers={"Upstash-Signature": signature},
    )

    assert response.status_code == 200


def test_a_delivery_signed_with_the_next_key_is_accepted(client: Client) -> None:
    signature = sign(b"x", HOOK_URL, conf.NEXT_SIGNING_KEY or "")

    response = client.post(
        "/hooks/orders/",
        b"x",
        content_type="text/plain",
        headers={"Upstash-Signature": signature},
    )

    assert response.status_code == 200


def test_a_changed_body_is_refused(client: Client) -> None:
    signature = sign(b"original", HOOK_URL, conf.CURRENT_SIGNING_KEY or "")

    response = client.post(
        "/hooks/orders/",
        b"tampered",
        content_type="text/plain",
        headers={"Upstash-Signature": signature},
    )

    assert response.status_code == 401


def test_an_unsigned_delivery_is_refused(client: Client) -> None:
    assert (
        client.post("/hooks/orders/", b"x", content_type="text/plain").status_code
        == 401
    )
