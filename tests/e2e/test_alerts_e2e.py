"""Issue 5 end to end: failure alerts, once per listening channel, with no history flood.

The real bot over HTTP (alert interval 0.3 s), the simulator's scheduler, the fake Slack.
"""

from __future__ import annotations

import time

from bot.devtools.slack_standin import PostedMessage, SlackCall
from bot.devtools.waiting import wait_until
from bot.slack.messages.ids import ActionId
from storage.repositories import AlertCursorRepository
from tests.constants import ADMIN, BACKUP, CHANNEL, OTHER_CHANNEL, SEED_BACKUPS
from tests.e2e.backup_kit import assert_valid_payloads, button, connect, rendered
from tests.e2e.bot_fixtures import Stack, StartBot
from tests.e2e.worker_kit import alerts_in, cursors_ready, paused_binding

MUTED_CHANNEL = "C0MUTED"
QUIET_CHANNEL = "C0QUIET"
LIST_SNAPSHOTS = "GET /workspaces/{workspaceId}/backups/{backupId}/snapshots"
WORKSPACE_BACKUPS = len(SEED_BACKUPS)


async def test_scheduled_failure_alerts_each_listening_channel_once(stack: Stack) -> None:
    started = time.monotonic()
    for channel in (CHANNEL, OTHER_CHANNEL, MUTED_CHANNEL, QUIET_CHANNEL):
        await connect(stack, channel=channel)
    await stack.command(f"alerts mute {BACKUP}", user=ADMIN, channel=MUTED_CHANNEL)
    await stack.command("alerts off", user=ADMIN, channel=QUIET_CHANNEL)
    for channel, said in ((MUTED_CHANNEL, "muted"), (QUIET_CHANNEL, "off")):
        await stack.slack.wait_for(  # both changes recorded before the failure is seen
            "chat.postMessage",
            lambda c, ch=channel, w=said: c.ok and c.args["channel"] == ch and w in c.args["text"],
        )
    await cursors_ready(stack.bot.container.db)

    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True, log="Error: INVALID_SESSION_ID")
    for channel in (CHANNEL, OTHER_CHANNEL):
        await wait_until(
            lambda c=channel: alerts_in(stack.slack, c, failed.id), what=f"alert in {channel}"
        )
    await stack.bot.after_ticks(3)  # several more scans: still one alert each, none where unwanted

    for channel in (CHANNEL, OTHER_CHANNEL):
        alerts = alerts_in(stack.slack, channel)
        assert [str(failed.id) in a.text for a in alerts] == [True], rendered(alerts[0].__dict__)
    assert alerts_in(stack.slack, MUTED_CHANNEL) == []
    assert alerts_in(stack.slack, QUIET_CHANNEL) == []

    alert = alerts_in(stack.slack, CHANNEL)[0]
    message = {"text": alert.text, "blocks": alert.blocks, "ts": alert.ts}
    assert "Scheduled snapshot" in alert.text and "Nightly CRM" in alert.text
    assert "INVALID_SESSION_ID" in rendered(message)
    for action in (ActionId.SHOW_LOG, ActionId.RUN_SNAPSHOT, ActionId.MUTE_BACKUP_FOR):
        button(message, action)
    assert stack.bot.container.metrics.alerts_sent._value.get() == 2

    # No history flood: the seed's old failures of the workspace were never announced.
    history = [
        s.id
        for b in SEED_BACKUPS
        for s in stack.sim.state.snapshots_of(b)
        if s.outcome == "Failed" and s.id != failed.id
    ]
    assert history, "the seed has failed history to test against"
    for channel in (CHANNEL, OTHER_CHANNEL):
        assert all(str(i) not in m.text for i in history for m in alerts_in(stack.slack, channel))

    # Polling cost follows the backups, not the four channels: at most one list call per
    # backup per scan, and a scan at most every interval.
    scans = (time.monotonic() - started) / stack.bot.settings.alert_interval + 1
    assert stack.sim.state.call_counts().get(LIST_SNAPSHOTS, 0) <= WORKSPACE_BACKUPS * scans
    assert_valid_payloads(stack.slack)


