"""Stale backups: the alert that no good snapshot came for too long, and "fresh again"."""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack.messages.alerts import mentions_text
from bot.slack.messages.buttons import mute_menu, run_snapshot_button, take_button
from bot.slack.messages.common import Message, actions, compact, context, fallback, section
from bot.slack.messages.mrkdwn import (
    backup_label,
    backup_label_plain,
    format_duration,
    user_mention,
)


def stale_alert(
    backup_id: int,
    backup_name: str | None,
    age_seconds: float | None,
    cadence_seconds: float | None,
    mention_ids: Sequence[str] = (),
    *,
    snapshot_id: int = 0,
) -> Message:
    """Top-level, once per stale episode, with the channel's mentions like a failure alert;
    `I'm on it` names the episode by its last good snapshot (`snapshot_id`, 0 for none).

    Look: docs/reference/messages.md#stale-backups.
    """
    cc = mentions_text(mention_ids)
    age = f" for {format_duration(age_seconds)}" if age_seconds is not None else ""
    usual = (
        f" (it usually runs every {format_duration(cadence_seconds)})"
        if cadence_seconds is not None
        else ""
    )
    line = f":alarm_clock: No good snapshot of {backup_label(backup_name, backup_id)}{age}{usual}"
    plain = (
        f":alarm_clock: No good snapshot of {backup_label_plain(backup_name, backup_id)}{age}"
        f"{usual}" + (f" · {cc}" if cc else "")
    )
    blocks = [
        section(line),
        section(cc) if cc else None,
        context(f"`/skyvia alerts stale {backup_id} 26h` sets the limit, `… off` turns it off"),
        actions(
            run_snapshot_button(backup_id, backup_name, primary=True),
            take_button(backup_id, snapshot_id),
            mute_menu(backup_id, backup_name),
        ),
    ]
    return Message(text=fallback(plain), blocks=compact(blocks))


def fresh_again_reply(backup_id: int, backup_name: str | None, snapshot_id: int) -> Message:
    """In the stale alert's thread: a good snapshot arrived."""
    line = (
        f":white_check_mark: {backup_label(backup_name, backup_id)} is fresh again: "
        f"snapshot {snapshot_id} succeeded"
    )
    plain = (
        f":white_check_mark: {backup_label_plain(backup_name, backup_id)} is fresh again: "
        f"snapshot {snapshot_id} succeeded"
    )
    return Message(text=fallback(plain), blocks=[section(line)])


def fresh_again_header(backup_id: int, backup_name: str | None, snapshot_id: int) -> Message:
    """The stale alert's first line once a good snapshot arrived, as a failure alert's turns to
    "recovered" (`recovered_header`): without the mentions (an edit notifies nobody again) and
    without `I'm on it`, nothing is left to take."""
    line = f":white_check_mark: {backup_label(backup_name, backup_id)} is fresh again"
    plain = f":white_check_mark: {backup_label_plain(backup_name, backup_id)} is fresh again"
    blocks = [
        section(line),
        context(f"Snapshot {snapshot_id} succeeded", "The stale alert is in the thread"),
        actions(run_snapshot_button(backup_id, backup_name)),
    ]
    return Message(text=fallback(plain), blocks=compact(blocks))


def stale_limit_changed_message(
    user_id: str,
    backup_id: int,
    backup_name: str | None,
    limit_seconds: int | None,
    off: bool,
) -> Message:
    """Told to the channel: who changed how old a backup's last good snapshot may get."""
    label = backup_label(backup_name, backup_id)
    if off:
        what = "turned stale alerts *off* for"
    elif limit_seconds is None:
        what = "set stale alerts to *auto* (2.5 × its usual gap between runs, 1 h at least) for"
    else:
        what = f"set the stale limit to *{format_duration(limit_seconds)}* for"
    line = f":alarm_clock: {user_mention(user_id)} {what} {label} in this channel."
    return Message(text=fallback(line), blocks=[section(line)])
