"""Failure episodes end to end: a backup failing three times, then succeeding.

The real bot over HTTP, the simulator, the fake Slack: one top-level alert, the further failures
in its thread, the alert's first line edited to the streak, and a recovery reply that turns the
header to "recovered"; each exactly once, however many scans re-read them.
"""

from __future__ import annotations

from bot.devtools.slack_standin import PostedMessage
from bot.devtools.waiting import wait_until
from tests.constants import ADMIN, BACKUP, CHANNEL, OTHER_CHANNEL
from tests.e2e.backup_kit import assert_valid_payloads, connect, line_of, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.test_watch_e2e import start_snapshot
from tests.e2e.worker_kit import alerts_in, cursors_ready, finished_watch, kind_of


def _replies(stack: Stack, channel: str, parent: str, kind: str) -> list[PostedMessage]:
    return [m for m in stack.slack.thread(channel, parent) if kind_of(m) == kind]


async def test_three_failures_then_a_success_are_one_alert_and_its_thread(stack: Stack) -> None:
    for channel in (CHANNEL, OTHER_CHANNEL):
        await connect(stack, channel=channel)
    await cursors_ready(stack.bot.container.db)

    first = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    for channel in (CHANNEL, OTHER_CHANNEL):
        await wait_until(lambda c=channel: alerts_in(stack.slack, c, first.id), what="the alert")
    alert_ts = {c: alerts_in(stack.slack, c)[0].ts for c in (CHANNEL, OTHER_CHANNEL)}

    for streak in (2, 3):
        failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
        for channel in (CHANNEL, OTHER_CHANNEL):
            await wait_until(
                lambda c=channel, n=streak: (
                    len(_replies(stack, c, alert_ts[c], "episode_reply")) == n - 1
                    and f"{n} failed snapshots in a row" in stack.slack.message(c, alert_ts[c]).text
                ),
                what=f"failure {streak} in the thread and the header",
            )
        reply = _replies(stack, CHANNEL, alert_ts[CHANNEL], "episode_reply")[-1]
        assert str(failed.id) in reply.text and not reply.reply_broadcast

    good = stack.sim.state.run_scheduled_now(BACKUP)
    for channel in (CHANNEL, OTHER_CHANNEL):
        await wait_until(
            lambda c=channel: (
                _replies(stack, c, alert_ts[c], "recovered")
                and "recovered after 3 failures" in stack.slack.message(c, alert_ts[c]).text
            ),
            what="the recovery",
        )
    await stack.bot.after_ticks(3)  # more scans re-read all of it: still once each

    for channel in (CHANNEL, OTHER_CHANNEL):
        assert len(alerts_in(stack.slack, channel)) == 1
        assert len(_replies(stack, channel, alert_ts[channel], "episode_reply")) == 2
        recovered = _replies(stack, channel, alert_ts[channel], "recovered")
        assert len(recovered) == 1
        assert f"Recovered: snapshot {good.id} succeeded after 3 failures" in recovered[0].text
        assert "failing for" in recovered[0].text
        header = stack.slack.message(channel, alert_ts[channel])
        assert header.edits == 3, header.edits  # streak 2, streak 3, recovered
    assert_valid_payloads(stack.slack)


def _stale_alerts(stack: Stack, channel: str) -> list[PostedMessage]:
    return [m for m in stack.slack.messages(channel) if not m.is_reply and kind_of(m) == "stale"]


async def _stale_alert(stack: Stack) -> PostedMessage:
    """Sets a 10 min limit on the seed's backup, whose last good snapshot is hours old, and
    waits for its stale alert."""
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    await stack.command(f"alerts stale {BACKUP} 10m", user=ADMIN)
    await wait_until(
        lambda: [m for m in stack.slack.messages(CHANNEL) if "stale limit to *10m 00s*" in m.text],
        what="the stale limit notice",
    )
    [alert] = await wait_until(lambda: _stale_alerts(stack, CHANNEL), what="the stale alert")
    return alert


async def test_a_stale_backup_is_told_once_then_fresh_again_in_its_thread(stack: Stack) -> None:
    # The seed's last good snapshot of the backup is hours old: past 10 min.
    alert = await _stale_alert(stack)
    assert "No good snapshot of Nightly CRM (456) for" in alert.text
    assert "it usually runs every 6h" in alert.text  # learned from the scheduled history
    await stack.bot.after_ticks(3)
    assert len(_stale_alerts(stack, CHANNEL)) == 1

    good = stack.sim.state.run_scheduled_now(BACKUP)
    [fresh] = await wait_until(
        lambda: _replies(stack, CHANNEL, alert.ts, "fresh"), what="the fresh-again reply"
    )
    assert f"fresh again: snapshot {good.id} succeeded" in fresh.text
    await stack.bot.after_ticks(3)
    assert len(_stale_alerts(stack, CHANNEL)) == 1
    assert len(_replies(stack, CHANNEL, alert.ts, "fresh")) == 1
    assert_valid_payloads(stack.slack)


