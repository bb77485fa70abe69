"""``django_qstash_batch.signing``: tokens QStash receivers accept, and their checks."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from qstash import Receiver

from django_qstash_batch.signing import SignatureError, body_hash, sign, verify
from django_qstash_batch.testing import DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY

URL = "https://app.example.com/qstash/callback/"
BODY = b'{"order": 42}'
OTHER_KEY = "sig_3xAmPLEkEyTHATisTHIRTYTWObyt"


def check(signature: str, body: bytes = BODY, **kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "url": URL,
        "current_key": DEV_CURRENT_SIGNING_KEY,
        "next_key": DEV_NEXT_SIGNING_KEY,
    }
    options.update(kwargs)
    return verify(signature, body, **options)


def test_token_made_with_current_key_verifies() -> None:
    claims = check(sign(BODY, URL, DEV_CURRENT_SIGNING_KEY))

    assert claims["sub"] == URL


def test_token_made_with_next_key_verifies() -> None:
    claims = check(sign(BODY, URL, DEV_NEXT_SIGNING_KEY))

    assert claims["iss"] == "Upstash"


def test_token_carries_documented_claims() -> None:
    token = sign(BODY, URL, DEV_CURRENT_SIGNING_KEY, now=1_700_000_000)

    claims = jwt.decode(token, options={"verify_signature": False})
    header = jwt.get_unverified_header(token)

    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims["iat"] == claims["nbf"] == 1_700_000_000
    assert claims["exp"] == 1_700_000_300
    assert claims["jti"].startswith("jwt_")
    assert claims["body"] == body_hash(BODY)
    assert "aud" not in claims


def test_each_token_gets_its_own_id() -> None:
    first = jwt.decode(
        sign(BODY, URL, DEV_CURRENT_SIGNING_KEY), options={"verify_signature": False}
    )
    second = jwt.decode(
        sign(BODY, URL, DEV_CURRENT_SIGNING_KEY), options={"verify_signature": False}
    )

    assert first["jti"] != second["jti"]


def test_unknown_key_is_rejected() -> None:
    with pytest.raises(SignatureError, match="signing key"):
        check(sign(BODY, URL, OTHER_KEY))


def test_other_url_is_rejected() -> None:
    with pytest.raises(SignatureError, match="another URL"):
        check(sign(BODY, "https://evil.example.com/", DEV_CURRENT_SIGNING_KEY))


def test_url_none_skips_the_subject_check() -> None:
    token = sign(BODY, "https://proxy.internal/hook", DEV_CURRENT_SIGNING_KEY)

    assert check(token, url=None)["sub"] == "https://proxy.internal/hook"


def test_changed_body_is_rejected() -> None:
    with pytest.raises(SignatureError, match="body"):
        check(sign(BODY, URL, DEV_CURRENT_SIGNING_KEY), body=b'{"order":42}')


def test_padded_body_hash_is_accepted() -> None:
    claims = {
        "iss": "Upstash",
        "sub": URL,
        "iat": int(time.time()),
        "nbf": int(time.time()),
        "exp": int(time.time()) + 300,
        "body": body_hash(BODY) + "=",
    }
    token = jwt.encode(claims, DEV_CURRENT_SIGNING_KEY, algorithm="HS256")

    assert check(token)["body"].endswith("=")


def test_expired_token_is_rejected() -> None:
    token = sign(BODY, URL, DEV_CURRENT_SIGNING_KEY, now=int(time.time()) - 310)

    with pytest.raises(SignatureError, match="expired"):
        check(token)


def test_clock_tolerance_accepts_a_recently_expired_token() -> None:
    token = sign(BODY, URL, DEV_CURRENT_SIGNING_KEY, now=int(time.time()) - 310)

    assert check(token, clock_tolerance=30)["sub"] == URL


def test_token_from_the_future_is_rejected() -> None:
    token = sign(BODY, URL, DEV_CURRENT_SIGNING_KEY, now=int(time.time()) + 60)

    with pytest.raises(SignatureError, match="not valid yet"):
        check(token)


def test_audience_claim_is_rejected() -> None:
    claims = jwt.decode(
        sign(BODY, URL, DEV_CURRENT_SIGNING_KEY), options={"verify_signature": False}
    )
    token = jwt.encode({**claims, "aud": "someone"}, DEV_CURRENT_SIGNING_KEY, "HS256")

    with pytest.raises(SignatureError, match="audience"):
        check(token)


def test_missing_body_claim_is_rejected() -> None:
    claims = jwt.decode(
        sign(BODY, URL, DEV_CURRENT_SIGNING_KEY), options={"verify_signature": False}
    )
    del claims["body"]
    token = jwt.encode(claims, DEV_CURRENT_SIGNING_KEY, "HS256")

    with pytest.raises(SignatureError, match="'body'"):
        check(token)


def test_garbage_is_rejected() -> None:
    with pytest.raises(SignatureError, match="not a valid token"):
        check("not-a-jwt")


def test_empty_signature_is_rejected() -> None:
    with pytest.raises(SignatureError, match="missing"):
        check("")


def test_without_next_key_only_current_key_is_tried() -> None:
    with pytest.raises(SignatureError):
        check(sign(BODY, URL, DEV_NEXT_SIGNING_KEY), next_key=None)


def test_error_messages_never_contain_a_key() -> None:
    with pytest.raises(SignatureError) as raised:
        check(sign(BODY, URL, OTHER_KEY))

    message = str(raised.value)
    assert DEV_CURRENT_SIGNING_KEY not in message
    assert DEV_NEXT_SIGNING_KEY not in message
    assert OTHER_KEY not in message


def test_signature_error_is_a_value_error() -> None:
    assert issubclass(SignatureError, ValueError)


def test_official_receiver_accepts_our_token() -> None:
    receiver = Receiver(DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY)

    receiver.verify(
        signature=sign(BODY, URL, DEV_CURRENT_SIGNING_KEY), body=BODY.decode(), url=URL
    )
