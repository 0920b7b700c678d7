"""Logs never carry a secret, and the JSON format keeps the structured fields."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest

from bot.logging_setup import (
    ContextFilter,
    JsonFormatter,
    SecretFilter,
    configure_logging,
    current_log_context,
    log_context,
    remember_secret,
    set_log_context,
)


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    """configure_logging replaces the root handlers (pytest's capture included): put them back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logger")
def test_known_secrets_and_token_shapes_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text", secrets=["skyvia-secret-token-123"])
    log = logging.getLogger("test.secrets")
    log.info("calling with %s", "skyvia-secret-token-123")
    log.info("bot token xoxb-1111-2222-abcdef and app token xapp-1-A0-99-ff")
    log.info("headers {'Authorization': 'raw-skyvia-token'}")
    try:
        raise RuntimeError("failed for skyvia-secret-token-123")
    except RuntimeError:
        log.exception("boom")
    err = capsys.readouterr().err
    for leaked in ("skyvia-secret-token-123", "1111-2222-abcdef", "A0-99-ff", "raw-skyvia-token"):
        assert leaked not in err
    assert err.count("[redacted]") >= 5
    assert "RuntimeError" in err  # the traceback itself is kept


@pytest.mark.usefixtures("restore_root_logger")
def test_rotating_slack_tokens_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    # With token rotation on, oauth.v2.access answers (logged whole by slack_sdk at DEBUG) carry
    # an expiring bot token and a refresh token, both in their own shapes.
    configure_logging("INFO", "text", secrets=[])
    logging.getLogger("test.secrets").info(
        '{"access_token": "xoxe.xoxb-1-MS0yLTEx-rotating", '
        '"refresh_token": "xoxe-1-My0xLTEx-refresh"}'
    )
    err = capsys.readouterr().err
    for leaked in ("MS0yLTEx-rotating", "My0xLTEx-refresh"):
        assert leaked not in err
    assert err.count("[redacted]") == 2


def test_json_lines_carry_extra_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "bot.skyvia", "msg": "skyvia call", "levelname": "INFO", "levelno": 20}
    )
    record.endpoint = "GET /workspaces/{workspaceId}"
    record.ms = 12.5
    SecretFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "skyvia call"
    assert line["endpoint"] == "GET /workspaces/{workspaceId}"
    assert line["ms"] == 12.5
    assert line["level"] == "INFO"


INPUT_STATE = {
    "connect_token": {
        "connect_token_input": {"type": "plain_text_input", "value": "typed-secret-1"}
    },
    "other": {"input": {"value": "typed-secret-2", "type": "plain_text_input"}},
    "kept": {"value": "not-an-input"},
}


@pytest.mark.parametrize(
    "printed",
    [
        json.dumps(INPUT_STATE),
        json.dumps(INPUT_STATE, separators=(",", ":")),
        repr(INPUT_STATE),
        json.dumps(json.dumps(INPUT_STATE)),
        urlencode({"payload": json.dumps(INPUT_STATE)}),
        quote(json.dumps(INPUT_STATE)),
    ],
    ids=["json", "compact", "repr", "json-in-json", "form", "percent"],
)
def test_text_input_values_are_masked_however_a_payload_is_printed(printed: str) -> None:
    clean = SecretFilter().scrub(printed)
    assert "typed-secret" not in clean
    assert "not-an-input" in clean  # only text inputs' values, not every "value"
    assert clean.count("[redacted]") == 2


def test_a_remembered_secret_is_masked_in_message_traceback_and_extras() -> None:
    secret = "per-binding-token-" + "q" * 12
    remember_secret(secret)
    try:
        raise RuntimeError(f"rejected {secret}")
    except RuntimeError:
        record = logging.makeLogRecord(
            {"msg": "using %s", "args": (secret,), "exc_info": sys.exc_info()}
        )
    record.url = f"https://example.test/?token={secret}"
    SecretFilter().filter(record)
    line = JsonFormatter().format(record)
    assert secret not in line
    assert line.count("[redacted]") == 3


def test_log_context_adds_ids_to_records_and_extra_wins() -> None:
    context_filter = ContextFilter()

    def emit(**extra: object) -> dict[str, object]:
        record = logging.makeLogRecord({"msg": "m", "levelname": "INFO", **extra})
        context_filter.filter(record)
        return json.loads(JsonFormatter().format(record))

    with log_context(team="T1", channel="C1"):
        with log_context(backup=7, snapshot=None):
            inner = emit(channel="C-explicit")
        outer = emit()
    after = emit()
    assert inner["team"] == "T1" and inner["backup"] == "7" and "snapshot" not in inner
    assert inner["channel"] == "C-explicit"
    assert outer["channel"] == "C1" and "backup" not in outer
    assert "team" not in after


async def test_set_log_context_stays_in_its_task() -> None:
    async def request(team: str) -> dict[str, str]:
        set_log_context(team=team, channel=f"C{team}")
        await asyncio.sleep(0)
        return dict(current_log_context())

    first, second = await asyncio.gather(request("T1"), request("T2"))
    assert first == {"team": "T1", "channel": "CT1"}
    assert second == {"team": "T2", "channel": "CT2"}
    assert dict(current_log_context()) == {}


@pytest.mark.usefixtures("restore_root_logger")
@pytest.mark.parametrize("level", ["INFO", "WARNING"])
def test_slack_sdk_builds_no_per_call_debug_line_above_debug(level: str) -> None:
    # slack_sdk formats a debug line per call (headers, the whole JSON body) whenever its client
    # logger's own level is NOTSET, whatever the effective level: 3 % of the bot's CPU in the
    # alert benchmark. Its guard is `logger.level <= logging.DEBUG`.
    from slack_sdk.web.async_client import AsyncWebClient

    configure_logging(level, "text", secrets=[])
    assert AsyncWebClient().logger.level > logging.DEBUG


@pytest.mark.usefixtures("restore_root_logger")
def test_slack_sdk_still_logs_calls_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    from slack_sdk.web.async_client import AsyncWebClient

    configure_logging("DEBUG", "text", secrets=[])
    logger = AsyncWebClient().logger
    assert logger.level <= logging.DEBUG
    logger.debug("Sending a request - url: POST https://slack.com/api/chat.postMessage")
    assert "chat.postMessage" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("status", "level"), [(200, None), (404, logging.INFO), (None, logging.INFO)]
)
def test_a_skyvia_call_is_logged_at_info_only_when_it_failed(
    caplog: pytest.LogCaptureFixture, status: int | None, level: int | None
) -> None:
    # The alert scanner lists every backup every interval (600 calls a second in the alert
    # benchmark): a line each at INFO was noise and CPU. Metrics count every call.
    from bot.container import skyvia_observer
    from bot.metrics import Metrics

    observe = skyvia_observer(Metrics())
    with caplog.at_level(logging.DEBUG, logger="bot.skyvia"):
        observe("GET", "GET /workspaces/{workspaceId}", status, 0.012)
    (record,) = [r for r in caplog.records if r.name == "bot.skyvia"]
    assert record.levelno == (logging.DEBUG if level is None else level)
    assert record.getMessage() == "skyvia call"
