"""The request path keeps Slack's pace too (issue 17): a burst of commands in one channel.

The cards of `/skyvia snapshot` are posted while the request is handled, not by the outbox's
senders. Posting them as fast as the commands come meets the channel's limit (about one post a
second, a short burst): Slack answers 429, and a card still waiting out its `Retry-After` when
its time is up is read back from the channel's history, which has a limit of its own. Here the
stand-in keeps Slack's documented tiers: six commands at once in one channel must all get their
card, once each, without one call answered 429 and without reading the channel back.
"""

from __future__ import annotations

from bot.devtools.waiting import wait_until
from bot.simulator.records import SimSnapshot
from tests.constants import CHANNEL, MEMBER, SEED_BACKUPS
from tests.e2e.backup_kit import connect, rendered
from tests.e2e.bot_fixtures import Stack, StartBot

BURST = 6
"""Commands sent at once: twice the burst Slack allows a channel's posts."""


def cards_of(stack: Stack, run: SimSnapshot) -> list[str]:
    """The ts of every top-level card Slack stored for `run` in the channel."""
    return [
        m.ts
        for m in stack.slack.messages(CHANNEL)
        if m.thread_ts is None and f"snapshot {run.id}" in rendered(m.__dict__)
    ]


async def test_a_burst_of_commands_in_one_channel_gets_every_card_without_a_429(
    start_bot: StartBot,
) -> None:
    stack = await start_bot(SKYVIA_BOT_WATCH_INTERVAL="60")
    await connect(stack)
    stack.sim.state.set_speed(1)  # runs stay in progress: the cards are the only posts
    backups = SEED_BACKUPS[:BURST]
    before = {s.id for b in backups for s in stack.sim.state.snapshots_of(b)}
    stack.slack.enable_tiers()  # Slack's documented tiers from here on, every bucket full
    for backup in backups:
        await stack.command(f"snapshot {backup}", user=MEMBER)
    runs = [
        await wait_until(
            lambda b=backup: next(
                (s for s in stack.sim.state.snapshots_of(b) if s.id not in before), None
            ),
            what=f"a run of backup {backup}",
        )
        for backup in backups
    ]
    await wait_until(
        lambda: all(cards_of(stack, run) for run in runs), what="every card", timeout=30
    )

    assert [len(cards_of(stack, run)) for run in runs] == [1] * BURST
    assert stack.slack.rate_limited_counts() == {}
    assert stack.slack.calls_to("conversations.history") == []
