"""The backups list, a backup's details, and its schedule."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from slack_sdk.models.blocks import Block, DividerBlock

from bot.services.backups import BackupRow, BackupsListing
from bot.skyvia.models import ActiveRun, Backup, Snapshot
from bot.slack.grammar.parsing import MAX_PAGE
from bot.slack.messages.buttons import (
    backups_nav,
    row_menu,
    run_snapshot_button,
    schedule_button,
    snapshots_button,
    undo_schedule_button,
)
from bot.slack.messages.common import (
    Message,
    actions,
    compact,
    context,
    fallback,
    fit_lines,
    past_end_note,
    section,
)
from bot.slack.messages.mrkdwn import (
    UNKNOWN_STATE_EMOJI,
    backup_label,
    backup_label_plain,
    escape_name,
    escape_name_cut,
    plural,
    slack_date,
    state_emoji,
    state_name,
    state_phrase,
    user_mention,
)
from bot.slack.messages.payloads import Screen
from bot.slack.messages.snapshots import snapshot_line

BACKUPS_PAGE_SIZE = 10
"""Backups per page of `/skyvia backups`: the handler asks Skyvia for `take=10`."""
LAST_SNAPSHOTS_SHOWN = 5
WORKSPACE_NAME_LIMIT = 100
MUTED_MARK = ":no_bell: muted"
"""On a backups list row of a backup muted in the channel, as `health` marks it."""


def schedule_emoji(active: bool | None) -> str:
    if active is None:
        return ":grey_question:"
    return ":large_green_circle:" if active else ":white_circle:"


def schedule_words(active: bool | None) -> str:
    """`🟢 schedule on`, `⚪ schedule off`, or `❔ schedule unknown` (Skyvia did not say)."""
    state = "unknown" if active is None else "on" if active else "off"
    return f"{schedule_emoji(active)} schedule {state}"


def last_run_words(row: BackupRow) -> str:
    """`✅ last run succeeded 2 hours ago`, `never run`, or `last run not known`."""
    run = row.last_run
    if not row.known:
        return f"{UNKNOWN_STATE_EMOJI} last run not known"
    if run is None:
        return ":zzz: never run"
    moment = run.end_time or run.start_time or run.queue_time
    age = f" {slack_date(moment, '{ago}')}" if moment is not None else ""
    return f"{state_emoji(run.state)} last run {state_name(run.state).lower()}{age}"


def _workspace_words(workspace_id: int, workspace_name: str | None) -> str:
    """The workspace's name, escaped and cut; `workspace 123` when Skyvia gave none."""
    if workspace_name:
        return escape_name_cut(workspace_name, WORKSPACE_NAME_LIMIT)
    return f"workspace {workspace_id}"


def _list_title(listing: BackupsListing, workspace_id: int, workspace_name: str | None) -> str:
    """`*Backups of Operations* (123) matching “crm” · page 1 of 2 · 12 backups`."""
    title = f"*Backups of {_workspace_words(workspace_id, workspace_name)}*"
    if workspace_name:
        title += f" ({workspace_id})"
    if listing.text:
        title += f" matching “{escape_name(listing.text)}”"
    return f"{title} · page {listing.page} of {listing.pages} · {plural(listing.total, 'backup')}"


def backups_page_message(
    listing: BackupsListing,
    workspace_id: int,
    workspace_name: str | None = None,
    muted: Collection[int] = frozenset(),
) -> Message:
    """One page of backups: a row each with its schedule and last run, and one menu; a backup
    `muted` in this channel says so on its row, and its menu offers Unmute instead of Mute.

    More rows than a page are cut to `BACKUPS_PAGE_SIZE`, so a caller that passes too much
    still gets a message Slack accepts.
    """
    page = listing.page
    has_more = (listing.has_more or len(listing.rows) > BACKUPS_PAGE_SIZE) and page < MAX_PAGE
    blocks: list[Block | None] = [
        section(_list_title(listing, workspace_id, workspace_name)),
        context(note) if (note := past_end_note(listing.asked, page, listing.pages)) else None,
    ]
    if not listing.rows:
        if listing.text:
            empty = f"No backup's name holds “{escape_name(listing.text)}”."
        elif page == 1:
            empty = "No backups in this workspace."
        else:
            empty = "No backups on this page; go back to the previous one."
        blocks.append(section(empty))
    for row in listing.rows[:BACKUPS_PAGE_SIZE]:
        backup = row.backup
        is_muted = backup.id in muted
        line = (
            f"{backup_label(backup.name, backup.id)}\n"
            f"{schedule_words(backup.scheduled)} · {last_run_words(row)}"
            + (f" · {MUTED_MARK}" if is_muted else "")
        )
        menu = row_menu(
            backup.id,
            backup.scheduled,
            page=page,
            text=listing.text,
            backup_name=backup.name,
            muted=is_muted,
        )
        blocks.append(section(line, accessory=menu))
    nav = backups_nav(page, has_more, listing.text)
    if nav:
        blocks += [DividerBlock(), actions(*nav)]
    name = _workspace_words(workspace_id, workspace_name)
    return Message(
        text=fallback(f"Backups of {name}, page {page} of {listing.pages}"),
        blocks=compact(blocks),
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


def schedule_changed_announcement(
    user_id: str, backup: Backup, active: bool, at: datetime
) -> Message:
    """Told to the channel after a toggle: "@user disabled the schedule of *Name* (456)",
    when, and an Undo that asks for the state before."""
    verb = "enabled" if active else "disabled"
    line = f"{user_mention(user_id)} {verb} the schedule of {backup_label(backup.name, backup.id)}"
    return Message(
        text=fallback(
            f"{user_mention(user_id)} {verb} the schedule of "
            f"{backup_label_plain(backup.name, backup.id)}"
        ),
        blocks=compact(
            [
                section(line),
                context(slack_date(at)),
                actions(undo_schedule_button(backup.id, active, backup.name)),
            ]
        ),
    )
