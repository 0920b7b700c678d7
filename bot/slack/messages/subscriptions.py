"""Personal subscriptions: the DMs, and the answers to `subscribe`, `unsubscribe` and
`subscriptions`. Look: docs/reference/messages.md#personal-subscriptions.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.services.subscriptions import ALL_BACKUPS
from bot.skyvia.models import Snapshot
from bot.slack.messages.common import Message, context, fallback, section
from bot.slack.messages.mrkdwn import (
    backup_label,
    backup_label_plain,
    channel_mention,
    format_duration,
    plural,
    slack_date,
)


def _followed(backup_id: int) -> str:
    return "every backup" if backup_id == ALL_BACKUPS else f"backup {backup_id}"


def _stop_hint(channel_id: str, backup_id: int, by_all: bool) -> str:
    """Where and how to stop: the subscription that brought the DM (`all` covers every
    backup, and unsubscribing the one backup would not stop it)."""
    what = "all" if by_all else str(backup_id)
    return (
        f"You subscribed in {channel_mention(channel_id)}: "
        f"`/skyvia unsubscribe {what}` there stops these"
    )


def personal_failure_dm(
    channel_id: str,
    backup_id: int,
    backup_name: str | None,
    snapshot: Snapshot,
    *,
    by_all: bool = False,
) -> Message:
    """A subscriber's DM of a failed snapshot: what failed, when, where the channel heard it."""
    when = snapshot.end_time or snapshot.start_time or snapshot.queue_time
    line = f":x: Snapshot {snapshot.snapshot_id} of {backup_label(backup_name, backup_id)} failed"
    plain = (
        f":x: Snapshot {snapshot.snapshot_id} of "
        f"{backup_label_plain(backup_name, backup_id)} failed"
    )
    return Message(
        text=fallback(plain),
        blocks=[
            section(line),
            context(slack_date(when) if when else "", _stop_hint(channel_id, backup_id, by_all)),
        ],
    )


def personal_recovery_dm(
    channel_id: str,
    backup_id: int,
    backup_name: str | None,
    *,
    snapshot_id: int,
    failures: int,
    failing_for: float | None,
    by_all: bool = False,
) -> Message:
    """A subscriber's DM of the success that ended a failing streak (`failing_for` seconds)."""
    after = plural(failures, "failure")
    span = f", failing for {format_duration(failing_for)}" if failing_for is not None else ""
    line = (
        f":white_check_mark: {backup_label(backup_name, backup_id)} recovered: "
        f"snapshot {snapshot_id} succeeded after {after}{span}"
    )
    plain = (
        f":white_check_mark: {backup_label_plain(backup_name, backup_id)} recovered after {after}"
    )
    return Message(
        text=fallback(plain),
        blocks=[section(line), context(_stop_hint(channel_id, backup_id, by_all))],
    )


def subscribed_message(backup_id: int | None, added: bool) -> Message:
    """Told to the person only: what they will get by DM from now on."""
    what = _followed(ALL_BACKUPS if backup_id is None else backup_id)
    if added:
        line = (
            f":bell: You will get failures and recoveries of {what} of this channel's "
            "workspace by DM."
        )
    else:
        line = f":bell: You already get failures and recoveries of {what} by DM; nothing changed."
    hint = "`/skyvia subscriptions` lists them, `/skyvia unsubscribe all` stops them"
    return Message(text=fallback(line), blocks=[section(line), context(hint)])


def unsubscribed_message(backup_id: int | None, removed: int, followed: Sequence[int]) -> Message:
    """Told to the person only: what stopped, or why nothing did."""
    if removed:
        what = "any backup" if backup_id is None else f"backup {backup_id}"
        line = f":no_bell: You will no longer get DMs about {what} of this channel."
    elif backup_id is not None and ALL_BACKUPS in followed:
        line = (
            f":bell: You follow every backup here, so backup {backup_id} too: "
            "`/skyvia unsubscribe all` stops them all, then subscribe to the ones you want."
        )
    else:
        line = ":no_bell: You had no such subscription here; nothing changed."
    return Message(text=fallback(line), blocks=[section(line)])


def subscriptions_message(followed: Sequence[int]) -> Message:
    """`/skyvia subscriptions`: what this person gets by DM from this channel."""
    if not followed:
        line = (
            ":no_bell: You get no DMs from this channel. `/skyvia subscribe <backupId>` or "
            "`/skyvia subscribe all` starts them."
        )
        return Message(text=fallback(line), blocks=[section(line)])
    what = ", ".join(_followed(b) for b in followed)
    line = f":bell: By DM from this channel you get failures and recoveries of {what}."
    return Message(
        text=fallback(line),
        blocks=[section(line), context("`/skyvia unsubscribe <backupId>|all` stops them")],
    )
