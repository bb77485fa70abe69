"""Validation of everything a user can put into a message, in one place.

Model fields (and so the admin and the API) and :func:`send_batch` share these
functions, so one value is judged the same way wherever it enters. Every function takes
the raw value and returns it normalised for storage, or raises ``ValidationError`` with
a message that names what is wrong; the caller names the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

#: QStash URL group and queue names: letters, digits, ``-``, ``_`` and ``.``.
NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
NAME_MAX_LENGTH = 200

#: An RFC 9110 ``token``: the characters a header name may use.
HEADER_NAME_PATTERN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

#: A media type such as ``application/json; charset=utf-8``.
CONTENT_TYPE_PATTERN = re.compile(
    r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;[^\r\n]*)?"
)

#: ``<n><unit>`` parts of a QStash duration, as in ``1d10h30m`` or ``45s``.
DURATION_PATTERN = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")

#: Words a ``Upstash-Retry-Delay`` expression may use, besides numbers and operators.
RETRY_DELAY_WORDS = frozenset(
    {"retried", "pow", "exp", "sqrt", "abs", "floor", "ceil", "round", "min", "max"}
)
RETRY_DELAY_TOKEN = re.compile(r"\s*(?:([A-Za-z_]+)|(\d+(?:\.\d+)?)|([-+*/%(),^]))")

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

#: The longest delay QStash accepts on any plan (one year), in seconds.
MAX_DELAY_SECONDS = 365 * 24 * 3600
MAX_RETRIES = 1000
MAX_TEXT_LENGTH = 255

_url_validator = URLValidator(schemes=["http", "https"])


def validate_name(value: Any) -> str:
    """A URL group or queue name."""
    if not isinstance(value, str) or not value:
        raise ValidationError(_("Enter a name."), code="required")
    if len(value) > NAME_MAX_LENGTH:
        raise ValidationError(
            _("Use at most %(limit)d characters."),
            code="max_length",
            params={"limit": NAME_MAX_LENGTH},
        )
    if not NAME_PATTERN.fullmatch(value):
        raise ValidationError(
            _("Use only letters, digits, '-', '_' and '.' (got %(value)r)."),
            code="invalid_name",
            params={"value": value},
        )
    return value


def validate_http_url(value: Any) -> str:
    """An absolute ``http://`` or ``https://`` URL."""
    if not isinstance(value, str) or not value:
        raise ValidationError(_("Enter a URL."), code="required")
    if not _is_http_url(value):
        raise ValidationError(
            _("Enter an absolute http:// or https:// URL (got %(value)r)."),
            code="invalid_url",
            params={"value": value},
        )
    return value


@lru_cache(maxsize=1024)
def _is_http_url(value: str) -> bool:
    """Django's URL check, remembered: a batch usually repeats a few URLs."""
    try:
        _url_validator(value)
    except ValidationError:
        return False
    return True


