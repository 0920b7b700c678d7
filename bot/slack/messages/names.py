"""When a typed name fits more than one backup: the candidates, each as a button.

Each button carries the backup's id and re-runs what was asked (Run snapshot, Details) through
the same listener as the buttons elsewhere, so picking costs no second look-up.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ConfirmObject

from bot.skyvia.models import Backup
from bot.slack.ids import ActionId
from bot.slack.messages.common import (
    Message,
    actions,
    button,
    confirm_dialog,
    context,
    fallback,
    section,
)
from bot.slack.messages.mrkdwn import backup_label, escape_name_cut, plural
from bot.slack.payloads import BackupRef

CANDIDATES_SHOWN = 10
"""Buttons offered; more than this and the user is asked to type more of the name."""


def candidates_message(typed: str, candidates: Sequence[Backup], action: ActionId) -> Message:
    """`action` is the button of what the command was going to do (Run snapshot, Details)."""
    shown = list(candidates)[:CANDIDATES_SHOWN]
    text = f"“{escape_name_cut(typed, 80)}” fits {plural(len(candidates), 'backup')}; pick one:"
    rows = actions(
        *(
            button(b.display_name, action, BackupRef(backup_id=b.id), confirm=_confirm(b, action))
            for b in shown
        )
    )
    hidden = len(candidates) - len(shown)
    blocks: list[Block] = [section(text)]
    if rows is not None:
        blocks.append(rows)
    if hidden:
        blocks.append(context(f"and {hidden} more; type more of the name"))
    labels = ", ".join(backup_label(b.name, b.id) for b in shown)
    return Message(text=fallback(f"{text} {labels}"), blocks=blocks)


def _confirm(backup: Backup, action: ActionId) -> ConfirmObject | None:
    """Buttons that change something ask first, as everywhere (Details only reads)."""
    if action != ActionId.RUN_SNAPSHOT:
        return None
    return confirm_dialog(
        title="Run a snapshot?",
        text=f"Start a snapshot of {backup_label(backup.name, backup.id)} now?",
        confirm="Run snapshot",
    )
