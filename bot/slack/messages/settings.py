"""A channel's alert settings as `status` and App Home show them: who its alerts mention, and
the stale and overdue limits set by hand (docs/reference/commands.md#the-skyvia-command).

Names come from the caller (as the alert scanner last saw them: no Skyvia call); a backup it
has no name for is shown by its id, as everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.services.models import BackupLimits
from bot.slack.messages.mrkdwn import backup_label, format_duration, person_or_group_mention


def mentioned(mention_ids: Sequence[str]) -> str:
    """`<!subteam^S1> <@U1>`: the people and user groups, as Slack mentions, in the order set
    (`status` answers one person; App Home is the viewer's own tab)."""
    return " ".join(person_or_group_mention(slack_id) for slack_id in mention_ids)


def limits_words(limits: BackupLimits) -> str:
    """`stale after 1d 02h · overdue notes off`: what was set by hand; `auto` goes unsaid."""
    words = []
    if limits.stale_off:
        words.append("stale alerts off")
    elif limits.stale_seconds is not None:
        words.append(f"stale after {format_duration(limits.stale_seconds)}")
    if limits.overdue_off:
        words.append("overdue notes off")
    elif limits.overdue_seconds is not None:
        words.append(f"overdue after {format_duration(limits.overdue_seconds)}")
    return " · ".join(words)


def limits_lines(limits: Sequence[BackupLimits], names: Mapping[int, str]) -> list[str]:
    """One line a backup: `*Nightly CRM* (456): stale after 1d 02h · overdue after 2h 00m`."""
    return [
        f"{backup_label(names.get(item.backup_id), item.backup_id)}: {limits_words(item)}"
        for item in limits
    ]
