"""When a typed name fits more than one backup: the candidates, each as a button.

Each button carries the backup's id and does what the command was going to do (Run snapshot,
Details, the schedule, Mute) through the same listener as that button elsewhere, with the same
confirm, labelled with the backup's name so picking costs no second look-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from slack_sdk.models.blocks import Block, ButtonElement, PlainTextObject

from bot.skyvia.models import Backup
from bot.slack.messages.buttons import (
    details_button,
    mute_button,
    run_snapshot_button,
    schedule_button,
    snapshots_button,
    unmute_button,
)
from bot.slack.messages.common import (
    BUTTON_TEXT_LIMIT,
    Message,
    actions,
    context,
    fallback,
    section,
)
from bot.slack.messages.mrkdwn import (
    backup_label,
    cut_plain,
    escape_mrkdwn,
    escape_name_cut,
    plural,
)
from bot.slack.messages.payloads import SnapshotFilters

CANDIDATES_SHOWN = 10
"""Buttons offered; more than this and the user is asked to type more of the name."""


class Pick(StrEnum):
    """What the command that named the backup was going to do."""

    RUN_SNAPSHOT = "run_snapshot"
    DETAILS = "details"
    SCHEDULE = "schedule"
    ENABLE_SCHEDULE = "enable_schedule"
    DISABLE_SCHEDULE = "disable_schedule"
    MUTE = "mute"
    UNMUTE = "unmute"
    SNAPSHOTS = "snapshots"
    RETYPE = "retype"
    """No button does it (`alerts stale`): each candidate is offered as the command with its id."""


def candidates_message(
    typed: str,
    candidates: Sequence[Backup],
    pick: Pick,
    *,
    filters: SnapshotFilters | None = None,
    retype: str = "",
) -> Message:
    """The candidates as buttons doing `pick` (`filters` kept for `Pick.SNAPSHOTS`); for
    `Pick.RETYPE`, as the command to type, `retype` with `{id}` for each backup's id."""
    shown = list(candidates)[:CANDIDATES_SHOWN]
    typed_shown = escape_name_cut(typed, 80)
    if len(candidates) == 1:  # found by part of its name only: named back before it acts
        label = backup_label(candidates[0].name, candidates[0].id)
        text = f"“{typed_shown}” is only part of the name of {label}. Is it this one?"
    else:
        text = f"“{typed_shown}” fits {plural(len(candidates), 'backup')}; pick one:"
    hidden = len(candidates) - len(shown)
    blocks: list[Block] = [section(text)]
    if pick is Pick.RETYPE:
        lines = [
            f"• {backup_label(b.name, b.id)}: `/skyvia {escape_mrkdwn(retype.format(id=b.id))}`"
            for b in shown
        ]
        blocks.append(section("\n".join(lines)))
    elif (rows := actions(*(_pick_button(b, pick, filters) for b in shown))) is not None:
        blocks.append(rows)
    if hidden:
        blocks.append(context(f"and {hidden} more; type more of the name"))
    labels = ", ".join(backup_label(b.name, b.id) for b in shown)
    return Message(text=fallback(f"{text} {labels}"), blocks=blocks)


def _pick_button(backup: Backup, pick: Pick, filters: SnapshotFilters | None) -> ButtonElement:
    """The usual button for `pick` (payload, confirm), labelled with the backup's name."""
    match pick:
        case Pick.SNAPSHOTS:
            found = snapshots_button(backup.id, filters)
        case Pick.RUN_SNAPSHOT:
            found = run_snapshot_button(backup.id, backup.name)
        case Pick.DETAILS:
            found = details_button(backup.id)
        case Pick.SCHEDULE:
            found = schedule_button(backup.id, backup.name, None)
        case Pick.ENABLE_SCHEDULE | Pick.DISABLE_SCHEDULE:
            found = schedule_button(backup.id, backup.name, pick == Pick.DISABLE_SCHEDULE)
        case Pick.MUTE:
            found = mute_button(backup.id, backup.name)
        case Pick.UNMUTE:
            found = unmute_button(backup.id, backup.name)
        case Pick.RETYPE:
            raise ValueError("a retyped pick has no button")
    tail = f" ({backup.id})"  # two backups may share a name: the id tells them apart
    name = cut_plain(backup.display_name, BUTTON_TEXT_LIMIT - len(tail))
    found.text = PlainTextObject(text=name + tail)
    return found
