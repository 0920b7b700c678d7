"""The lifecycle card of a snapshot started from Slack, and the notes in its thread.

The card is one message the watcher keeps updating (`chat.update`), so it is built from plain
values that both `POST .../snapshots` (an `ActiveRun`) and `GET .../snapshots/{id}` (a
`Snapshot`) can supply.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.services.models import WatchedRun
from bot.skyvia.models import ActiveRun, Backup, Snapshot, SnapshotState
from bot.slack.messages.buttons import (
    run_anyway_button,
    run_snapshot_button,
    show_log_button,
)
from bot.slack.messages.common import (
    Message,
    actions,
    compact,
    context,
    fallback,
    section,
)
from bot.slack.messages.mrkdwn import (
    backup_label,
    backup_label_plain,
    channel_mention,
    escape_name_cut,
    format_count,
    format_duration,
    message_link,
    plural,
    slack_date,
    state_emoji,
    state_name,
    state_phrase,
    user_mention,
)
from bot.slack.messages.snapshots import log_excerpt_blocks, rows_text

_ATTENTION = frozenset({SnapshotState.FAILED, SnapshotState.CANCELED})


def _card_timing(state: SnapshotState, started_at: datetime, duration_s: float | None) -> list[str]:
    """When it started, and how long it took once it is over.

    A card in progress says "started 3 minutes ago" as a relative Slack date that each reader's
    client keeps current, so a card the watcher has not edited for a while is never frozen at
    "running for 0s"; its fallback is the absolute UTC time.
    """
    if state.is_terminal:
        took = f"took {format_duration(duration_s)}" if duration_s is not None else ""
        return [slack_date(started_at), took]
    verb = "queued" if state in (SnapshotState.NEW, SnapshotState.QUEUED) else "started"
    return [f"{verb} {slack_date(started_at, '{ago}')}"]


def _started_by(user_id: str, workflow: str | None) -> str:
    if workflow is None:
        return f"Started by {user_mention(user_id)}"
    return f"Started by workflow *{escape_name_cut(workflow, 80)}* (run by {user_mention(user_id)})"


def snapshot_card(
    backup_id: int,
    backup_name: str | None,
    snapshot_id: int,
    state: SnapshotState | str,
    started_by: str,
    started_at: datetime,
    now: datetime,
    duration_s: float | None = None,
    rows: int | None = None,
    errors: int | None = None,
    *,
    retry_of: int | None = None,
    retried_link: str | None = None,
    workflow: str | None = None,
) -> Message:
    """The lifecycle card: the first post, and every `chat.update` as the state moves on.

    A run a Workflow Builder step started says so, with the `workflow`'s title.

    A retry's first post says what it retries (`retry_of`) and links to that failure's message
    (`retried_link`, a permalink); it is posted in that message's thread.
    """
    state = SnapshotState(state)
    label = backup_label(backup_name, backup_id)
    head = f"{state_emoji(state)} Snapshot of {label} {state_phrase(state)}"
    retry = ""
    if retry_of is not None:
        link = message_link(retried_link, "see the failure")
        retry = f"Retry of snapshot {retry_of}" + (f" ({link})" if link else "")
    details = [
        retry,
        _started_by(started_by, workflow),
        f"snapshot {snapshot_id}",
        *_card_timing(state, started_at, duration_s),
        plural(rows, "row") if rows is not None else "",
        plural(errors, "error") if errors else "",
    ]
    buttons = []
    if state.is_terminal:
        buttons.append(show_log_button(backup_id, snapshot_id))
    if state in _ATTENTION:
        buttons.append(run_snapshot_button(backup_id, backup_name, retry_of=snapshot_id))
    return Message(
        text=fallback(
            f"{state_emoji(state)} Snapshot of {backup_label_plain(backup_name, backup_id)} "
            f"{state_phrase(state)}"
        ),
        blocks=compact([section(head), context(*details), actions(*buttons)]),
    )


def snapshot_outcome_reply(
    backup_id: int,
    backup_name: str | None,
    snapshot: Snapshot,
    started_by: str,
    *,
    without_card: bool = False,
) -> Message:
    """The thread reply when a watched snapshot ends: "@dana ✅ Succeeded in 5m 12s — …".

    Failed and canceled runs also carry the first log lines and a retry; the notifier broadcasts
    those to the channel, so the reply names the backup too. `without_card`: the run's card
    could never be posted, so the outcome stands alone in the channel and says why.
    """
    state = snapshot.state
    duration = snapshot.duration_seconds
    preposition = "in" if state == SnapshotState.SUCCEEDED else "after"
    line = f"{user_mention(started_by)} {state_emoji(state)} {state_name(state)}"
    if duration is not None:
        line += f" {preposition} {format_duration(duration)}"
    rows = rows_text(snapshot.success_rows, snapshot.error_rows)
    if rows:
        line += f" — {rows}"
    line += "."
    blocks: list[Block | None] = [
        section(line),
        context(f"{backup_label(backup_name, backup_id)}", f"snapshot {snapshot.snapshot_id}"),
    ]
    if without_card:
        blocks.append(context("This run's progress card could not be posted in this channel."))
    if state in _ATTENTION:
        blocks += log_excerpt_blocks(backup_id, snapshot.snapshot_id, snapshot.log)
        blocks.append(
            actions(
                show_log_button(backup_id, snapshot.snapshot_id),
                run_snapshot_button(backup_id, backup_name, retry_of=snapshot.snapshot_id),
            )
        )
    return Message(
        text=fallback(
            f"{user_mention(started_by)} Snapshot {snapshot.snapshot_id} of "
            f"{backup_label_plain(backup_name, backup_id)} {state_phrase(state)}"
        ),
        blocks=compact(blocks),
    )


def card_pending_message(backup: Backup, snapshot_id: int) -> Message:
    """To the user who started a run whose card did not post at once (the outbox sends it)."""
    line = (
        f":hourglass_flowing_sand: Snapshot {snapshot_id} of {backup_label(backup.name, backup.id)}"
        " was started. Slack did not take its progress card just now; I will post it in this "
        "channel shortly, with the outcome in its thread."
    )
    return Message(text=fallback(line), blocks=[section(line)])


def only_run_message(backup: Backup, ended_id: int | None) -> Message:
    """To who clicked Start another anyway after the active run ended: this run is the only one."""
    which = f"Snapshot {ended_id}" if ended_id is not None else "The run that was active"
    line = (
        f":information_source: {which} of {backup_label(backup.name, backup.id)} had finished "
        "by the time you clicked, so the snapshot just started is the only one running."
    )
    return Message(text=fallback(line), blocks=[section(line)])


def still_running_note(minutes: int) -> Message:
    """The threaded "still running" note the watcher posts at most every 30 minutes."""
    elapsed = f"{minutes} min" if minutes < 60 else format_duration(minutes * 60)
    line = f":arrows_counterclockwise: Still running ({elapsed})."
    return Message(text=fallback(line), blocks=[section(line)])


def gave_up_note(hours: float, backup_id: int | None = None) -> Message:
    """The threaded note when a watch hits its limit; the snapshot may still finish in Skyvia."""
    limit = format_duration(hours * 3600)
    line = (
        f":grey_question: Stopped watching after {limit}; the snapshot had not finished. "
        "Its outcome will not be posted here."
    )
    if backup_id is not None:
        line += f" Check it with `/skyvia backup {backup_id}`."
    return Message(text=fallback(line), blocks=[section(line)])


def vanished_note(backup_id: int) -> Message:
    """The threaded note when Skyvia no longer knows a watched snapshot: the watch ends."""
    line = (
        ":grey_question: Skyvia no longer knows this snapshot (it was not found), so it is no "
        f"longer watched. Check the backup with `/skyvia backup {backup_id}`."
    )
    return Message(text=fallback(line), blocks=[section(line)])


def vanished_card(
    backup_id: int,
    backup_name: str | None,
    snapshot_id: int,
    started_by: str,
    started_at: datetime,
) -> Message:
    """The card's last state when its snapshot vanished from Skyvia."""
    label = backup_label(backup_name, backup_id)
    head = f":grey_question: Snapshot of {label} was not found in Skyvia"
    details = [f"Started by {user_mention(started_by)}", f"snapshot {snapshot_id}"]
    details.append(slack_date(started_at))
    return Message(
        text=fallback(
            f":grey_question: Snapshot of {backup_label_plain(backup_name, backup_id)} "
            "was not found in Skyvia"
        ),
        blocks=compact(
            [section(head), context(*details), actions(run_snapshot_button(backup_id, backup_name))]
        ),
    )