async def test_fresh_again_edits_the_stale_alerts_first_line_once(stack: Stack) -> None:
    """docs/reference/messages.md#stale-backups: like a failure episode's recovery, the end of
    a stale episode turns its alert's first line, not only its thread."""
    alert = await _stale_alert(stack)
    good = stack.sim.state.run_scheduled_now(BACKUP)
    await wait_until(
        lambda: "is fresh again" in stack.slack.message(CHANNEL, alert.ts).text,
        what="the stale alert's header turned to fresh again",
    )
    await stack.bot.after_ticks(3)  # more scans see the good snapshot again: still once

    header = stack.slack.message(CHANNEL, alert.ts)
    assert header.edits == 1, header.edits
    assert "No good snapshot" not in header.text
    assert "Nightly CRM (456) is fresh again" in header.text
    payload = rendered(stack.slack.message_payload(CHANNEL, alert.ts))
    assert f"Snapshot {good.id} succeeded" in payload
    assert len(_replies(stack, CHANNEL, alert.ts, "fresh")) == 1
    assert_valid_payloads(stack.slack)


async def test_health_shows_a_backup_stale_while_its_stale_alert_is_open(stack: Stack) -> None:
    """The same backup must not read "healthy" in `health` while the channel's stale alert
    about it is open (docs/reference/commands.md#the-skyvia-command, `health`)."""
    alert = await _stale_alert(stack)
    health = await stack.reply_to("health")
    line = line_of(health, "Nightly CRM")
    assert line.startswith(":alarm_clock: "), line
    assert "stale" in line
    assert "1 stale" in health["text"]

    stack.sim.state.run_scheduled_now(BACKUP)
    await wait_until(lambda: _replies(stack, CHANNEL, alert.ts, "fresh"), what="fresh again")
    after = await stack.reply_to("health")
    line = line_of(after, "Nightly CRM")
    assert line.startswith(":white_check_mark: "), line
    assert "stale" not in line and "stale" not in after["text"]


async def test_a_failed_run_started_from_slack_counts_in_the_episode_as_in_health(
    stack: Stack,
) -> None:
    """A failure the channel watches is told in its card's thread, yet counts in the streak
    (docs/reference/messages.md#failure-episodes): the recovery and `health` agree."""
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    stack.sim.state.fail_next(BACKUP)
    manual, _card = await start_snapshot(stack)
    assert (await finished_watch(stack.bot.container.db, manual.id, CHANNEL)).outcome == "Failed"

    scheduled = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    [alert] = await wait_until(
        lambda: alerts_in(stack.slack, CHANNEL, scheduled.id), what="the scheduled failure's alert"
    )
    stack.sim.state.fail_next(BACKUP)
    again, _card = await start_snapshot(stack)  # a watched failure of the open episode
    assert (await finished_watch(stack.bot.container.db, again.id, CHANNEL)).outcome == "Failed"
    await stack.bot.after_ticks(2)
    assert "3 failed in a row" in line_of(await stack.reply_to("health"), "Nightly CRM")

    good = stack.sim.state.run_scheduled_now(BACKUP)
    [recovered] = await wait_until(
        lambda: _replies(stack, CHANNEL, alert.ts, "recovered"), what="the recovery"
    )
    assert f"snapshot {good.id} succeeded after 3 failures" in recovered.text
    await wait_until(
        lambda: "recovered after 3 failures" in stack.slack.message(CHANNEL, alert.ts).text,
        what="the header turned to recovered",
    )
    # Told in their cards' threads, not in the alert's: the episode counted them silently.
    assert _replies(stack, CHANNEL, alert.ts, "episode_reply") == []
    assert len(alerts_in(stack.slack, CHANNEL)) == 1
    assert_valid_payloads(stack.slack)


async def test_episodes_of_two_workspaces_scanned_together_each_recover(stack: Stack) -> None:
    """One scan batch leases both workspaces' backups; each workspace's listeners must see its
    own open episodes, or the success that ends one is never listed and it stays failing."""
    other = stack.sim.state.add_workspace("Second", id=777)
    stack.sim.state.add_backup(other.id, "Second nightly", id=778, scheduled=True)
    await connect(stack, channel=CHANNEL)
    await connect(stack, channel=OTHER_CHANNEL, workspace_id=other.id)
    await cursors_ready(stack.bot.container.db)

    backups = {CHANNEL: BACKUP, OTHER_CHANNEL: 778}
    for channel, backup in backups.items():
        failed = stack.sim.state.run_scheduled_now(backup, fail=True)
        await wait_until(lambda c=channel, f=failed.id: alerts_in(stack.slack, c, f), what="alert")
    alert_ts = {c: alerts_in(stack.slack, c)[0].ts for c in backups}
    for backup in backups.values():
        stack.sim.state.run_scheduled_now(backup)
    for channel in backups:
        await wait_until(
            lambda c=channel: _replies(stack, c, alert_ts[c], "recovered"),
            what=f"the recovery in {channel}",
        )
