"""Snapshots: the lifecycle card and its threaded outcome, lists, logs and long-run notes.

The card is one message the watcher keeps updating (`chat.update`), so it is built from plain
values that both `POST .../snapshots` (an `ActiveRun`) and `GET .../snapshots/{id}` (a
`Snapshot`) can supply.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import Block, DividerBlock

from bot.services.models import WatchedRun
from bot.skyvia.models import ActiveRun, Backup, Snapshot, SnapshotState
from bot.slack.messages.buttons import (
    run_anyway_button,
    run_snapshot_button,
    show_log_button,
    snapshots_nav,
)
from bot.slack.messages.common import (
    MAX_MESSAGE_BLOCKS,
    SECTION_TEXT_LIMIT,
    Message,
    actions,
    compact,
    context,
    fallback,
    section,
)
from bot.slack.messages.mrkdwn import (
    CODE_BLOCK_OVERHEAD,
    backup_label,
    backup_label_plain,
    channel_mention,
    code_block,
    format_count,
    format_duration,
    message_link,
    more_lines_note,
    plural,
    slack_date,
    state_emoji,
    state_name,
    state_phrase,
    user_mention,
)
from bot.slack.parsing import MAX_PAGE
from bot.slack.payloads import SnapshotFilters

SNAPSHOTS_PAGE_SIZE = 10
"""Snapshots per page of `/skyvia snapshots`: the handler asks Skyvia for `take=10`."""
EXCERPT_LINES = 20
EXCERPT_CHARS = 2500
LOG_SECTIONS = 6
"""`Show log` shows at most this many code sections (~17k characters) of one log."""
LOG_LINES = 600
_LOG_SECTION_CHARS = SECTION_TEXT_LIMIT - 100

_ATTENTION = frozenset({SnapshotState.FAILED, SnapshotState.CANCELED})


def _rows_text(rows: int | None, errors: int | None) -> str:
    """`1,000 rows, 0 errors`, `1,000 rows`, or empty when Skyvia did not say."""
    parts = []
    if rows is not None:
        parts.append(plural(rows, "row"))
    if errors is not None:
        parts.append(plural(errors, "error"))
    return ", ".join(parts)


def snapshot_line(snapshot: Snapshot) -> str:
    """One finished snapshot on one line, for lists and details."""
    when = snapshot.start_time or snapshot.queue_time or snapshot.end_time
    duration = snapshot.duration_seconds
    origin = {True: "by schedule", False: "manual", None: ""}[snapshot.run_by_schedule]
    parts = [
        f"{state_emoji(snapshot.state)} *{snapshot.snapshot_id}*",
        state_name(snapshot.state),
        slack_date(when) if when else "",
        f"took {format_duration(duration)}" if duration is not None else "",
        origin,
        _rows_text(snapshot.success_rows, snapshot.error_rows),
    ]
    return " · ".join(part for part in parts if part)


def _filters_text(filters: SnapshotFilters) -> str:
    parts = ["failed only" if filters.failed else "all states"]
    if filters.since is not None:
        parts.append(f"since {slack_date(filters.since)}")
    if filters.until is not None:
        parts.append(f"until {slack_date(filters.until)}")
    return " · ".join(parts)


def snapshots_page_message(
    backup: Backup,
    snapshots: Sequence[Snapshot],
    page: int,
    has_more: bool,
    filters: SnapshotFilters | None = None,
) -> Message:
    """Finished snapshots, newest first, each with a Show log button; Previous/Next keep filters."""
    filters = filters or SnapshotFilters()
    shown = list(snapshots[:SNAPSHOTS_PAGE_SIZE])
    has_more = (has_more or len(snapshots) > SNAPSHOTS_PAGE_SIZE) and page < MAX_PAGE
    label = backup_label(backup.name, backup.id)
    blocks: list[Block | None] = [
        section(f"*Snapshots of* {label}"),
        context(_filters_text(filters), f"page {page}"),
    ]
    if not shown:
        blocks.append(section("No finished snapshots match."))
    for snapshot in shown:
        blocks.append(
            section(
                snapshot_line(snapshot),
                accessory=show_log_button(backup.id, snapshot.snapshot_id),
            )
        )
    nav = snapshots_nav(backup.id, page, has_more, filters)
    if nav:
        blocks += [DividerBlock(), actions(*nav)]
    return Message(
        text=fallback(f"Snapshots of {backup_label_plain(backup.name, backup.id)}, page {page}"),
        blocks=compact(blocks),
    )


def snapshot_log_message(backup: Backup, snapshot: Snapshot) -> Message:
    """The log on demand: as much as fits in a few code sections, then a note."""
    label = backup_label(backup.name, backup.id)
    head = f"{state_emoji(snapshot.state)} Log of snapshot {snapshot.snapshot_id} of {label}"
    blocks: list[Block | None] = [section(head), context(snapshot_line(snapshot))]
    if not snapshot.log or not snapshot.log.strip():
        blocks.append(section("_Skyvia has no log for this snapshot._"))
    else:
        lines = snapshot.log.splitlines()
        chunks = _chunk_lines(lines[:LOG_LINES], _LOG_SECTION_CHARS - CODE_BLOCK_OVERHEAD)
        hidden = len(lines)
        for chunk in chunks[:LOG_SECTIONS]:
            rendered = code_block(
                "\n".join(chunk), max_lines=len(chunk), max_chars=_LOG_SECTION_CHARS
            )
            blocks.append(section(rendered.text))
            hidden -= len(chunk) - rendered.lines_hidden
        if hidden > 0:
            blocks.append(
                context(f"… {plural(hidden, 'more line')} not shown; the full log is in Skyvia.")
            )
    return Message(
        text=fallback(
            f"Log of snapshot {snapshot.snapshot_id} of "
            f"{backup_label_plain(backup.name, backup.id)}"
        ),
        blocks=compact(blocks)[:MAX_MESSAGE_BLOCKS],
    )


def _chunk_lines(lines: Sequence[str], budget: int) -> list[list[str]]:
    """Group lines into chunks whose rendered size (escaped, backticks split) fits `budget`."""
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for line in lines:
        # Upper bound of the rendered length: `&` -> `&amp;`; a backtick gains a zero-width space.
        cost = len(line) + 4 * line.count("&") + 3 * (line.count("<") + line.count(">"))
        cost += line.count("`") + 1
        if current and size + cost > budget:
            chunks.append(current)
            current, size = [], 0
        current.append(line)
        size += cost
    if current:
        chunks.append(current)
    return chunks


def log_excerpt_blocks(
    backup_id: int, snapshot_id: int, log: str | None, *, max_lines: int = EXCERPT_LINES
) -> list[Block]:
    """The first lines of a log in a code block, and "… N more lines — Show log" when cut."""
    if not log or not log.strip():
        return []
    excerpt = code_block(log, max_lines=max_lines, max_chars=EXCERPT_CHARS)
    blocks: list[Block] = [section(excerpt.text)]
    if excerpt.cut:
        blocks.append(context(more_lines_note(excerpt.lines_hidden)))
    return blocks


def _card_timing(state: SnapshotState, started_at: datetime, duration_s: float | None) -> list[str]:
    """When it started, and how long it took once it is over.

    A card in progress says "started 3 minutes ago" as a relative Slack date that each reader's
    client keeps current, so a card the watcher has not edited for a while is never frozen at
    "running for 0s"; its fallback is the absolute UTC time.
    """
    if state.is_terminal:
        took = f"took {format_duration(duration_s)}" if duration_s is not None else ""
        return [slack_date(started_at), took]
    verb = "queued" if state in (SnapshotState.NEW, SnapshotState.QUEUED) else "started"
    return [f"{verb} {slack_date(started_at, '{ago}')}"]


def snapshot_card(
    backup_id: int,
    backup_name: str | None,
    snapshot_id: int,
    state: SnapshotState | str,
    started_by: str,
    started_at: datetime,
    now: datetime,
    duration_s: float | None = None,
    rows: int | None = None,
    errors: int | None = None,
    *,
    retry_of: int | None = None,
    retried_link: str | None = None,
) -> Message:
    """The lifecycle card: the first post, and every `chat.update` as the state moves on.

    A retry's first post says what it retries (`retry_of`) and links to that failure's message
    (`retried_link`, a permalink); it is posted in that message's thread.
    """
    state = SnapshotState(state)
    label = backup_label(backup_name, backup_id)
    head = f"{state_emoji(state)} Snapshot of {label} {state_phrase(state)}"
    retry = ""
    if retry_of is not None:
        link = message_link(retried_link, "see the failure")
        retry = f"Retry of snapshot {retry_of}" + (f" ({link})" if link else "")
    details = [
        retry,
        f"Started by {user_mention(started_by)}",
        f"snapshot {snapshot_id}",
        *_card_timing(state, started_at, duration_s),
        plural(rows, "row") if rows is not None else "",
        plural(errors, "error") if errors else "",
    ]
    buttons = []
    if state.is_terminal:
        buttons.append(show_log_button(backup_id, snapshot_id))
    if state in _ATTENTION:
        buttons.append(run_snapshot_button(backup_id, backup_name, retry_of=snapshot_id))
    return Message(
        text=fallback(
            f"{state_emoji(state)} Snapshot of {backup_label_plain(backup_name, backup_id)} "
            f"{state_phrase(state)}"
        ),
        blocks=compact([section(head), context(*details), actions(*buttons)]),
    )


def snapshot_outcome_reply(
    backup_id: int, backup_name: str | None, snapshot: Snapshot, started_by: str
) -> Message:
    """The thread reply when a watched snapshot ends: "@dana ✅ Succeeded in 5m 12s — …".

    Failed and canceled runs also carry the first log lines and a retry; the notifier broadcasts
    those to the channel, so the reply names the backup too.
    """
    state = snapshot.state
    duration = snapshot.duration_seconds
    preposition = "in" if state == SnapshotState.SUCCEEDED else "after"
    line = f"{user_mention(started_by)} {state_emoji(state)} {state_name(state)}"
    if duration is not None:
        line += f" {preposition} {format_duration(duration)}"
    rows = _rows_text(snapshot.success_rows, snapshot.error_rows)
    if rows:
        line += f" — {rows}"
    line += "."
    blocks: list[Block | None] = [
        section(line),
        context(f"{backup_label(backup_name, backup_id)}", f"snapshot {snapshot.snapshot_id}"),
    ]
    if state in _ATTENTION:
        blocks += log_excerpt_blocks(backup_id, snapshot.snapshot_id, snapshot.log)
        blocks.append(
            actions(
                show_log_button(backup_id, snapshot.snapshot_id),
                run_snapshot_button(backup_id, backup_name, retry_of=snapshot.snapshot_id),
            )
        )
    return Message(
        text=fallback(
            f"{user_mention(started_by)} Snapshot {snapshot.snapshot_id} of "
            f"{backup_label_plain(backup_name, backup_id)} {state_phrase(state)}"
        ),
        blocks=compact(blocks),
    )


def still_running_note(minutes: int) -> Message:
    """The threaded "still running" note the watcher posts at most every 30 minutes."""
    elapsed = f"{minutes} min" if minutes < 60 else format_duration(minutes * 60)
    line = f":arrows_counterclockwise: Still running ({elapsed})."
    return Message(text=fallback(line), blocks=[section(line)])


def gave_up_note(hours: float, backup_id: int | None = None) -> Message:
    """The threaded note when a watch hits its limit; the snapshot may still finish in Skyvia."""
    limit = format_duration(hours * 3600)
    line = (
        f":grey_question: Stopped watching after {limit}; the snapshot had not finished. "
        "Its outcome will not be posted here."
    )
    if backup_id is not None:
        line += f" Check it with `/skyvia backup {backup_id}`."
    return Message(text=fallback(line), blocks=[section(line)])


def vanished_note(backup_id: int) -> Message:
    """The threaded note when Skyvia no longer knows a watched snapshot: the watch ends."""
    line = (
        ":grey_question: Skyvia no longer knows this snapshot (it was not found), so it is no "
        f"longer watched. Check the backup with `/skyvia backup {backup_id}`."
    )
    return Message(text=fallback(line), blocks=[section(line)])


def vanished_card(
    backup_id: int,
    backup_name: str | None,
    snapshot_id: int,
    started_by: str,
    started_at: datetime,
) -> Message:
    """The card's last state when its snapshot vanished from Skyvia."""
    label = backup_label(backup_name, backup_id)
    head = f":grey_question: Snapshot of {label} was not found in Skyvia"
    details = [f"Started by {user_mention(started_by)}", f"snapshot {snapshot_id}"]
    details.append(slack_date(started_at))
    return Message(
        text=fallback(
            f":grey_question: Snapshot of {backup_label_plain(backup_name, backup_id)} "
            "was not found in Skyvia"
        ),
        blocks=compact(
            [section(head), context(*details), actions(run_snapshot_button(backup_id, backup_name))]
        ),
    )


