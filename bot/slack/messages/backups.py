"""The backups list, a backup's details, and its schedule."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, DividerBlock

from bot.skyvia.models import ActiveRun, Backup, Snapshot
from bot.slack.messages.buttons import (
    backups_nav,
    details_button,
    run_snapshot_button,
    schedule_button,
    snapshots_button,
)
from bot.slack.messages.common import (
    Message,
    actions,
    compact,
    context,
    fallback,
    fit_lines,
    section,
)
from bot.slack.messages.mrkdwn import (
    backup_label,
    backup_label_plain,
    slack_date,
    state_emoji,
    state_phrase,
    user_mention,
)
from bot.slack.messages.snapshots import snapshot_line
from bot.slack.parsing import MAX_PAGE
from bot.slack.payloads import Screen

BACKUPS_PAGE_SIZE = 10
"""Backups per page of `/skyvia backups`: the handler asks Skyvia for `take=10`."""
LAST_SNAPSHOTS_SHOWN = 5


def schedule_emoji(active: bool | None) -> str:
    if active is None:
        return ":grey_question:"
    return ":large_green_circle:" if active else ":white_circle:"


def schedule_words(active: bool | None) -> str:
    """`🟢 schedule on`, `⚪ schedule off`, or `❔ schedule unknown` (Skyvia did not say)."""
    state = "unknown" if active is None else "on" if active else "off"
    return f"{schedule_emoji(active)} schedule {state}"


def backups_page_message(
    workspace_id: int, backups: Sequence[Backup], page: int, has_more: bool
) -> Message:
    """One page of backups, each with Run snapshot / schedule toggle / Details buttons.

    More than a page's worth is cut to `BACKUPS_PAGE_SIZE` and offers Next, so a caller that
    passes too much still gets a message Slack accepts.
    """
    shown = list(backups[:BACKUPS_PAGE_SIZE])
    has_more = (has_more or len(backups) > BACKUPS_PAGE_SIZE) and page < MAX_PAGE
    title = f"*Backups of workspace {workspace_id}* · page {page}"
    blocks: list[Block | None] = [section(title)]
    if not shown:
        blocks.append(
            section(
                "No backups in this workspace."
                if page == 1
                else "No backups on this page; go back to the previous one."
            )
        )
    for backup in shown:
        blocks.append(
            section(f"{backup_label(backup.name, backup.id)} · {schedule_words(backup.scheduled)}")
        )
        blocks.append(
            actions(
                run_snapshot_button(backup.id, backup.name),
                schedule_button(
                    backup.id, backup.name, backup.scheduled, screen=Screen.BACKUPS, page=page
                ),
                details_button(backup.id),
            )
        )
    nav = backups_nav(page, has_more)
    if nav:
        blocks += [DividerBlock(), actions(*nav)]
    return Message(
        text=fallback(f"Backups of workspace {workspace_id}, page {page}"), blocks=compact(blocks)
    )


def backup_details_message(
    backup: Backup,
    schedule_active: bool | None,
    active_run: ActiveRun | None,
    last_snapshots: Sequence[Snapshot],
) -> Message:
    """Name, created, modified, schedule, the running snapshot if any, the last few snapshots."""
    label = backup_label(backup.name, backup.id)
    facts = [
        f"Created {slack_date(backup.created)}" if backup.created else "",
        f"modified {slack_date(backup.modified)}" if backup.modified else "",
        schedule_words(schedule_active),
    ]
    if active_run is not None:
        running = (
            f"{state_emoji(active_run.state)} Snapshot {active_run.run_id} "
            f"{state_phrase(active_run.state)}"
        )
        if active_run.date is not None:
            running += f", started {slack_date(active_run.date)}"
    else:
        running = "No snapshot is running."
    recent = list(last_snapshots[:LAST_SNAPSHOTS_SHOWN])
    if recent:
        history = fit_lines(["*Last snapshots*", *(snapshot_line(s) for s in recent)])
    else:
        history = "No finished snapshots yet."
    blocks: list[Block | None] = [
        section(f"*Backup* {label}"),
        context(*facts),
        section(running),
        section(history),
        actions(
            run_snapshot_button(backup.id, backup.name),
            schedule_button(backup.id, backup.name, schedule_active, screen=Screen.DETAILS),
            snapshots_button(backup.id),
        ),
    ]
    return Message(
        text=fallback(f"Backup {backup_label_plain(backup.name, backup.id)}"),
        blocks=compact(blocks),
    )


def schedule_message(backup: Backup, active: bool, *, already: bool = False) -> Message:
    """The schedule's state with exactly one toggle button.

    `already`: answers `schedule <id> on|off` that asked for the state it was in, so the user
    learns nothing was switched (and the channel was not told).
    See `schedule` in docs/reference/commands.md#the-skyvia-command.
    """
    label = backup_label(backup.name, backup.id)
    state = "*on*" if active else "*off*"
    is_ = "is already" if already else "is"
    tail = "; nothing changed." if already else "."
    line = f"{schedule_emoji(active)} The schedule of {label} {is_} {state}{tail}"
    return Message(
        text=fallback(
            f"The schedule of {backup_label_plain(backup.name, backup.id)} {is_} "
            f"{'on' if active else 'off'}{tail}"
        ),
        blocks=compact([section(line), actions(schedule_button(backup.id, backup.name, active))]),
    )


def schedule_changed_announcement(user_id: str, backup: Backup, active: bool) -> Message:
    """Told to the channel after a toggle: "@user disabled the schedule of *Name* (456)"."""
    verb = "enabled" if active else "disabled"
    line = f"{user_mention(user_id)} {verb} the schedule of {backup_label(backup.name, backup.id)}"
    return Message(
        text=fallback(
            f"{user_mention(user_id)} {verb} the schedule of "
            f"{backup_label_plain(backup.name, backup.id)}"
        ),
        blocks=[section(line)],
    )