def validate_single_line(value: Any, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """A short string that can travel in an HTTP header: no CR, LF or NUL."""
    if not isinstance(value, str):
        raise ValidationError(_("Enter text."), code="invalid_type")
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValidationError(
            _("Line breaks and NUL characters are not allowed."), code="line_break"
        )
    if len(value) > max_length:
        raise ValidationError(
            _("Use at most %(limit)d characters."),
            code="max_length",
            params={"limit": max_length},
        )
    return value


def validate_header_name(value: Any) -> str:
    """A header name as RFC 9110 defines a token."""
    if not isinstance(value, str) or not HEADER_NAME_PATTERN.fullmatch(value):
        raise ValidationError(
            _("%(value)r is not a valid header name."),
            code="invalid_header_name",
            params={"value": value},
        )
    return value


@lru_cache(maxsize=1024)
def _is_forwardable_name(name: str) -> bool:
    """Whether ``name`` is a header name that may be forwarded.

    Cached: the messages of a batch repeat the same few names, and the token pattern
    would otherwise run for every header of every message.
    """
    return bool(HEADER_NAME_PATTERN.fullmatch(name)) and not name.lower().startswith(
        "upstash-"
    )


def _check_forwardable_name(name: Any) -> None:
    """Raise the error that says why ``name`` cannot be forwarded."""
    validate_header_name(name)
    raise ValidationError(
        _("%(name)s: Upstash-* headers are set from the message's options."),
        code="reserved_header",
        params={"name": name},
    )


def validate_headers(value: Any) -> dict[str, str]:
    """Headers to forward to the destination: a mapping of names to strings.

    ``Upstash-*`` names are refused, because QStash would read them as options: the
    message's own fields set those.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(
            _("Headers must be a mapping of names to values."), code="invalid_type"
        )

    headers: dict[str, str] = {}
    for name, header_value in value.items():
        if not (isinstance(name, str) and _is_forwardable_name(name)):
            _check_forwardable_name(name)
        if not isinstance(header_value, str):
            raise ValidationError(
                _("%(name)s: header values must be strings."),
                code="invalid_header_value",
                params={"name": name},
            )
        if "\r" in header_value or "\n" in header_value or "\x00" in header_value:
            raise ValidationError(
                _("%(name)s: header values cannot contain line breaks."),
                code="invalid_header_value",
                params={"name": name},
            )
        headers[name] = header_value
    return headers


def validate_content_type(value: Any) -> str:
    """A media type, or an empty string for none."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not CONTENT_TYPE_PATTERN.fullmatch(value):
        raise ValidationError(
            _("%(value)r is not a media type such as 'application/json'."),
            code="invalid_content_type",
            params={"value": value},
        )
    return value


def validate_method(value: Any) -> str:
    """One of the HTTP methods QStash delivers with; upper-cased."""
    if value is None or value == "":
        return "POST"
    method = value.upper() if isinstance(value, str) else value
    if method not in HTTP_METHODS:
        raise ValidationError(
            _("Use one of %(choices)s (got %(value)r)."),
            code="invalid_method",
            params={"choices": ", ".join(HTTP_METHODS), "value": value},
        )
    return str(method)


def parse_duration(value: Any) -> int:
    """Seconds from an int, a ``timedelta`` or a QStash duration such as ``1h30m``."""
    if isinstance(value, bool):
        raise ValidationError(_("Enter a duration, not a boolean."), code="invalid")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, timedelta):
        if value % timedelta(seconds=1):
            raise ValidationError(
                _("Use whole seconds; QStash has no finer unit."), code="invalid"
            )
        seconds = int(value.total_seconds())
    elif isinstance(value, str):
        text = value.strip()
        match = DURATION_PATTERN.fullmatch(text)
        if text.isdigit():
            seconds = int(text)
        elif text and match:
            days, hours, minutes, secs = (int(part or 0) for part in match.groups())
            seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
        else:
            raise ValidationError(
                _("%(value)r is not a duration such as '30s', '10m' or '1d10h30m'."),
                code="invalid_duration",
                params={"value": value},
            )
    else:
        raise ValidationError(
            _("Enter a duration as seconds, a timedelta or text such as '10m'."),
            code="invalid_type",
        )

    if seconds < 0:
        raise ValidationError(_("A duration cannot be negative."), code="negative")
    return seconds


def validate_delay(value: Any) -> int | None:
    """How long QStash waits before the first delivery, in seconds."""
    if value is None:
        return None
    seconds = parse_duration(value)
    if seconds > MAX_DELAY_SECONDS:
        raise ValidationError(
            _("QStash delays at most one year (%(limit)d seconds)."),
            code="too_long",
            params={"limit": MAX_DELAY_SECONDS},
        )
    return seconds


def validate_timeout(value: Any) -> int | None:
    """How long QStash waits for the destination to answer, in seconds."""
    if value is None:
        return None
    seconds = parse_duration(value)
    if seconds == 0:
        raise ValidationError(_("A timeout must be at least one second."), code="zero")
    return seconds


