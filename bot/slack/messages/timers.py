"""Timed mutes and maintenance windows: the notices when they start and the notes when they end.

Each start notice carries the one button that ends it early (`Unmute`, `End window now`), and
names the end as a Slack date, so every reader sees it in their own time zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.services.announcements import TimerEnded
from bot.services.timers import PendingEnd, TimerKind
from bot.skyvia.models import Backup
from bot.slack.messages.buttons import end_window_button, unmute_button
from bot.slack.messages.common import Message, actions, compact, context, fallback, section
from bot.slack.messages.mrkdwn import backup_label, escape_mrkdwn, slack_date, user_mention


def _span(words: str) -> str:
    """`for 2h` / `until 18:00`: how the person who set it said it."""
    return f"until {words}" if ":" in words else f"for {words}"


def timed_mute_message(user_id: str, backup: Backup, until: datetime, words: str) -> Message:
    """Told to the channel: who muted a backup's alerts, until when, with an Unmute button."""
    line = (
        f":no_bell: {user_mention(user_id)} muted failure alerts for "
        f"{backup_label(backup.name, backup.id)} in this channel until {slack_date(until)}."
    )
    return Message(
        text=fallback(line),
        blocks=compact(
            [
                section(line),
                context(
                    f"They come back by themselves; `/skyvia alerts unmute {backup.id}` sooner"
                ),
                actions(unmute_button(backup.id, backup.name)),
            ]
        ),
    )


def mute_unchanged_message(
    backup: Backup, until: datetime | None = None, *, muted: bool = True
) -> Message:
    """Told to the person only: the backup was muted already (until that end, when timed), or
    not muted already, so nothing changed (docs/reference/messages.md#channel-notices)."""
    end = f" until {slack_date(until)}" if until is not None else ""
    state = "muted" if muted else "not muted"
    line = (
        f":no_bell: Alerts for {backup_label(backup.name, backup.id)} are already {state} "
        f"here{end}; nothing changed."
    )
    hint = (
        f"`/skyvia alerts unmute {backup.id}` brings them back"
        if muted
        else "`/skyvia status` shows this channel's muted backups"
    )
    return Message(text=fallback(line), blocks=[section(line), context(hint)])


def window_unchanged_message(backup: Backup, until: datetime) -> Message:
    """Told to the person only: the same maintenance window is open already."""
    line = (
        f":construction: The schedule of {backup_label(backup.name, backup.id)} is already off "
        f"for maintenance until {slack_date(until)}; nothing changed."
    )
    return Message(
        text=fallback(line), blocks=compact([section(line), actions(end_window_button(backup.id))])
    )


def mute_ended_note(ended: TimerEnded) -> Message:
    line = (
        f":bell: Alerts for {backup_label(ended.backup_name, ended.backup_id)} are back on "
        f"(muted by {user_mention(ended.set_by)} {_span(ended.words)})"
    )
    return Message(text=fallback(line), blocks=[section(line)])


def window_opened_message(
    user_id: str, backup: Backup, until: datetime, was_active: bool
) -> Message:
    """Told to the channel: a maintenance window started, with an End window now button."""
    label = backup_label(backup.name, backup.id)
    state = "switched off the schedule of" if was_active else "kept the schedule off for"
    line = (
        f":construction: {user_mention(user_id)} {state} {label} for maintenance; "
        f"it is enabled again at {slack_date(until)}."
    )
    return Message(
        text=fallback(line),
        blocks=compact([section(line), actions(end_window_button(backup.id, backup.name))]),
    )


def window_ended_note(ended: TimerEnded) -> Message:
    label = backup_label(ended.backup_name, ended.backup_id)
    who = user_mention(ended.set_by)
    if ended.failed is not None:
        line = (
            f":warning: The maintenance window of {label} ended, but the bot could not turn "
            f"the schedule of {label} back on: {escape_mrkdwn(ended.failed)}. Turn it on by hand "
            f"with `/skyvia schedule {ended.backup_id} on` (window opened by {who} "
            f"{_span(ended.words)})."
        )
    elif ended.by_hand is not None:
        state = "on" if ended.turned_on else "off"
        line = (
            f":information_source: The maintenance window of {label} ended: "
            f"{user_mention(ended.by_hand)} turned the schedule {state} by hand, so its end "
            f"changes nothing (window opened by {who} {_span(ended.words)})."
        )
    elif ended.held_until is not None:
        line = (
            f":construction: The maintenance window of {label} opened here ended, but its "
            f"schedule stays off: another maintenance window on it ends "
            f"{slack_date(ended.held_until)} (window opened by {who} {_span(ended.words)})."
        )
    elif ended.enabled:
        line = (
            f":white_check_mark: The maintenance window of {label} ended: its schedule is "
            f"enabled again (window opened by {who} {_span(ended.words)})."
        )
    else:
        line = (
            f":information_source: The maintenance window of {label} ended, but its schedule "
            f"was already enabled, so nothing was done (window opened by {who})."
        )
    return Message(text=fallback(line), blocks=[section(line)])


def with_pending_ends(
    message: Message, ends: Sequence[PendingEnd], names: Mapping[int, str] | None = None
) -> Message:
    """`message` with a line per pending end (`status`, `schedule <id>`): when each stops,
    naming the backup as everywhere ("Mute of *Nightly CRM* (456) ends …")."""
    if not ends:
        return message
    names = names or {}
    lines = [
        f"{_ENDS[end.kind]} {backup_label(names.get(end.backup_id), end.backup_id)} "
        f"ends {slack_date(end.due_at)}"
        for end in ends
    ]
    return Message(text=message.text, blocks=[*message.blocks, context(*lines)])


_ENDS = {TimerKind.MUTE_END: "Mute of", TimerKind.WINDOW_END: "Maintenance window of"}


def window_ending_message(backup_id: int) -> Message:
    """To the person who clicked End window now: it ends at once, the channel hears the rest."""
    line = (
        f":construction: The maintenance window of backup {backup_id} ends now; the channel is "
        "told when its schedule is back on."
    )
    return Message(text=fallback(line), blocks=[section(line)])