async def test_skyvia_rate_limits_delay_the_scan_but_lose_nothing(stack: Stack) -> None:
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    stack.sim.state.inject_errors(429, count=6, endpoint=LIST_SNAPSHOTS, retry_after=0.2)
    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="the alert")
    await stack.bot.after_ticks(3)
    assert len(alerts_in(stack.slack, CHANNEL, failed.id)) == 1


async def test_rejected_token_pauses_alerts_and_tells_the_channel_once(stack: Stack) -> None:
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    stack.sim.state.remove_token(stack.sim.token)

    def notices() -> list[PostedMessage]:
        return [m for m in stack.slack.messages(CHANNEL) if "rejected the access token" in m.text]

    await wait_until(notices, what="the paused-alerts notice")
    binding = await wait_until(
        lambda: paused_binding(stack.bot.container.db, CHANNEL), what="the binding to be paused"
    )
    assert "rejected the access token of workspace 123" in (binding.paused_reason or "")
    calls = sum(stack.sim.state.call_counts().values())
    await stack.bot.after_ticks(3)
    assert len(notices()) == 1
    # Paused: the scanner stopped asking Skyvia with the rejected token.
    assert sum(stack.sim.state.call_counts().values()) <= calls + WORKSPACE_BACKUPS
    status = await stack.reply_to("status")
    assert "rejected the access token" in rendered(status)


async def test_archived_channel_is_paused_and_not_retried(stack: Stack) -> None:
    await connect(stack)
    await connect(stack, channel=OTHER_CHANNEL)
    await cursors_ready(stack.bot.container.db)
    stack.slack.fail_channel(OTHER_CHANNEL, "is_archived")
    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="the alert")
    await wait_until(
        lambda: paused_binding(stack.bot.container.db, OTHER_CHANNEL), what="the pause"
    )

    def attempts() -> list[SlackCall]:
        return [
            c
            for c in stack.slack.calls_to("chat.postMessage")
            if c.args["channel"] == OTHER_CHANNEL and c.args.get("metadata")
        ]

    tried = attempts()
    await stack.bot.after_ticks(3)  # several scans later: no retry into the archived channel
    assert attempts() == tried
    assert len(tried) == 1 and tried[0].error == "is_archived"


async def test_cursors_follow_new_backups(start_bot: StartBot) -> None:
    stack = await start_bot()
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    stack.sim.state.add_backup(123, "Added later", id=999)

    # Re-listing happens every 10 alert intervals (3 s here).
    async def has_new() -> bool:
        async with stack.bot.container.db.session() as session:
            cursors = await AlertCursorRepository(session).list_for_workspace(123)
        return any(c.backup_id == 999 for c in cursors)

    await wait_until(has_new, timeout=20, what="a cursor for the new backup")
    failed = stack.sim.state.run_scheduled_now(999, fail=True)
    await wait_until(
        lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="the new backup's alert"
    )


async def test_a_failure_alert_reads_in_two_seconds(stack: Stack) -> None:
    """At most five log lines (the rest behind Show log); Run snapshot the one primary button."""
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    log = "\n".join(f"Error line {n}: INVALID_SESSION_ID" for n in range(1, 13))
    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True, log=log)
    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="the alert")
    alert = alerts_in(stack.slack, CHANNEL, failed.id)[0]
    message = {"text": alert.text, "blocks": alert.blocks, "ts": alert.ts}
    shown = rendered(message)
    assert "Error line 5:" in shown and "Error line 6:" not in shown
    assert "7 more lines" in shown
    primary = [
        b["action_id"]
        for block in alert.blocks
        if block["type"] == "actions"
        for b in block["elements"]
        if b.get("style") == "primary"
    ]
    assert primary == [ActionId.RUN_SNAPSHOT]
    assert_valid_payloads(stack.slack)
