"""The JSON shapes the emulator answers with: messages, logs, DLQ entries, groups.

Field names follow QStash's API reference; the fields the official Python SDK
requires are always present, optional ones are left out rather than sent as null.
Times are unix milliseconds.
"""

from __future__ import annotations

import base64
from typing import Any

from .state import DeadLetter, Event, Group, Message


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is ``None``."""
    return {key: value for key, value in data.items() if value is not None}


def _header_lists(message: Message) -> dict[str, list[str]]:
    """The headers delivered with a message, each mapped to a list of values."""
    headers = {name: [value] for name, value in message.options.forward_headers.items()}
    if message.options.content_type:
        headers["Content-Type"] = [message.options.content_type]
    return headers


def _body_fields(body: bytes, text_key: str, base64_key: str) -> dict[str, str]:
    """A body as text when it is UTF-8, else as base64 under another key."""
    try:
        return {text_key: body.decode("utf-8")}
    except UnicodeDecodeError:
        return {base64_key: base64.b64encode(body).decode("ascii")}


def message_json(message: Message) -> dict[str, Any]:
    """A message as ``GET /v2/messages/{id}`` returns it."""
    options = message.options
    callback = options.callback
    failure = options.failure_callback
    data = _compact(
        {
            "messageId": message.message_id,
            "url": message.url,
            "topicName": message.topic_name,
            "endpointName": message.endpoint_name,
            "queueName": message.queue_name,
            "method": message.method,
            "header": _header_lists(message),
            "maxRetries": message.max_retries,
            "notBefore": message.not_before_ms,
            "createdAt": message.created_at,
            "callback": callback.url if callback else None,
            "callbackHeader": (
                {name: [value] for name, value in callback.headers.items()}
                if callback
                else None
            ),
            "failureCallback": failure.url if failure else None,
            "failureCallbackHeader": (
                {name: [value] for name, value in failure.headers.items()}
                if failure
                else None
            ),
            "retryDelayExpression": options.retry_delay,
            "callerIP": message.caller_ip,
            "label": options.labels[0] if options.labels else None,
            "labels": options.labels or None,
            "flowControlKey": options.flow_control_key,
        }
    )
    data.update(_body_fields(message.body, "body", "bodyBase64"))
    if options.flow_control_key:
        for name in ("rate", "period", "parallelism"):
            if name in options.flow_control:
                value = options.flow_control[name]
                data[name] = int(value) if value.isdigit() else value
    return data


def event_json(event: Event) -> dict[str, Any]:
    """A log entry as ``GET /v2/events`` (and ``/v2/logs``) returns it."""
    message = event.message
    options = message.options
    return _compact(
        {
            "time": event.time,
            "messageId": message.message_id,
            "state": event.state,
            "url": message.url,
            "topicName": message.topic_name,
            "endpointName": message.endpoint_name,
            "queueName": message.queue_name,
            "method": message.method,
            "header": _header_lists(message),
            "body": base64.b64encode(message.body).decode("ascii"),
            "error": event.error,
            "nextDeliveryTime": event.next_delivery_time,
            "responseStatus": event.response_status,
            "maxRetries": message.max_retries,
            "callback": options.callback.url if options.callback else None,
            "failureCallback": (
                options.failure_callback.url if options.failure_callback else None
            ),
            "label": options.labels[0] if options.labels else None,
            "labels": options.labels or None,
        }
    )


def dead_letter_json(entry: DeadLetter) -> dict[str, Any]:
    """A DLQ entry: the message plus the last response it got."""
    data = message_json(entry.message)
    data["dlqId"] = entry.dlq_id
    data["responseStatus"] = entry.response_status or 0
    data["responseHeader"] = entry.response_headers
    data.update(_body_fields(entry.response_body, "responseBody", "responseBodyBase64"))
    return data


def group_json(group: Group) -> dict[str, Any]:
    """A URL group as ``GET /v2/topics/{name}`` returns it."""
    return {
        "name": group.name,
        "createdAt": group.created_at,
        "updatedAt": group.updated_at,
        "endpoints": [
            _compact({"name": endpoint.name, "url": endpoint.url})
            for endpoint in group.endpoints
        ],
    }
