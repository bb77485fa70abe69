"""Turn a message's ``Upstash-*`` headers into validated delivery options.

Batch items and single publishes carry their options the same way: as headers. This
module reads them in any letter case, accepts every official client's spelling
(``True`` as well as ``true``, ``header[...]`` as well as ``headers[...]``) and raises
``FieldError`` naming the offending header, which the server answers with a 400.
"""

from __future__ import annotations

import ast
import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .defaults import DEFAULT_RETRIES

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_FORWARD = "upstash-forward-"
_FORWARD_SPELLING = "Upstash-Forward-"
_CALLBACK_FORWARD = "upstash-callback-forward-"
_FAILURE_FORWARD = "upstash-failure-callback-forward-"
_FLOW_CONTROL_KEYS = frozenset({"parallelism", "rate", "period"})


class FieldError(ValueError):
    """A request field or header has an invalid value (answered with 400)."""


class PlanLimitError(ValueError):
    """A value exceeds what the emulated plan allows (answered with 412)."""


@dataclass(slots=True)
class CallbackOptions:
    """Where and how QStash reports on a message: a callback or failure callback."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    retries: int = DEFAULT_RETRIES
    timeout: float | None = None
    retry_delay: str | None = None
    delay: float = 0.0


@dataclass(slots=True)
class Options:
    """Everything a message's headers say about how to deliver it."""

    method: str = "POST"
    content_type: str | None = None
    forward_headers: dict[str, str] = field(default_factory=dict)
    retries: int = DEFAULT_RETRIES
    retry_delay: str | None = None
    timeout: float | None = None
    delay: float = 0.0
    not_before: int | None = None
    content_based_deduplication: bool = False
    callback: CallbackOptions | None = None
    failure_callback: CallbackOptions | None = None
    labels: list[str] = field(default_factory=list)
    flow_control_key: str | None = None
    flow_control: dict[str, str] = field(default_factory=dict)
    redact: list[str] = field(default_factory=list)

    def forwarding(self, headers: dict[str, str]) -> Options:
        """A copy of these shared, read-only options that also forwards ``headers``."""
        clone = Options.__new__(Options)
        for name in Options.__slots__:
            setattr(clone, name, getattr(self, name))
        clone.forward_headers = {**self.forward_headers, **headers}
        return clone


def is_url(destination: str) -> bool:
    """True for an ``http://`` or ``https://`` destination, false for a group name."""
    return destination.startswith(("http://", "https://"))


def is_valid_name(name: str) -> bool:
    """True when ``name`` is a legal URL group or queue name."""
    return bool(_NAME.match(name))


def parse_duration(value: str, header: str) -> float:
    """Parse ``1d10h30m``-style durations into seconds."""
    match = _DURATION.match(value.strip())
    if not value.strip() or match is None:
        raise FieldError(f"{header}: invalid duration {value!r}, expected e.g. 10s")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return float(days * 86400 + hours * 3600 + minutes * 60 + seconds)


def parse_int(value: str, header: str) -> int:
    """Parse a non-negative integer header value."""
    text = value.strip()
    if not text.isdigit():
        raise FieldError(f"{header}: expected a non-negative integer, got {value!r}")
    return int(text)


def parse_bool(value: str, header: str) -> bool:
    """Parse ``true``/``false`` in any letter case (qstash-py sends ``True``)."""
    lowered = value.strip().lower()
    if lowered not in {"true", "false"}:
        raise FieldError(f"{header}: expected true or false, got {value!r}")
    return lowered == "true"


def parse_method(value: str, header: str) -> str:
    """Parse an HTTP method QStash can deliver with."""
    method = value.strip().upper()
    if method not in METHODS:
        raise FieldError(f"{header}: unsupported method {value!r}")
    return method


def parse_url(value: str, header: str) -> str:
    """Check that a callback target is an absolute http(s) URL."""
    url = value.strip()
    if not is_url(url):
        raise FieldError(f"{header}: expected an http(s) URL, got {value!r}")
    return url


_FUNCTIONS: dict[str, Callable[..., float]] = {
    "pow": math.pow,
    "exp": math.exp,
    "sqrt": math.sqrt,
    "abs": abs,
    "floor": math.floor,
    "ceil": math.ceil,
    "round": round,
    "min": min,
    "max": max,
}
_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
}