def validate_not_before(value: Any) -> datetime | None:
    """The earliest delivery time: an aware ``datetime`` or unix seconds.

    A naive datetime is read in the project's current time zone, as Django does for
    form input.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError(_("Enter a date and time."), code="invalid_type")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValidationError(_("Enter a time after 1970."), code="negative")
        return datetime.fromtimestamp(int(value), tz=dt_timezone.utc)
    if isinstance(value, datetime):
        if timezone.is_naive(value):
            return timezone.make_aware(value)
        return value
    raise ValidationError(
        _("Enter an aware datetime or unix seconds."), code="invalid_type"
    )


def validate_retries(value: Any) -> int | None:
    """How many times QStash retries a failed delivery."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(_("Enter a whole number."), code="invalid_type")
    if not 0 <= value <= MAX_RETRIES:
        raise ValidationError(
            _("Enter a number from 0 to %(limit)d."),
            code="out_of_range",
            params={"limit": MAX_RETRIES},
        )
    return value


def validate_retry_delay(value: Any) -> str:
    """A ``Upstash-Retry-Delay`` expression in milliseconds, e.g. ``1000 * retried``.

    Only numbers, arithmetic and QStash's documented words are accepted, so a typo is
    caught here rather than by QStash after the batch was sent.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValidationError(_("A delay cannot be negative."), code="negative")
        return str(value)
    if not isinstance(value, str):
        raise ValidationError(
            _("Enter milliseconds or an expression such as 'pow(2, retried) * 1000'."),
            code="invalid_type",
        )
    validate_single_line(value)

    position = 0
    text = value.rstrip()
    while position < len(text):
        match = RETRY_DELAY_TOKEN.match(text, position)
        if not match:
            raise ValidationError(
                _("Unexpected character at %(position)d in %(value)r."),
                code="invalid_expression",
                params={"position": position, "value": value},
            )
        word = match.group(1)
        if word and word not in RETRY_DELAY_WORDS:
            raise ValidationError(
                _(
                    "Unknown word %(word)r; use retried, pow, exp, sqrt, abs, floor, "
                    "ceil, round, min or max."
                ),
                code="invalid_expression",
                params={"word": word},
            )
        position = match.end()
    return value


def validate_flow_control(value: Any) -> tuple[str, str]:
    """``(key, value)`` for the ``Upstash-Flow-Control-*`` headers.

    Accepts a mapping or an object (such as the official SDK's ``FlowControl``) with
    ``key`` and at least one of ``parallelism``, ``rate`` and ``period``.
    """
    if value is None:
        return "", ""

    def part(name: str) -> Any:
        if isinstance(value, Mapping):
            return value.get(name)
        return getattr(value, name, None)

    if isinstance(value, Mapping):
        unknown = set(value) - {"key", "parallelism", "rate", "period"}
        if unknown:
            raise ValidationError(
                _("Unknown flow-control option(s): %(names)s."),
                code="unknown_option",
                params={"names": ", ".join(sorted(unknown))},
            )

    key = part("key")
    if not key:
        raise ValidationError(_("A flow-control key is required."), code="required")
    validate_single_line(key)

    settings: list[str] = []
    for name in ("parallelism", "rate"):
        number = part(name)
        if number is None:
            continue
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValidationError(
                _("%(name)s must be a whole number of at least 1."),
                code="invalid",
                params={"name": name},
            )
        settings.append(f"{name}={number}")

    period = part("period")
    if period is not None:
        seconds = parse_duration(period)
        if seconds < 1:
            raise ValidationError(
                _("period must be at least one second."), code="invalid"
            )
        settings.append(f"period={seconds}s")

    if not settings:
        raise ValidationError(
            _("Give at least one of parallelism, rate and period."), code="required"
        )
    return key, ", ".join(settings)


FLOW_CONTROL_VALUE_PATTERN = re.compile(
    r"(?:parallelism|rate|period)=\d+[smhd]?(?:\s*,\s*(?:parallelism|rate|period)=\d+[smhd]?)*"
)


def validate_flow_control_value(value: Any) -> str:
    """A stored ``Upstash-Flow-Control-Value`` such as ``parallelism=2, rate=10``."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or not FLOW_CONTROL_VALUE_PATTERN.fullmatch(value):
        raise ValidationError(
            _("Write it as 'parallelism=2, rate=10, period=60s' (any of the three)."),
            code="invalid_flow_control",
        )
    return value
