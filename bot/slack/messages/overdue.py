"""Runs that take unusually long: the "⏳ … has been running" note and its end.

Look: docs/reference/messages.md#runs-that-take-unusually-long.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.skyvia.models import Snapshot, SnapshotState
from bot.slack.messages.alerts import mentions_text
from bot.slack.messages.common import Message, compact, context, fallback, section
from bot.slack.messages.mrkdwn import (
    backup_label,
    backup_label_plain,
    format_duration,
    user_mention,
)


def _span(seconds: float) -> str:
    """`2h 10m`: the note reads at a glance (`format_duration` pads minutes, `2h 10m` too)."""
    return format_duration(seconds)


def overdue_note(
    backup_id: int,
    backup_name: str | None,
    snapshot_id: int,
    running_seconds: float,
    usual_seconds: float | None,
    mention_ids: Sequence[str] = (),
) -> Message:
    """In the run's card thread when the channel watches it, else top-level with the channel's
    mentions, like a failure alert; once per run and channel."""
    usual = f" — it usually takes {_span(usual_seconds)}" if usual_seconds is not None else ""
    running = f" has been running {_span(running_seconds)}{usual}"
    line = f":hourglass_flowing_sand: {backup_label(backup_name, backup_id)}{running}"
    cc = mentions_text(mention_ids)
    plain = f":hourglass_flowing_sand: {backup_label_plain(backup_name, backup_id)}{running}" + (
        f" · {cc}" if cc else ""
    )
    blocks = [
        section(line),
        section(cc) if cc else None,
        context(
            f"Snapshot {snapshot_id} · `/skyvia alerts overdue {backup_id} 2h` sets the limit, "
            "`… off` turns it off"
        ),
    ]
    return Message(text=fallback(plain), blocks=compact(blocks))


def overdue_end_reply(backup_id: int, backup_name: str | None, snapshot: Snapshot) -> Message:
    """In the overdue note's thread: the run ended, how and after how long."""
    took = snapshot.duration_seconds
    after = f" after {_span(took)}" if took is not None else ""
    emoji, verb = _ENDS.get(snapshot.state, (":information_source:", "ended"))
    end = f" {verb}{after} (snapshot {snapshot.snapshot_id})"
    line = f"{emoji} {backup_label(backup_name, backup_id)}{end}"
    plain = f"{emoji} {backup_label_plain(backup_name, backup_id)}{end}"
    return Message(text=fallback(plain), blocks=[section(line)])


_ENDS = {
    SnapshotState.SUCCEEDED: (":white_check_mark:", "finished"),
    SnapshotState.FAILED: (":x:", "failed"),
    SnapshotState.CANCELED: (":no_entry_sign:", "was canceled"),
}


def overdue_limit_changed_message(
    user_id: str,
    backup_id: int,
    backup_name: str | None,
    limit_seconds: int | None,
    off: bool,
) -> Message:
    """Told to the channel: who changed when a backup's run counts as unusually long."""
    label = backup_label(backup_name, backup_id)
    if off:
        what = "turned overdue notes *off* for"
    elif limit_seconds is None:
        what = "set overdue notes to *auto* (3 × its usual run, 15 min at least) for"
    else:
        what = f"set the overdue limit to *{format_duration(limit_seconds)}* for"
    line = f":hourglass_flowing_sand: {user_mention(user_id)} {what} {label} in this channel."
    return Message(text=fallback(line), blocks=[section(line)])
