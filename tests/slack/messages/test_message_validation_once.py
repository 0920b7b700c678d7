"""`Message.to_dict()` validates its blocks once and reuses them for every send."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import SectionBlock

from bot.slack import messages as blocks


class _CountingSection(SectionBlock):
    calls = 0

    def to_dict(self) -> dict[str, Any]:
        type(self).calls += 1
        return super().to_dict()


def test_blocks_are_validated_once_across_sends() -> None:
    _CountingSection.calls = 0
    message = blocks.Message(text="hello", blocks=[_CountingSection(text="*hello*")])

    first = message.kwargs(channel="C1")
    second = message.kwargs(channel="C2", thread_ts="1.2")

    assert _CountingSection.calls == 1
    assert first["blocks"] == second["blocks"] == [SectionBlock(text="*hello*").to_dict()]
    assert first["channel"] == "C1" and second["channel"] == "C2"


def test_each_send_gets_its_own_list() -> None:
    message = blocks.still_running_note(30)
    first = message.to_dict()
    first["blocks"].clear()
    assert message.to_dict()["blocks"], "a caller's change must not reach the next send"


def test_an_invalid_block_still_fails_on_every_send() -> None:
    message = blocks.Message(text="x", blocks=[SectionBlock(text="y" * 3001)])
    for _ in range(2):
        with pytest.raises(SlackObjectFormationError):
            message.to_dict()


def test_the_cache_is_not_part_of_equality() -> None:
    sent = blocks.still_running_note(30)
    sent.to_dict()
    assert sent == blocks.still_running_note(30)
