"""Snapshots as lists and logs: a page of runs, one run's log, the log excerpt of an alert.

The lifecycle card and the notes in its thread are in `lifecycle.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, DividerBlock

from bot.skyvia.models import Backup, Snapshot
from bot.slack.grammar.parsing import MAX_PAGE
from bot.slack.messages.buttons import (
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
    past_end_note,
    section,
)
from bot.slack.messages.mrkdwn import (
    CODE_BLOCK_OVERHEAD,
    backup_label,
    backup_label_plain,
    code_block,
    format_duration,
    more_lines_note,
    plural,
    slack_date,
    state_emoji,
    state_name,
)
from bot.slack.messages.payloads import SnapshotFilters

SNAPSHOTS_PAGE_SIZE = 10
"""Snapshots per page of `/skyvia snapshots`: the handler asks Skyvia for `take=10`."""
EXCERPT_LINES = 20
EXCERPT_CHARS = 2500
LOG_SECTIONS = 6
"""`Show log` shows at most this many code sections (~17k characters) of one log."""
LOG_LINES = 600
_LOG_SECTION_CHARS = SECTION_TEXT_LIMIT - 100


def rows_text(rows: int | None, errors: int | None) -> str:
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
        rows_text(snapshot.success_rows, snapshot.error_rows),
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
    *,
    asked: int | None = None,
    pages: int | None = None,
) -> Message:
    """Finished snapshots, newest first, each with a Show log button; Previous/Next keep filters.

    `asked` is the page typed when it was past the end and `page` was shown instead."""
    filters = filters or SnapshotFilters()
    shown = list(snapshots[:SNAPSHOTS_PAGE_SIZE])
    has_more = (has_more or len(snapshots) > SNAPSHOTS_PAGE_SIZE) and page < MAX_PAGE
    label = backup_label(backup.name, backup.id)
    blocks: list[Block | None] = [
        section(f"*Snapshots of* {label}"),
        context(_filters_text(filters), f"page {page}"),
        context(note) if (note := past_end_note(asked, page, pages)) else None,
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
