"""Create and check the ``Upstash-Signature`` JWT that QStash puts on every delivery.

QStash signs each request it makes (deliveries and callbacks alike) with an HS256 JWT
keyed by the account's *current* signing key. The token names the URL it was sent to
(``sub``) and carries a SHA-256 hash of the raw body (``body``), so a receiver can tell
that the request came from QStash, was meant for it, and was not altered on the way.

``verify`` is what the app's callback view uses; ``sign`` exists so the bundled
emulator can produce tokens that real receivers (the official SDKs included) accept.
Keys never appear in an exception message.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

import jwt

ISSUER = "Upstash"

#: Seconds a token stays valid after it is issued (QStash's default).
TOKEN_LIFETIME = 300

_REQUIRED_CLAIMS = ["iss", "sub", "exp", "nbf", "body"]


class SignatureError(ValueError):
    """The signature is missing, malformed, expired, or does not match the request."""


class _KeyMismatch(SignatureError):
    """The token was not signed with the key tried."""


def body_hash(body: bytes) -> str:
    """Return the unpadded URL-safe base64 SHA-256 digest of ``body``."""
    digest = hashlib.sha256(body).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def sign(body: bytes, url: str, key: str, *, now: int | None = None) -> str:
    """Return an ``Upstash-Signature`` token for sending ``body`` to ``url``.

    ``now`` (unix seconds) pins the issue time, which tests use to make expired or
    not-yet-valid tokens.
    """
    issued_at = int(time.time()) if now is None else now
    claims = {
        "iss": ISSUER,
        "sub": url,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + TOKEN_LIFETIME,
        "jti": f"jwt_{secrets.token_hex(12)}",
        "body": body_hash(body),
    }
    return jwt.encode(
        claims, key.encode("utf-8"), algorithm="HS256", headers={"typ": "JWT"}
    )


def _decode(signature: str, key: str, clock_tolerance: int) -> dict[str, Any]:
    """Check the token's signature, issuer and time claims against one key."""
    try:
        claims: dict[str, Any] = jwt.decode(
            signature,
            key.encode("utf-8"),
            algorithms=["HS256"],
            issuer=ISSUER,
            leeway=clock_tolerance,
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise SignatureError("signature has expired") from None
    except jwt.ImmatureSignatureError:
        raise SignatureError("signature is not valid yet") from None
    except jwt.InvalidIssuerError:
        raise SignatureError("signature has the wrong issuer") from None
    except jwt.InvalidAudienceError:
        raise SignatureError("signature has an unexpected audience") from None
    except jwt.MissingRequiredClaimError as error:
        raise SignatureError(f"signature lacks the {error.claim!r} claim") from None
    except jwt.InvalidSignatureError:
        raise _KeyMismatch("signature does not match the signing key") from None
    except jwt.PyJWTError:
        raise SignatureError("signature is not a valid token") from None
    return claims


def _check_request(claims: dict[str, Any], body: bytes, url: str | None) -> None:
    """Check that a decoded token was made for this URL and this exact body."""
    if url is not None and claims["sub"] != url:
        raise SignatureError("signature was made for another URL")

    if str(claims["body"]).rstrip("=") != body_hash(body):
        raise SignatureError("signature does not match the request body")


def verify(
    signature: str,
    body: bytes,
    *,
    url: str | None,
    current_key: str,
    next_key: str | None,
    clock_tolerance: int = 0,
) -> dict[str, Any]:
    """Verify ``signature`` for ``body`` received at ``url`` and return its claims.

    The current key is tried first, then the next key, so requests signed just after
    a key rotation still pass. ``url=None`` skips the subject check (for receivers
    behind proxies that rewrite the URL). ``clock_tolerance`` is the leeway in seconds
    for ``exp`` and ``nbf``. Raises ``SignatureError`` when no key accepts the token.
    """
    if not signature:
        raise SignatureError("signature is missing")

    keys = [current_key] if not next_key else [current_key, next_key]
    errors: list[SignatureError] = []
    for key in keys:
        if not key:
            continue
        try:
            claims = _decode(signature, key, clock_tolerance)
            _check_request(claims, body, url)
        except SignatureError as error:
            errors.append(error)
            continue
        return claims

    # A key that matched the signature explains the failure better than one that
    # did not, so its error is the one reported.
    for problem in errors:
        if not isinstance(problem, _KeyMismatch):
            raise problem
    raise errors[0] if errors else SignatureError("no signing key is configured")
