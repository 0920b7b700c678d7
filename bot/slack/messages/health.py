"""`/skyvia health`: one line per backup, worst first, a page at a time.

The same builder makes the ephemeral answer (with `Share in channel`) and the shared channel
message (naming who shared it, without buttons). Ages are relative Slack dates, so a shared
page still reads right an hour later.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.services.announcements import DigestDue
from bot.services.models import BackupHealth, Condition, WorkspaceHealth
from bot.slack.messages.buttons import health_nav, share_health_button
from bot.slack.messages.common import (
    Message,
    actions,
    compact,
    context,
    fallback,
    past_end_note,
    section,
)
from bot.slack.messages.mrkdwn import (
    backup_label,
    escape_name_cut,
    format_count,
    plural,
    slack_date,
    state_emoji,
    user_mention,
)
from bot.slack.messages.takers import takers_text

DIGEST_LINES = 10
"""Backups a digest names: the worst ones; `/skyvia health` has them all."""

HEALTH_PAGE_SIZE = 20
"""Backups per page: one section each, well under Slack's 50 blocks with header and buttons."""

CONDITION_EMOJI = {
    Condition.FAILING: ":x:",
    Condition.STALE: ":alarm_clock:",
    Condition.UNKNOWN: ":warning:",
    Condition.NO_RUNS: ":white_circle:",
    Condition.HEALTHY: ":white_check_mark:",
}


def health_line(item: BackupHealth) -> str:
    """`❌ *Nightly CRM* (456) · last good 2 days ago · ✅✅❌❌❌ · 3 failed in a row · …`."""
    parts = [f"{CONDITION_EMOJI[item.condition]} {backup_label(item.backup.name, item.backup.id)}"]
    if item.runs is None:
        parts.append("Skyvia did not list its snapshots just now")
    elif not item.runs:
        parts.append("no finished snapshots yet")
    else:
        good = item.last_good
        none_good = f"no good snapshot in the last {plural(len(item.runs), 'run')}"
        parts.append(f"last good {slack_date(good, '{ago}')}" if good else none_good)
        parts.append("".join(state_emoji(run.state) for run in reversed(item.runs)))
    streak = item.failing_streak
    if streak:
        parts.append(
            "last run failed" if streak == 1 else f"{format_count(streak)} failed in a row"
        )
    if item.stale:
        parts.append("stale: its stale alert is open")
    scheduled = item.backup.scheduled
    if scheduled is not None:
        parts.append("schedule on" if scheduled else "schedule off")
    if item.overdue is not None:
        snapshot_id, since = item.overdue
        parts.append(
            f":hourglass_flowing_sand: snapshot {snapshot_id} running since "
            f"{slack_date(since, '{ago}')}, longer than usual"
        )
    if item.muted:
        parts.append(":no_bell: muted")
    if item.condition is Condition.FAILING:
        parts.append(takers_text(item.takers) if item.takers else ":raising_hand: nobody on it")
    return " · ".join(parts)


def health_summary(health: WorkspaceHealth) -> str:
    """ "11 of 12 backups healthy; 1 failing" (and "; 1 stale") — the first line, and the
    digest's too."""
    total = len(health.backups)
    if not total:
        return "No backups in this workspace."
    failing = [item for item in health.backups if item.condition is Condition.FAILING]
    text = f"{health.healthy} of {plural(total, 'backup')} healthy"
    if failing:
        text += f"; {len(failing)} failing"
        starts = [item.failing_since for item in failing if item.failing_since is not None]
        if starts:
            longest = ", the longest" if len(failing) > 1 else ""
            text += f"{longest} since {slack_date(min(starts))}"
        untaken = sum(1 for item in failing if not item.takers)
        if untaken:
            text += (
                "; nobody is on it"
                if len(failing) == 1
                else f"; nobody is on {'any' if untaken == len(failing) else untaken} of them"
            )
    stale = sum(1 for item in health.backups if item.condition is Condition.STALE)
    if stale:
        text += f"; {stale} stale"
    return text


def health_message(
    health: WorkspaceHealth, page: int = 1, *, shared_by: str | None = None
) -> Message:
    """A page of the health lines; ephemeral with `Share in channel` unless `shared_by` is set."""
    pages = max(1, -(-len(health.backups) // HEALTH_PAGE_SIZE))
    asked, page = page, min(max(page, 1), pages)
    shown = health.backups[(page - 1) * HEALTH_PAGE_SIZE : page * HEALTH_PAGE_SIZE]
    workspace = escape_name_cut(health.workspace_name or f"Workspace {health.workspace_id}", 80)
    summary = health_summary(health)
    notes = ["runs oldest → newest", f"page {page} of {pages}" if pages > 1 else ""]
    if shared_by is not None:
        notes.append(f"shared by {user_mention(shared_by)}")
    blocks: list[Block | None] = [
        section(f"*Backup health of {workspace}* ({health.workspace_id}): {summary}"),
        context(*notes),
        context(note) if (note := past_end_note(asked, page, pages)) else None,
        *(section(health_line(item)) for item in shown),
    ]
    if shared_by is None:
        nav = health_nav(page, page < pages)
        blocks.append(actions(*nav, share_health_button(page)))
    return Message(
        text=fallback(f"Backup health of {workspace} ({health.workspace_id}): {summary}"),
        blocks=compact(blocks),
    )


def digest_message(due: DigestDue) -> Message:
    """The daily digest: the summary, the backups that are not healthy (worst first), and how
    to change it. Healthy backups are counted, not listed: the digest is read in two seconds."""
    health = due.health
    workspace = escape_name_cut(health.workspace_name or f"Workspace {health.workspace_id}", 80)
    summary = health_summary(health)
    unwell = [item for item in health.backups if item.condition is not Condition.HEALTHY]
    shown = unwell[:DIGEST_LINES]
    more = len(unwell) - len(shown)
    setting = due.setting
    blocks: list[Block | None] = [
        section(f":clipboard: *Daily digest of {workspace}* ({health.workspace_id}): {summary}"),
        *(section(health_line(item)) for item in shown),
        context(f"…and {format_count(more)} more: `/skyvia health` lists them all")
        if more
        else None,
        context(
            f"Daily at {setting.words}, set by {user_mention(setting.set_by)}",
            "`/skyvia digest off` stops it",
        ),
    ]
    return Message(
        text=fallback(f"Daily digest of {workspace} ({health.workspace_id}): {summary}"),
        blocks=compact(blocks),
    )
