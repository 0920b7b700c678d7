"""Logging: readable by default, JSON with `--log-format json`, never a secret, always its ids.

Secrets are scrubbed in a filter on the root handler (not by each caller remembering to), so a
library that logs a header, a URL or a whole Slack envelope (slack_sdk does at DEBUG) cannot leak
one: Slack token shapes and Authorization headers are masked by pattern, the values typed into a
modal's text inputs are masked wherever a payload is printed, and known secret values are masked
by value — the configured ones, plus every per-binding Skyvia token the bot has used
(`remember_secret`).

The ids a line is about (team, channel, user, workspace, backup, ...) travel in a context
variable: an entry point sets them once (`set_log_context` for a request, `log_context` around a
piece of work) and every record emitted below it carries them as fields, so JSON logs can be
filtered by channel or backup without each call site repeating them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

# Slack tokens: bot, user, app-level, and with token rotation `xoxe.xoxb-…` / refresh `xoxe-…`.
_SLACK_TOKEN = re.compile(r"\b(xox[abposre](?:\.xox[abposr])?|xapp)-[A-Za-z0-9-]+")
_AUTH_HEADER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)([^'\"\s,}]+)")
_REDACTED = "[redacted]"
_MIN_SECRET = 6  # shorter values would mask ordinary words and numbers

# A quote as a payload may be printed: JSON, a Python repr, JSON inside a JSON string, or a
# URL-encoded form body; then `:` and `,` in the same spellings.
_Q = r"(?:\\?[\"']|%22|%27)"
_COLON = r"(?:\s|\+|%20)*(?::|%3[aA])(?:\s|\+|%20)*"
_COMMA = r"(?:\s|\+|%20)*(?:,|%2[cC])(?:\s|\+|%20)*"
_TEXT_INPUT = rf"{_Q}type{_Q}{_COLON}{_Q}plain_text_input{_Q}"
# A value: from its opening quote to the same quote again, stepping over backslash escapes
# (`\"`, or `%5C%22` URL-encoded).
_VALUE = r"(?P<q>\\?[\"']|%22|%27)(?P<value>(?:(?!(?P=q))(?:\\.|%5[cC]%..|.))*)(?P=q)"
# A text input's state is `{"type": "plain_text_input", "value": "..."}`, in either key order.
_INPUT_VALUES = (
    re.compile(rf"{_TEXT_INPUT}{_COMMA}{_Q}value{_Q}{_COLON}{_VALUE}"),
    re.compile(rf"{_Q}value{_Q}{_COLON}{_VALUE}(?={_COMMA}{_TEXT_INPUT})"),
)


def _mask_value(match: re.Match[str]) -> str:
    start, end = match.span("value")
    text = match.group(0)
    offset = match.start()
    return text[: start - offset] + _REDACTED + text[end - offset :]


# Attributes every LogRecord has; anything else came from `extra=` and goes into JSON output.
_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

_learned_secrets: set[str] = set()
_learned_sorted: list[str] = []


def remember_secret(value: str | None) -> None:
    """Masks `value` in every log record from now on (a per-binding token, once seen)."""
    if value and len(value) >= _MIN_SECRET and value not in _learned_secrets:
        _learned_secrets.add(value)
        _learned_sorted.append(value)
        _learned_sorted.sort(key=len, reverse=True)


class SecretFilter(logging.Filter):
    """Masks known secret values, text-input values and token shapes in every part of a record:
    the message and its arguments, the traceback, and the `extra=` fields."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted(
            {s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len, reverse=True
        )

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= _MIN_SECRET and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in (*self._secrets, *_learned_sorted):
            if secret in text:
                text = text.replace(secret, _REDACTED)
        if "plain_text_input" in text:
            for pattern in _INPUT_VALUES:
                text = pattern.sub(_mask_value, text)
        text = _SLACK_TOKEN.sub(lambda m: f"{m.group(1)}-{_REDACTED}", text)
        return _AUTH_HEADER.sub(lambda m: m.group(1) + _REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.scrub(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        for key, value in _extras(record).items():
            if isinstance(value, str):
                setattr(record, key, self.scrub(value))
        return True


# ----- ids as fields ----------------------------------------------------------------------------

_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("log_context", default=_EMPTY)


def _ids(ids: Mapping[str, object]) -> dict[str, str]:
    return {key: str(value) for key, value in ids.items() if value is not None and value != ""}


def set_log_context(**ids: object) -> None:
    """Replaces the ids of the current task (and of the tasks it starts from now on).

    For entry points that own their task — a request, one worker item run by `gather` — where
    nothing outlives the task; elsewhere use `log_context`, which restores the previous ids.
    """
    _context.set(MappingProxyType(_ids(ids)))


@contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """Adds `ids` (None values are skipped) to every record logged inside the block."""
    token = _context.set(MappingProxyType({**_context.get(), **_ids(ids)}))
    try:
        yield
    finally:
        _context.reset(token)


def current_log_context() -> Mapping[str, str]:
    return _context.get()


class ContextFilter(logging.Filter):
    """Copies the current ids onto the record; a field given with `extra=` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


# ----- formats ----------------------------------------------------------------------------------


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD_ATTRS and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str)


class ReadableFormatter(logging.Formatter):
    """`time level logger: message key=value ...` — extras appended so timing/status show."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = [f"{k}={v}" for k, v in _extras(record).items()]
        if extras:
            first, sep, rest = base.partition("\n")
            base = f"{first} {' '.join(extras)}{sep}{rest}"
        return base


def configure_logging(
    level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()
) -> SecretFilter:
    """Installs one stderr handler on the root logger; returns its filter (to add secrets)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ReadableFormatter())
    handler.addFilter(ContextFilter())
    secret_filter = SecretFilter(secrets)
    handler.addFilter(secret_filter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Chatty libraries: their request lines duplicate ours.
    for name in ("httpx", "httpcore", "aiosqlite", "asyncio", "uvicorn.access"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # slack_sdk builds its per-call debug lines (headers, the whole JSON body) whenever its
    # client logger's *own* level is at most DEBUG, and NOTSET is 0: set it, or every call
    # formats a line no handler prints (3 % of the bot's CPU in the alert benchmark).
    logging.getLogger("slack_sdk.web.async_base_client").setLevel(level)
    return secret_filter
