"""Failure episodes: the streak header of an alert, its thread replies, and the recovery.

A backup that keeps failing gets one top-level alert; later failures go in its thread and the
alert's first line shows the streak, so the channel is not flooded. Look:
docs/reference/messages.md#failure-episodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.skyvia.models import Snapshot
from bot.slack.messages.alerts import mentions_text
from bot.slack.messages.buttons import (
    mute_menu,
    run_snapshot_button,
    show_log_button,
    take_button,
)
from bot.slack.messages.common import Message, actions, compact, context, fallback, section
from bot.slack.messages.mrkdwn import (
    backup_label,
    backup_label_plain,
    format_duration,
    plural,
    slack_date,
)
from bot.slack.messages.snapshots import log_excerpt_blocks
from bot.slack.messages.takers import takers_block


def streak_phrase(failures: int) -> str:
    """`3 failed snapshots in a row`, `1 failed snapshot`: an episode's streak."""
    return f"{failures} failed snapshots in a row" if failures != 1 else "1 failed snapshot"


def episode_header(
    backup_id: int,
    backup_name: str | None,
    failures: int,
    since: datetime,
    latest_id: int,
    mention_ids: Sequence[str] = (),
    *,
    first_id: int | None = None,
    takers: Sequence[str] = (),
) -> Message:
    """The failure alert redrawn for a streak: its first line counts the failures (the
    channel's mentions stay, as in the alert; an edit notifies nobody again), and who is on
    it stays too (`takers`; the `I'm on it` button keeps the alert's own snapshot,
    `first_id`)."""
    cc = mentions_text(mention_ids)
    label = backup_label(backup_name, backup_id)
    line = f":x: {label} is failing — {streak_phrase(failures)} since {slack_date(since)}"
    plain = (
        f":x: {backup_label_plain(backup_name, backup_id)} is failing — {streak_phrase(failures)}"
    )
    blocks = [
        section(line),
        takers_block(takers),
        section(cc) if cc else None,
        context(f"Latest: snapshot {latest_id}", "Every failure is in the thread"),
        actions(  # as the failure alert it replaces
            run_snapshot_button(backup_id, backup_name, retry_of=latest_id, primary=True),
            take_button(backup_id, latest_id if first_id is None else first_id),
            show_log_button(backup_id, latest_id),
            mute_menu(backup_id, backup_name),
        ),
    ]
    return Message(text=fallback(plain), blocks=compact(blocks))


def episode_failure_reply(
    backup_id: int, backup_name: str | None, snapshot: Snapshot, failures: int
) -> Message:
    """A further failure of an open episode, in its alert's thread."""
    line = f":x: Snapshot {snapshot.snapshot_id} failed too ({streak_phrase(failures)})"
    when = snapshot.end_time or snapshot.start_time or snapshot.queue_time
    details = [
        slack_date(when) if when else "",
        "by schedule" if snapshot.run_by_schedule else "",
        plural(snapshot.error_rows, "error") if snapshot.error_rows else "",
    ]
    blocks = [
        section(line),
        context(*details),
        *log_excerpt_blocks(backup_id, snapshot.snapshot_id, snapshot.log),
    ]
    plain = (
        f":x: Snapshot {snapshot.snapshot_id} of {backup_label_plain(backup_name, backup_id)} "
        f"failed too ({streak_phrase(failures)})"
    )
    return Message(text=fallback(plain), blocks=compact(blocks))


def recovered_reply(snapshot_id: int, failures: int, failing_for: float) -> Message:
    """The success that ends an episode, in its alert's thread."""
    line = (
        f":white_check_mark: Recovered: snapshot {snapshot_id} succeeded after "
        f"{plural(failures, 'failure')} (failing for {format_duration(failing_for)})"
    )
    return Message(text=fallback(line), blocks=[section(line)])


def recovered_header(
    backup_id: int, backup_name: str | None, failures: int, snapshot_id: int
) -> Message:
    """The alert's first line once the backup works again."""
    label = backup_label(backup_name, backup_id)
    line = f":white_check_mark: {label} recovered after {plural(failures, 'failure')}"
    plain = (
        f":white_check_mark: {backup_label_plain(backup_name, backup_id)} recovered after "
        f"{plural(failures, 'failure')}"
    )
    blocks = [
        section(line),
        context(f"Snapshot {snapshot_id} succeeded", "The failures are in the thread"),
        actions(run_snapshot_button(backup_id, backup_name)),
    ]
    return Message(text=fallback(plain), blocks=compact(blocks))
