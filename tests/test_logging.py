"""Logs never carry a secret, and the JSON format keeps the structured fields."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from bot.logging_setup import JsonFormatter, SecretFilter, configure_logging


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
