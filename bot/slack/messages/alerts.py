"""Failure alerts, and the channel notices when someone changes alert settings."""

from __future__ import annotations

from collections.abc import Sequence

from bot.skyvia.models import Backup, Snapshot
from bot.slack.messages.buttons import (
    mute_menu,
    run_snapshot_button,
    show_log_button,
    take_button,
    unmute_button,
)
from bot.slack.messages.common import Message, actions, compact, context, fallback, section
from bot.slack.messages.mrkdwn import (
    backup_label,
    backup_label_plain,
    format_duration,
    person_or_group_mention,
    plural,
    slack_date,
    user_mention,
)
from bot.slack.messages.snapshots import log_excerpt_blocks

ALERT_LOG_LINES = 5
"""Log lines a channel alert shows, so it reads at a glance; the rest is behind Show log."""


def mentions_text(mention_ids: Sequence[str]) -> str:
    """`cc <@U1> <!subteam^S1>`: who a channel's alerts call for, or empty."""
    if not mention_ids:
        return ""
    return "cc " + " ".join(person_or_group_mention(slack_id) for slack_id in mention_ids)


def failure_alert(
    backup_id: int,
    backup_name: str | None,
    snapshot: Snapshot,
    by_schedule: bool,
    mention_ids: Sequence[str] = (),
) -> Message:
    """The unprompted top-level message for a failed snapshot.

    The channel's mentions get a section of their own, below the first line, and are in the
    fallback text too, which is what Slack's notifications read. Its look:
    docs/reference/messages.md#failure-alerts.
    """
    cc = mentions_text(mention_ids)
    kind = "Scheduled snapshot" if by_schedule else "Snapshot"
    line = f":x: {kind} of {backup_label(backup_name, backup_id)} failed"
    when = snapshot.end_time or snapshot.start_time or snapshot.queue_time
    duration = snapshot.duration_seconds
    details = [
        f"Snapshot {snapshot.snapshot_id}",
        slack_date(when) if when else "",
        f"after {format_duration(duration)}" if duration is not None else "",
        plural(snapshot.success_rows, "row") if snapshot.success_rows is not None else "",
        plural(snapshot.error_rows, "error") if snapshot.error_rows else "",
    ]
    blocks = [
        section(line),
        section(cc) if cc else None,
        context(*details),
        *log_excerpt_blocks(
            backup_id, snapshot.snapshot_id, snapshot.log, max_lines=ALERT_LOG_LINES
        ),
        actions(
            run_snapshot_button(
                backup_id, backup_name, retry_of=snapshot.snapshot_id, primary=True
            ),
            take_button(backup_id, snapshot.snapshot_id),
            show_log_button(backup_id, snapshot.snapshot_id),
            mute_menu(backup_id, backup_name),
        ),
    ]
    return Message(
        text=fallback(
            f":x: {kind} {snapshot.snapshot_id} of "
            f"{backup_label_plain(backup_name, backup_id)} failed" + (f" · {cc}" if cc else "")
        ),
        blocks=compact(blocks),
    )


def mentions_changed_message(user_id: str, mention_ids: Sequence[str]) -> Message:
    """Told to the channel: who its failure alerts mention from now on, and who set that."""
    if mention_ids:
        people = " ".join(person_or_group_mention(slack_id) for slack_id in mention_ids)
        line = f":bell: {user_mention(user_id)} set failure alerts here to mention {people}."
    else:
        line = f":bell: {user_mention(user_id)} turned off mentions in failure alerts here."
    hint = "`/skyvia alerts mention off` stops it" if mention_ids else ""
    return Message(
        text=fallback(line), blocks=compact([section(line), context(hint) if hint else None])
    )


def mentions_unchanged_message(mention_ids: Sequence[str]) -> Message:
    """Told to the person only: `alerts mention` asked for who is mentioned already."""
    people = " ".join(person_or_group_mention(slack_id) for slack_id in mention_ids)
    line = f":bell: Failure alerts here already mention {people or 'nobody'}; nothing changed."
    return Message(text=fallback(line), blocks=[section(line)])


def alerts_changed_message(user_id: str, enabled: bool) -> Message:
    """Told to the channel: who turned its failure alerts on or off."""
    if enabled:
        line = f":bell: {user_mention(user_id)} turned failure alerts *on* for this channel."
    else:
        line = (
            f":no_bell: {user_mention(user_id)} turned failure alerts *off* for this channel. "
            "Snapshots started from here are still reported in their threads."
        )
    return Message(text=fallback(line), blocks=[section(line)])


def alerts_unchanged_message(enabled: bool) -> Message:
    """Told to the user only: `alerts on|off` asked for what already was, so nothing changed."""
    if enabled:
        line = ":bell: Failure alerts are already on in this channel; nothing changed."
    else:
        line = (
            ":no_bell: Failure alerts are already off in this channel; nothing changed. "
            "`/skyvia alerts on` turns them back on."
        )
    return Message(text=fallback(line), blocks=[section(line)])


def mute_changed_message(user_id: str, backup: Backup, mute: bool) -> Message:
    """Told to the channel: who muted or unmuted a backup's alerts, and how to undo it.

    A mute notice carries an Unmute button: whoever sees that alerts went quiet can bring them
    back in one click, without looking up the command.
    """
    label = backup_label(backup.name, backup.id)
    if mute:
        line = (
            f":no_bell: {user_mention(user_id)} muted failure alerts for {label} in this channel."
        )
        undo = f"`/skyvia alerts unmute {backup.id}` to undo"
    else:
        line = f":bell: {user_mention(user_id)} unmuted failure alerts for {label} in this channel."
        undo = f"`/skyvia alerts mute {backup.id}` to mute again"
    plain = (
        f"{user_mention(user_id)} {'muted' if mute else 'unmuted'} failure alerts for "
        f"{backup_label_plain(backup.name, backup.id)}"
    )
    button = unmute_button(backup.id, backup.name) if mute else None
    return Message(
        text=fallback(plain), blocks=compact([section(line), context(undo), actions(button)])
    )
