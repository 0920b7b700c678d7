"""Helpers the fault tests share: starting a watched snapshot, a channel's notices."""

from __future__ import annotations

from bot.devtools.slack_standin import PostedMessage
from bot.devtools.waiting import wait_until
from bot.simulator.records import SimSnapshot
from tests.constants import BACKUP, CHANNEL, MEMBER
from tests.e2e.backup_kit import rendered
from tests.e2e.bot_fixtures import Stack


async def start_snapshot(
    stack: Stack, backup_id: int = BACKUP, user: str = MEMBER
) -> tuple[SimSnapshot, PostedMessage]:
    """`/skyvia snapshot <backup>`; returns the simulator's run and the lifecycle card."""
    before = len(stack.sim.state.snapshots_of(backup_id))
    await stack.command(f"snapshot {backup_id}", user=user)
    await wait_until(lambda: len(stack.sim.state.snapshots_of(backup_id)) > before, what="the run")
    run = stack.sim.state.snapshots_of(backup_id)[-1]
    posted = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and f"snapshot {run.id}" in rendered(c.args)
    )
    card = stack.slack.message(CHANNEL, posted[0].response["ts"])
    return run, card


def notes_with(stack: Stack, channel: str, words: str) -> list[PostedMessage]:
    """Messages in `channel` whose first line (the `text` fallback) contains `words`: unlike
    `messages_with`, not a button's confirm dialog that names the same thing."""
    return [m for m in stack.slack.messages(channel) if words in m.text]


def messages_with(stack: Stack, channel: str, words: str) -> list[PostedMessage]:
    """Messages in `channel` whose text or blocks contain `words`."""
    return [m for m in stack.slack.messages(channel) if words in rendered(m.__dict__)]
