"""One way to pause a binding: written once, logged once, with the ids and the reason."""

from __future__ import annotations

import logging

import pytest

from bot.services.channel_pauses import DEFAULT_TOKEN_REFUSED_REASON, ChannelPauses
from storage.db import Database
from tests.constants import CHANNEL, OTHER_CHANNEL, TEAM
from tests.services.kit import Kit


def _pause_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.services.channel_pauses"]


async def test_a_pause_is_logged_once_with_the_ids_and_the_reason(
    kit: Kit, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await kit.bind()
    pauses = ChannelPauses(db)
    with caplog.at_level(logging.INFO):
        assert await pauses.pause_channel(TEAM, CHANNEL, "the channel is archived")
        assert not await pauses.pause_channel(TEAM, CHANNEL, "the channel is archived")
        assert not await pauses.pause_channel(TEAM, OTHER_CHANNEL, "no binding here")
    [line] = _pause_lines(caplog)
    assert line.getMessage() == f"binding {TEAM}/{CHANNEL} paused: the channel is archived"
    assert (line.team, line.channel) == (TEAM, CHANNEL)  # type: ignore[attr-defined]


async def test_a_pause_for_a_slack_refusal_names_the_error(
    kit: Kit, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await kit.bind()
    with caplog.at_level(logging.INFO):
        await ChannelPauses(db).pause_channel(
            TEAM, CHANNEL, "the channel is archived", slack_error="is_archived"
        )
    [line] = _pause_lines(caplog)
    assert line.getMessage() == f"binding {TEAM}/{CHANNEL} paused: the channel is archived"
    assert line.slack_error == "is_archived"  # type: ignore[attr-defined]


async def test_pauses_of_the_default_token_are_logged_alike(
    kit: Kit, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await kit.bind()
    await kit.bind(OTHER_CHANNEL)
    pauses = ChannelPauses(db)
    with caplog.at_level(logging.INFO):
        assert await pauses.pause_default_token_bindings(frozenset({"T0OTHER"})) == 2
        assert await pauses.pause_default_token_bindings(frozenset({"T0OTHER"})) == 0
    lines = sorted(r.getMessage() for r in _pause_lines(caplog))
    assert lines == [
        f"binding {TEAM}/{channel} paused: {DEFAULT_TOKEN_REFUSED_REASON}"
        for channel in sorted((CHANNEL, OTHER_CHANNEL))
    ]