def active_snapshot_exists_message(
    backup: Backup,
    active_run: ActiveRun,
    *,
    watch: WatchedRun | None = None,
    channel_id: str | None = None,
    permalink: str | None = None,
) -> Message:
    """Nothing was started because one runs; offers to start another, behind a confirm.

    Says who started the running one and when (`watch`, when it was started from Slack; else
    that it was started outside Slack), and links its card (`permalink`) when there is one.
    """
    label = backup_label(backup.name, backup.id)
    line = (
        f"{state_emoji(active_run.state)} Snapshot {active_run.run_id} of {label} "
        f"{state_phrase(active_run.state)}, so no new one was started."
    )
    link = message_link(permalink, "See its progress")
    if link:
        line += f" {link}."
    details = [f"Snapshot {active_run.run_id}", state_name(active_run.state)]
    if watch is not None:
        where = f" in {channel_mention(watch.channel_id)}" if watch.channel_id != channel_id else ""
        details.append(
            f"started by {user_mention(watch.started_by)}{where} {slack_date(watch.started_at)}"
        )
    else:
        details.append("started outside Slack (by its schedule or in Skyvia)")
        if active_run.date is not None:
            details.append(f"started {slack_date(active_run.date)}")
    if active_run.success_rows is not None:
        details.append(f"{format_count(active_run.success_rows)} rows so far")
    return Message(
        text=fallback(
            f"A snapshot of {backup_label_plain(backup.name, backup.id)} is already active "
            f"(snapshot {active_run.run_id}, {state_name(active_run.state)}); nothing was started."
        ),
        blocks=compact(
            [
                section(line),
                context(*details),
                actions(run_anyway_button(backup.id, backup.name, active_run.run_id)),
            ]
        ),
    )
