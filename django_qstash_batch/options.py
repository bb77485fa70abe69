"""Turn a message as a user writes it into the values of a :class:`Message` row.

Users describe messages with the option names of the official ``qstash`` Python SDK
(``url`` or ``url_group``, ``body``, ``delay``, ``flow_control``...). This module checks
each option with :mod:`django_qstash_batch.validation` and maps it onto model fields,
so ``send_batch``, the API and the triggers accept exactly the same input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _

from django_qstash_batch import validation

JSON_CONTENT_TYPE = "application/json"

#: One encoder for every body: building one per call costs more than small bodies.
_json_encoder = DjangoJSONEncoder(separators=(",", ":"))

#: Options that are copied after one validation call, keyed by option name.
SIMPLE_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "url": validation.validate_http_url,
    "queue": validation.validate_name,
    "content_type": validation.validate_content_type,
    "method": validation.validate_method,
    "headers": validation.validate_headers,
    "delay": validation.validate_delay,
    "not_before": validation.validate_not_before,
    "retries": validation.validate_retries,
    "retry_delay": validation.validate_retry_delay,
    "timeout": validation.validate_timeout,
    "callback": validation.validate_http_url,
    "failure_callback": validation.validate_http_url,
    "deduplication_id": validation.validate_single_line,
    "label": validation.validate_single_line,
}

#: Every option a message may carry; anything else is reported as a likely typo.
KNOWN_OPTIONS = frozenset(
    {*SIMPLE_OPTIONS, "topic", "url_group", "body", "content_based_deduplication"}
    | {"flow_control"}
)


def encode_body(body: Any) -> tuple[str, bool]:
    """The body as the text ``/v2/batch`` carries, and whether it was encoded as JSON.

    ``str`` is kept as it is and UTF-8 ``bytes`` are decoded: QStash's batch endpoint
    has no field for binary bodies. Any other value is serialised as JSON with Django's
    encoder, so dates, decimals and UUIDs work.
    """
    if body is None:
        return "", False
    if isinstance(body, str):
        return body, False
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            return bytes(body).decode("utf-8"), False
        except UnicodeDecodeError:
            raise ValidationError(
                _(
                    "Bytes must be UTF-8 text: QStash's batch endpoint carries bodies "
                    "as strings."
                ),
                code="binary_body",
            ) from None
    try:
        return _json_encoder.encode(body), True
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            _("The body is not str, bytes or JSON-serialisable: %(reason)s"),
            code="invalid_body",
            params={"reason": exc},
        ) from None


def body_size(text: str) -> int:
    """Size in bytes of ``text`` once UTF-8 encoded, without encoding ASCII."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def message_fields(
    options: Mapping[str, Any],
    *,
    topic_ids: Mapping[str, int],
    max_body_bytes: int,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Model field values for one message, and the errors found, keyed by option.

    ``topic_ids`` maps the names of the topics this batch uses to their primary keys;
    an unknown name is an error. Every problem is collected, not just the first, so a
    user can fix a message in one go.
    """
    fields: dict[str, Any] = {}
    errors: dict[str, str] = {}

    if not isinstance(options, Mapping):
        return fields, {"": _("Each message must be a dict of options.")}

    for name in options.keys() - KNOWN_OPTIONS:
        errors[name] = _("Unknown option; known options are %(names)s.") % {
            "names": ", ".join(sorted(KNOWN_OPTIONS))
        }

    for name, value in options.items():
        validate = SIMPLE_OPTIONS.get(name)
        if validate is None or value is None:
            continue
        try:
            fields[name] = validate(value)
        except ValidationError as exc:
            errors[name] = " ".join(exc.messages)

    _destination(options, topic_ids, fields, errors)
    _body(options, max_body_bytes, fields, errors)
    _deduplication(options, fields, errors)

    if options.get("flow_control") is not None:
        try:
            key, value = validation.validate_flow_control(options["flow_control"])
        except ValidationError as exc:
            errors["flow_control"] = " ".join(exc.messages)
        else:
            fields["flow_control_key"] = key
            fields["flow_control_value"] = value

    return fields, errors


def topic_name(options: Mapping[str, Any]) -> str | None:
    """The topic a message names through ``topic`` or ``url_group``, if any."""
    if not isinstance(options, Mapping):
        return None
    value = options.get("topic") or options.get("url_group")
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else getattr(value, "name", None)


def _destination(
    options: Mapping[str, Any],
    topic_ids: Mapping[str, int],
    fields: dict[str, Any],
    errors: dict[str, str],
) -> None:
    has_url = options.get("url") not in (None, "")
    has_topic = options.get("topic") not in (None, "")
    has_url_group = options.get("url_group") not in (None, "")

    if has_topic and has_url_group:
        errors["url_group"] = _("Give topic or url_group, not both.")
        return
    if has_url and (has_topic or has_url_group):
        errors["url"] = _("Give exactly one destination: url, or topic/url_group.")
        return
    if not (has_url or has_topic or has_url_group):
        errors["url"] = _("A destination is required: url, or topic/url_group.")
        return
    if has_url:
        return

    key = "topic" if has_topic else "url_group"
    name = topic_name(options)
    if not isinstance(name, str):
        errors[key] = _("Give a topic name or a saved Topic.")
        return
    topic_id = topic_ids.get(name)
    if topic_id is None:
        errors[key] = _("No topic named %(name)r exists; create it first.") % {
            "name": name
        }
        return
    fields["topic_id"] = topic_id
    fields["url"] = ""


def _body(
    options: Mapping[str, Any],
    max_body_bytes: int,
    fields: dict[str, Any],
    errors: dict[str, str],
) -> None:
    try:
        text, is_json = encode_body(options.get("body"))
    except ValidationError as exc:
        errors["body"] = " ".join(exc.messages)
        return

    size = body_size(text)
    if size > max_body_bytes:
        errors["body"] = _(
            "The body is %(size)d bytes, over MAX_MESSAGE_BYTES (%(limit)d)."
        ) % {"size": size, "limit": max_body_bytes}
        return

    fields["body"] = text
    if is_json and not fields.get("content_type"):
        fields["content_type"] = JSON_CONTENT_TYPE

    headers = fields.get("headers")
    if headers:
        content_type = next(
            (name for name in headers if name.lower() == "content-type"), None
        )
        if content_type is not None:
            if fields.get("content_type"):
                errors["headers"] = _(
                    "Content-Type is given twice; use the content_type option."
                )
            else:
                value = headers.pop(content_type)
                try:
                    fields["content_type"] = validation.validate_content_type(value)
                except ValidationError as exc:
                    errors["headers"] = " ".join(exc.messages)


def _deduplication(
    options: Mapping[str, Any], fields: dict[str, Any], errors: dict[str, str]
) -> None:
    content_based = options.get("content_based_deduplication")
    if content_based is None:
        return
    if not isinstance(content_based, bool):
        errors["content_based_deduplication"] = _("Use True or False.")
        return
    if content_based and fields.get("deduplication_id"):
        errors["content_based_deduplication"] = _(
            "Use a deduplication id or content-based deduplication, not both."
        )
        return
    fields["content_based_deduplication"] = content_based
