"""System checks for the app's settings, so mistakes surface at ``manage.py check``.

Ids are stable: ``qstash_batch.E0xx`` for errors, ``qstash_batch.W0xx`` for warnings.
No message ever repeats the value of a secret setting.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ValidationError

from django_qstash_batch.conf import DEFAULTS, conf
from django_qstash_batch.validation import validate_http_url

SETTINGS_HINT = (
    "Set QSTASH_BATCH = {'TOKEN': ...} in your settings, or export QSTASH_TOKEN. "
    "The token is on the QStash page of the Upstash console."
)

POSITIVE_INTEGER_KEYS = (
    "MAX_MESSAGES_PER_REQUEST",
    "MAX_REQUEST_BYTES",
    "MAX_MESSAGE_BYTES",
    "LEASE_SECONDS",
    "MAX_ATTEMPTS",
)


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report settings that would make sending fail later, deep inside a worker."""
    messages: list[CheckMessage] = []

    for key in conf.unknown_keys():
        messages.append(
            Warning(
                f"QSTASH_BATCH has an unknown key {key!r}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id="qstash_batch.W001",
            )
        )

    if not conf.TOKEN:
        messages.append(
            Error(
                "No QStash token is configured.",
                hint=SETTINGS_HINT,
                id="qstash_batch.E001",
            )
        )

    for key in ("URL", "CALLBACK_URL"):
        value = conf.get(key)
        if key == "CALLBACK_URL" and not value:
            continue
        try:
            validate_http_url(value)
        except ValidationError:
            messages.append(
                Error(
                    f"QSTASH_BATCH[{key!r}] must be an absolute http(s) URL, "
                    f"not {value!r}.",
                    hint="For example https://qstash.upstash.io.",
                    id="qstash_batch.E002",
                )
            )

    messages.extend(_check_limits())

    if conf.CALLBACK_URL and not conf.CURRENT_SIGNING_KEY:
        messages.append(
            Error(
                "CALLBACK_URL is set but no signing key is configured, so callbacks "
                "cannot be verified.",
                hint="Set QSTASH_BATCH['CURRENT_SIGNING_KEY'] and 'NEXT_SIGNING_KEY', "
                "or export QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY.",
                id="qstash_batch.E004",
            )
        )
    return messages


def _check_limits() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for key in POSITIVE_INTEGER_KEYS:
        value = conf.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            messages.append(
                Error(
                    f"QSTASH_BATCH[{key!r}] must be a whole number of at least 1, "
                    f"not {value!r}.",
                    hint=f"The default is {DEFAULTS[key]!r}.",
                    id="qstash_batch.E003",
                )
            )
    if messages:
        return messages

    if conf.MAX_MESSAGE_BYTES > conf.MAX_REQUEST_BYTES:
        messages.append(
            Error(
                "MAX_MESSAGE_BYTES is larger than MAX_REQUEST_BYTES, so a message of "
                "the allowed size could never be sent.",
                hint="Lower MAX_MESSAGE_BYTES or raise MAX_REQUEST_BYTES.",
                id="qstash_batch.E005",
            )
        )

    timeout = conf.get("TIMEOUT")
    valid_timeout = (
        isinstance(timeout, (int, float))
        and not isinstance(timeout, bool)
        and timeout > 0
    ) or (
        isinstance(timeout, (tuple, list))
        and len(timeout) == 2
        and all(
            isinstance(part, (int, float)) and not isinstance(part, bool) and part > 0
            for part in timeout
        )
    )
    if not valid_timeout:
        messages.append(
            Error(
                f"QSTASH_BATCH['TIMEOUT'] must be seconds or a (connect, read) pair of "
                f"positive numbers, not {timeout!r}.",
                hint="The default is (5, 30).",
                id="qstash_batch.E006",
            )
        )

    if conf.LEASE_SECONDS >= 600:
        messages.append(
            Warning(
                "LEASE_SECONDS is not shorter than QStash's 10-minute deduplication "
                "window, so a batch resumed after a crash may be published twice.",
                hint="Keep LEASE_SECONDS well under 600; the default is 60.",
                id="qstash_batch.W002",
            )
        )
    return messages