def active_snapshot_exists_message(
    backup: Backup,
    active_run: ActiveRun,
    *,
    watch: WatchedRun | None = None,
    channel_id: str | None = None,
    permalink: str | None = None,
) -> Message:
    """Nothing was started because one runs; offers to start another, behind a confirm.

    Says who started the running one and when (`watch`, when it was started from Slack; else
    that it was started outside Slack), and links its card (`permalink`) when there is one.
    """
    label = backup_label(backup.name, backup.id)
    line = (
        f"{state_emoji(active_run.state)} Snapshot {active_run.run_id} of {label} "
        f"{state_phrase(active_run.state)}, so no new one was started."
    )
    link = message_link(permalink, "See its progress")
    if link:
        line += f" {link}."
    details = [f"Snapshot {active_run.run_id}", state_name(active_run.state)]
    if watch is not None:
        where = f" in {channel_mention(watch.channel_id)}" if watch.channel_id != channel_id else ""
        details.append(
            f"started by {user_mention(watch.started_by)}{where} {slack_date(watch.started_at)}"
        )
    else:
        details.append("started outside Slack (by its schedule or in Skyvia)")
        if active_run.date is not None:
            details.append(f"started {slack_date(active_run.date)}")
    if active_run.success_rows is not None:
        details.append(f"{format_count(active_run.success_rows)} rows so far")
    return Message(
        text=fallback(
            f"A snapshot of {backup_label_plain(backup.name, backup.id)} is already active "
            f"(snapshot {active_run.run_id}, {state_name(active_run.state)}); nothing was started."
        ),
        blocks=compact(
            [
                section(line),
                context(*details),
                actions(run_anyway_button(backup.id, backup.name, active_run.run_id)),
            ]
        ),
    )
