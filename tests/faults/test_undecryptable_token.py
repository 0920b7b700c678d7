"""One binding whose stored token does not decrypt stops nothing but that binding.

Issue 9, finding 5, through the real bot over HTTP with the Slack stand-in and the simulator.
The binding is skipped and reported once (paused, the reason in `/skyvia status`); the other
channels of the workspace keep their alerts; `skyvia-bot check` and start-up name every such
binding by its team and channel, never by anything of the token.
"""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update

from bot.checks import run_checks
from bot.devtools.waiting import wait_until
from bot.runtime import report_undecryptable_tokens
from storage.models import Binding
from tests.constants import BACKUP, CHANNEL, OTHER_CHANNEL, TEAM
from tests.e2e.backup_kit import connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import alerts_in, binding_row, cursors_ready, paused_binding

FOREIGN_CIPHERTEXT = Fernet(Fernet.generate_key()).encrypt(b"tok-from-another-key").decode()


async def break_token(stack: Stack, channel: str) -> None:
    """Stores a token encrypted with a key the bot does not have (a botched key rotation)."""
    async with stack.bot.container.db.session() as session:
        await session.execute(
            update(Binding)
            .where(Binding.team_id == TEAM, Binding.channel_id == channel)
            .values(token_ciphertext=FOREIGN_CIPHERTEXT)
        )


async def test_an_undecryptable_token_pauses_its_binding_alone(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    await connect(stack)  # the first binding: the scan tries its token first
    await connect(stack, channel=OTHER_CHANNEL)
    await cursors_ready(stack.bot.container.db)
    await break_token(stack, CHANNEL)

    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(
        lambda: alerts_in(stack.slack, OTHER_CHANNEL, failed.id), what="the other channel's alert"
    )
    binding = await wait_until(
        lambda: paused_binding(stack.bot.container.db, CHANNEL), what="the broken binding's pause"
    )
    assert binding is not None and "could not be decrypted" in (binding.paused_reason or "")
    await stack.bot.after_ticks(3)
    assert alerts_in(stack.slack, CHANNEL) == []
    assert len(alerts_in(stack.slack, OTHER_CHANNEL, failed.id)) == 1
    other = await binding_row(stack.bot.container.db, OTHER_CHANNEL)
    assert other is not None and not other.is_paused

    status = await stack.reply_to("status")
    assert "could not be decrypted" in rendered(status)
    reports = [r for r in caplog.records if "could not be decrypted" in r.getMessage()]
    assert len(reports) == 1  # reported once, not once per scan
    assert FOREIGN_CIPHERTEXT not in caplog.text


async def test_check_and_start_up_name_every_binding_whose_token_does_not_decrypt(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    await connect(stack)
    await connect(stack, channel=OTHER_CHANNEL)
    await break_token(stack, CHANNEL)
    await break_token(stack, OTHER_CHANNEL)

    checks = [line async for line in run_checks(stack.bot.settings)]
    tokens = [(ok, detail) for name, ok, detail in checks if name == "stored tokens"]
    assert len(tokens) == 1
    ok, detail = tokens[0]
    assert not ok
    assert f"{TEAM}/{CHANNEL}" in detail and f"{TEAM}/{OTHER_CHANNEL}" in detail
    assert FOREIGN_CIPHERTEXT not in detail

    with caplog.at_level(logging.WARNING, logger="bot.runtime"):
        count = await report_undecryptable_tokens(stack.bot.container)
    assert count == 2
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.runtime"]
    assert any(f"{TEAM}/{CHANNEL}" in line for line in lines)
    assert any(f"{TEAM}/{OTHER_CHANNEL}" in line for line in lines)
    assert FOREIGN_CIPHERTEXT not in caplog.text