def _evaluate(node: ast.expr, retried: int) -> float:
    """Evaluate one node of a checked retry-delay expression."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id == "retried":
        return float(retried)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _evaluate(node.operand, retried)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left = _evaluate(node.left, retried)
        right = _evaluate(node.right, retried)
        return _OPERATORS[type(node.op)](left, right)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        arguments = [_evaluate(argument, retried) for argument in node.args]
        return float(_FUNCTIONS[node.func.id](*arguments))
    raise ValueError("unsupported expression")


@functools.lru_cache(maxsize=256)
def _parse_expression(expression: str) -> ast.expr:
    """Parse an expression once; batches tend to repeat the same one."""
    return ast.parse(expression, mode="eval").body


def check_retry_delay(expression: str, header: str) -> str:
    """Check a retry-delay expression (milliseconds, may use ``retried``)."""
    try:
        _evaluate(_parse_expression(expression.strip()), 0)
    except (SyntaxError, ValueError, TypeError, ArithmeticError):
        raise FieldError(f"{header}: invalid expression {expression!r}") from None
    return expression.strip()


def evaluate_retry_delay(expression: str, retried: int) -> float:
    """Return the delay in milliseconds a checked expression gives for ``retried``."""
    return _evaluate(_parse_expression(expression), retried)


def _parse_flow_control(value: str, header: str) -> dict[str, str]:
    """Parse ``parallelism=2, rate=5, period=60s`` into its parts."""
    parts: dict[str, str] = {}
    for piece in value.split(","):
        name, _, setting = piece.strip().partition("=")
        if name not in _FLOW_CONTROL_KEYS or not setting:
            raise FieldError(f"{header}: cannot read {piece.strip()!r}")
        parts[name] = setting.strip()
    return parts


def _callback_option(
    target: CallbackOptions, suffix: str, value: str, header: str
) -> None:
    """Apply one ``Upstash-[Failure-]Callback-<suffix>`` header to ``target``."""
    if suffix == "method":
        target.method = parse_method(value, header)
    elif suffix == "retries":
        target.retries = parse_int(value, header)
    elif suffix == "timeout":
        target.timeout = parse_duration(value, header)
    elif suffix == "retry-delay":
        target.retry_delay = check_retry_delay(value, header)
    elif suffix == "delay":
        target.delay = parse_duration(value, header)


#: Parsed options by header items; batches repeat the same headers item after item.
_PARSED: dict[tuple[tuple[str, Any], ...], Options] = {}
_PARSED_LIMIT = 4096
_DEDUPLICATION_ID = "upstash-deduplication-id"
_COMMON_SPELLINGS = ("Upstash-Deduplication-Id", _DEDUPLICATION_ID)
_LAST: tuple[tuple[tuple[str, Any], ...], Options | None] = ((("", None),), None)


def _split_deduplication_id(
    headers: Mapping[str, Any],
) -> tuple[dict[str, Any], str | None]:
    """Take the deduplication id, in any letter case, out of a copy of ``headers``."""
    rest = dict(headers)
    found = None
    for name in list(rest):
        if len(name) == 24 and name.lower() == _DEDUPLICATION_ID:
            found = rest.pop(name)
    return rest, found


def parse_headers(headers: Mapping[str, Any]) -> tuple[Options, str | None]:
    """Return a message's options and its deduplication id.

    The id and the forwarded headers (a request id, a tenant) are set apart because
    they are what differs between otherwise similar items; the options of the rest
    are parsed once and shared, so callers must treat them as read-only.
    """
    rest: Mapping[str, Any] = headers
    deduplication_id = None
    for spelling in _COMMON_SPELLINGS:
        if spelling in headers:
            rest = dict(headers)
            deduplication_id = rest.pop(spelling)
            break

    forwarded = [name for name in rest if name.startswith(_FORWARD_SPELLING)]
    if not forwarded:
        return _parse_shared(rest, deduplication_id)

    kept = dict(rest)
    own: dict[str, str] = {}
    for name in forwarded:
        value = kept.pop(name)
        if type(value) is not str:
            raise FieldError(f"{name}: header values must be strings")
        own[name[len(_FORWARD_SPELLING) :]] = value
    shared, deduplication_id = _parse_shared(kept, deduplication_id)
    return shared.forwarding(own), deduplication_id


def _parse_shared(
    rest: Mapping[str, Any], deduplication_id: str | None
) -> tuple[Options, str | None]:
    """Options for headers items often repeat, parsed once and then shared."""
    global _LAST

    key = tuple(rest.items())
    last_key, options = _LAST
    if key != last_key:
        try:
            options = _PARSED.get(key)
        except TypeError:
            key, options = (), None

    if options is None:
        for name, value in rest.items():
            if type(value) is not str:
                raise FieldError(f"{name}: header values must be strings")
        unusual_spelling = None
        if deduplication_id is None:
            rest, unusual_spelling = _split_deduplication_id(rest)
        options = parse_options(rest)
        if unusual_spelling is not None:
            # The id is part of this key, so caching it would only waste a slot.
            return options, unusual_spelling
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        _PARSED[key] = options
    # Comparing with the previous item is cheaper than hashing every header value.
    _LAST = (key, options)
    return options, deduplication_id


def parse_options(headers: Mapping[str, str]) -> Options:
    """Read a message's options from its headers, whatever their letter case.

    The deduplication id is not an option; ``parse_headers`` reads it.
    """
    options = Options()
    forward_all = False
    plain: dict[str, str] = {}
    callback_extra: dict[str, tuple[str, str]] = {}
    failure_extra: dict[str, tuple[str, str]] = {}
    callback_headers: dict[str, str] = {}
    failure_headers: dict[str, str] = {}

    for name, value in headers.items():
        lowered = name.lower()
        if not lowered.startswith("upstash-"):
            if lowered == "content-type":
                options.content_type = value
            else:
                plain[name] = value
        elif lowered.startswith(_FORWARD):
            options.forward_headers[name[len(_FORWARD) :]] = value
        elif lowered.startswith(_CALLBACK_FORWARD):
            callback_headers[name[len(_CALLBACK_FORWARD) :]] = value
        elif lowered.startswith(_FAILURE_FORWARD):
            failure_headers[name[len(_FAILURE_FORWARD) :]] = value
        elif lowered.startswith("upstash-failure-callback-"):
            failure_extra[lowered[25:]] = (value, name)
        elif lowered.startswith("upstash-callback-"):
            callback_extra[lowered[17:]] = (value, name)
        else:
            forward_all = _apply(options, lowered, name, value) or forward_all

    if forward_all:
        options.forward_headers = {**plain, **options.forward_headers}

    for callback, headers, extra in (
        (options.callback, callback_headers, callback_extra),
        (options.failure_callback, failure_headers, failure_extra),
    ):
        if callback is not None:
            callback.headers = headers
            for suffix, (value, name) in extra.items():
                _callback_option(callback, suffix, value, name)

    if (options.flow_control_key is None) != (not options.flow_control):
        raise FieldError(
            "Upstash-Flow-Control-Key and Upstash-Flow-Control-Value go together"
        )
    return options


def _apply(options: Options, lowered: str, name: str, value: str) -> bool:
    """Apply one ``Upstash-*`` header; return True for ``Upstash-Header-Forward``."""
    if lowered == "upstash-method":
        options.method = parse_method(value, name)
    elif lowered == "upstash-content-based-deduplication":
        options.content_based_deduplication = parse_bool(value, name)
    elif lowered == "upstash-retries":
        options.retries = parse_int(value, name)
    elif lowered == "upstash-retry-delay":
        options.retry_delay = check_retry_delay(value, name)
    elif lowered == "upstash-delay":
        options.delay = parse_duration(value, name)
    elif lowered == "upstash-not-before":
        options.not_before = parse_int(value, name)
    elif lowered == "upstash-timeout":
        options.timeout = parse_duration(value, name)
    elif lowered == "upstash-callback":
        options.callback = CallbackOptions(url=parse_url(value, name))
    elif lowered == "upstash-failure-callback":
        options.failure_callback = CallbackOptions(url=parse_url(value, name))
    elif lowered == "upstash-label":
        options.labels = [label.strip() for label in value.split(",") if label.strip()]
    elif lowered == "upstash-flow-control-key":
        options.flow_control_key = value
    elif lowered == "upstash-flow-control-value":
        options.flow_control = _parse_flow_control(value, name)
    elif lowered == "upstash-redact-fields":
        options.redact = [part.strip() for part in value.split(",") if part.strip()]
    elif lowered == "upstash-header-forward":
        return parse_bool(value, name)
    return False
