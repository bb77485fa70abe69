"""A small QStash HTTP client on one pooled ``requests.Session``.

The client speaks only the endpoints the app needs and turns every failure into the
app's typed errors (:mod:`django_qstash_batch.exceptions`): an error status becomes a
:class:`QStashAPIError` carrying the status, QStash's error text and the parsed
rate-limit headers; a refused, dropped or timed-out connection becomes a
:class:`QStashConnectionError`. The bearer token lives only in the session's headers:
no message, log line or exception built here contains it.
"""

from __future__ import annotations

import json
import logging
import os
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from django_qstash_batch import __version__
from django_qstash_batch.conf import conf
from django_qstash_batch.exceptions import (
    QStashAPIError,
    QStashConfigurationError,
    QStashConnectionError,
    QStashProtocolError,
    QuotaExceeded,
    RateLimited,
    RateLimitInfo,
)

logger = logging.getLogger(__name__)

USER_AGENT = f"django-qstash-batch/{__version__} python-requests/{requests.__version__}"

JSON_HEADERS = {"Content-Type": "application/json"}

#: QStash's error text is kept on errors and rows; longer answers are cut to this.
MAX_ERROR_TEXT = 1000

#: Reset values above this are unix milliseconds (this is the year 5138 in seconds).
MILLISECONDS_THRESHOLD = 1e11

#: Connections kept open per host; workers send one request at a time, so a few do.
POOL_SIZE = 4


class QStashClient:
    """Talks to one QStash server with one token, reusing its connections.

    Use it as a context manager, or call :meth:`close`, so the pooled connections are
    released when the work is done.
    """

    def __init__(
        self,
        *,
        url: str,
        token: str,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        if not token:
            raise QStashConfigurationError(
                "No QStash token is configured: set QSTASH_BATCH['TOKEN'] or the "
                "QSTASH_TOKEN environment variable."
            )
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.host = urlsplit(self.url).netloc

        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update(
            {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
        )
        settle_environment(self.session, self.url)

    @classmethod
    def from_settings(cls) -> QStashClient:
        """A client for the server, token and timeouts in ``QSTASH_BATCH``."""
        return cls(url=conf.URL, token=conf.TOKEN or "", timeout=conf.TIMEOUT)

    def __repr__(self) -> str:
        return f"<QStashClient {self.url}>"

    def __enter__(self) -> QStashClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the pooled connections."""
        self.session.close()

    def batch(self, body: bytes) -> list[Any]:
        """``POST /v2/batch`` with an already-encoded JSON array; the answer's array.

        The caller encodes the request once, so it can size chunks by their bytes and
        resend the same bytes after a failure.
        """
        answer = self.request("POST", "/v2/batch", data=body, headers=JSON_HEADERS)
        if not isinstance(answer, list):
            raise QStashProtocolError(
                "QStash answered the batch with something other than a JSON array.",
                detail=type(answer).__name__,
            )
        return answer

    def cancel_message(self, qstash_message_id: str) -> bool:
        """``DELETE /v2/messages/{id}``: True if cancelled, False if QStash has no such
        pending message any more (it was delivered, failed or cancelled already)."""
        try:
            self.request("DELETE", f"/v2/messages/{quote(qstash_message_id, safe='')}")
        except QStashAPIError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one request; the decoded JSON answer, or ``None`` for an empty body."""
        try:
            response = self.session.request(
                method,
                self.url + path,
                data=data,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            raise QStashConnectionError(
                f"QStash at {self.host} did not answer {method} {path} in time "
                f"({type(exc).__name__})."
            ) from None
        except requests.RequestException as exc:
            raise QStashConnectionError(
                f"QStash at {self.host} could not be reached for {method} {path} "
                f"({type(exc).__name__})."
            ) from None

        if response.status_code >= 400:
            raise error_from_response(response)
        if not response.content:
            return None
        try:
            return json.loads(response.content)
        except ValueError:
            raise QStashProtocolError(
                f"QStash answered {method} {path} with a body that is not JSON.",
                detail=response.status_code,
            ) from None


def settle_environment(session: requests.Session, url: str) -> None:
    """Read the proxy and CA bundle settings of the environment once, not per request.

    By default ``requests`` looks up proxy variables, ``.netrc`` and CA bundle
    variables on every request, which costs about 0.3 ms each time. The client talks
    to one server, so the proxies for its URL (``HTTPS_PROXY``, ``NO_PROXY``...) and
    the CA bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) are resolved here and
    kept on the session. ``.netrc`` is no longer read: it could only replace the
    bearer token with other credentials.
    """
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


def error_from_response(response: requests.Response) -> QStashAPIError:
    """The typed error for an error answer: status, QStash's text, rate limits."""
    status = response.status_code
    text = error_text(response)
    rate_limit = parse_rate_limit(response.headers)

    if status == 429 and rate_limit is not None and rate_limit.kind == "daily":
        error: QStashAPIError = QuotaExceeded(status, text, rate_limit=rate_limit)
    elif status == 429:
        error = RateLimited(status, text, rate_limit=rate_limit)
    else:
        error = QStashAPIError(status, text, rate_limit=rate_limit)

    logger.debug("QStash answered %s: %s", status, text)
    return error


def error_text(response: requests.Response) -> str:
    """QStash's own error text: the ``error`` of a JSON body, else the raw text."""
    try:
        payload = json.loads(response.content)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        text = payload["error"]
    else:
        text = response.content.decode("utf-8", errors="replace").strip()
    text = text or response.reason or f"HTTP {response.status_code}"
    return text[:MAX_ERROR_TEXT]


def parse_rate_limit(headers: Any) -> RateLimitInfo | None:
    """Read ``RateLimit-*`` (daily quota) or ``Burst-RateLimit-*`` headers.

    QStash tells the two 429s apart by which family is present; the official SDKs
    decide on ``RateLimit-Limit`` alone, and so does this.
    """
    for prefix, kind in (("RateLimit-", "daily"), ("Burst-RateLimit-", "burst")):
        if headers.get(f"{prefix}Limit") is None:
            continue
        return RateLimitInfo(
            kind=kind,
            limit=_as_int(headers.get(f"{prefix}Limit")),
            remaining=_as_int(headers.get(f"{prefix}Remaining")),
            reset=_as_reset(headers.get(f"{prefix}Reset")),
        )
    return None


def _as_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _as_reset(value: str | None) -> float | None:
    """A reset time in unix seconds; milliseconds are recognised by their size."""
    try:
        reset = float(value) if value is not None else None
    except ValueError:
        return None
    if reset is not None and reset > MILLISECONDS_THRESHOLD:
        reset /= 1000
    return reset
