"""The soak's table: messages expected, delivered, duplicated and lost, by kind; memory; rows."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from benchmarks.report import Table, verdict
from benchmarks.tally import SlackTally
from bot.devtools.slack_standin import FakeSlack
from storage.models import DeliveryKind

if TYPE_CHECKING:
    from benchmarks.soak import Soak, SoakSizes

KINDS = (
    DeliveryKind.THREAD_REPLY.value,
    DeliveryKind.ALERT.value,
    DeliveryKind.EPISODE_REPLY.value,
)


def report(
    sizes: SoakSizes,
    sqlite: bool,
    soak: Soak,
    tally: SlackTally,
    drained: bool,
    before: dict[str, int],
    after: dict[str, int],
    deleted: dict[str, int],
) -> Table:
    from benchmarks.soak import expected_keys

    expected = expected_keys(soak.layout, soak.runs)
    seen = {key: n for key, n in tally.posted.items() if key[2] in KINDS}
    counters = soak.counters
    table = Table(
        title=(
            f"Soak: {sizes.minutes:g} min on {'SQLite' if sqlite else 'PostgreSQL'}, "
            f"{sizes.workspaces} workspaces × {sizes.channels_per_workspace} channels, "
            f"{counters.kills} bot SIGKILLs, {counters.pg_restarts} PostgreSQL restarts"
        ),
        columns=["measure", "replies", "alerts", "episode replies", "total"],
    )
    figures: dict[str, int] = {}
    for name, keys in (
        ("expected", [k for k in expected]),
        ("delivered", [k for k in expected if k in seen]),
        ("lost", [k for k in expected if k not in seen]),
        ("unexpected", [k for k in seen if k not in expected]),
    ):
        row = [sum(1 for k in keys if k[2] == kind) for kind in KINDS]
        table.rows.append([f"messages {name}", *row, sum(row)])
        figures[name] = sum(row)
    dup = [sum(n - 1 for k, n in seen.items() if k[2] == kind and n > 1) for kind in KINDS]
    table.rows.append(["messages duplicated", *dup, sum(dup)])
    figures["duplicated"] = sum(dup)
    table.rows.append(["bot peak RSS, MiB (largest of its lives)", "", "", "", counters.peak_rss])
    for name in before:
        table.rows.append(
            [f"rows in {name}: start → end", "", "", "", f"{before[name]:,} → {after[name]:,}"]
        )
    table.notes += [
        f"0 duplicated, 0 lost: {verdict(figures['duplicated'] == 0 and figures['lost'] == 0)}"
        f" (all expected arrived within the drain: {drained})",
        f"commands sent {counters.commands_sent:,}, refused or unanswered (bot restarting) "
        f"{counters.commands_refused:,}; runs started by the bot {len(soak.runs.replies):,}, "
        f"scheduled runs failed {len(soak.runs.failures):,}; commands sent as the database "
        f"stopped or while it was down {counters.commands_in_outage:,}",
        f"faults: chat.postMessage 429 {sizes.slack_429_rate:.0%} and 500-after-post "
        f"{sizes.slack_500_after_post_rate:.0%}; Skyvia 503 {sizes.skyvia_5xx_rate:.0%}, "
        f"{counters.skyvia_timeouts} answers slower than the bot's timeout; SIGKILL every "
        f"{sizes.kill_every:g} s",
        f"start rows include {sizes.aged_rows} aged (40-day-old) rows per prunable kind; "
        f"retention deleted {deleted or 'nothing'}",
    ]
    lost = sorted(k for k in expected if k not in seen)[:10]
    doubled = sorted(k for k, n in seen.items() if n > 1)[:10]
    for label, keys in (("lost", lost), ("duplicated", doubled)):
        for key in keys:
            table.notes.append(f"{label} {key}: {explain(soak, key)}")
    table.figures = {
        **figures,
        "kills": counters.kills,
        "pg_restarts": counters.pg_restarts,
        "commands_sent": counters.commands_sent,
        "commands_in_outage": counters.commands_in_outage,
        "peak_rss_mb": counters.peak_rss,
        "rows_before": before,
        "rows_after": after,
        "retention_deleted": deleted,
    }
    return table


def _key_of(args: dict[str, Any]) -> tuple[str, int, str] | None:
    metadata = args.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None
    payload = (metadata or {}).get("event_payload") if isinstance(metadata, dict) else None
    if not isinstance(payload, dict) or "kind" not in payload:
        return None
    return (str(args.get("channel")), int(payload["snapshot_id"]), str(payload["kind"]))


def explain(soak: Soak, key: tuple[str, int, str]) -> str:
    """What happened to one key: each chat.postMessage about its run in its channel (time,
    answer, and the kind when another) and the kills.

    Times are seconds since the soak began; a 500 is the stand-in's 500-after-post (the message
    was stored), a 429 stored nothing.
    """
    slack: FakeSlack = soak.doubles.slack
    began = soak.began
    posts = [
        f"{call.at - began:.1f}s→{call.status}{'' if call.ok else ' ' + str(call.error)}"
        f"{'' if got[2] == key[2] else ' as ' + got[2]}"
        for call in slack.calls_to("chat.postMessage")
        if (got := _key_of(call.args)) is not None and got[:2] == key[:2]
    ]
    counters = soak.counters
    kills = ", ".join(f"{t - began:.1f}s" for t in counters.kill_times) or "none"
    outage = ", ".join(f"{a - began:.1f}-{b - began:.1f}s" for a, b in counters.pg_down) or "none"
    seen = soak.runs.seen.get(key[1])
    started = f"run seen at {seen - began:.1f}s" if seen is not None else "run never seen"
    return (
        f"{started}; posts [{'; '.join(posts) or 'none'}]; bot SIGKILLs at {kills}; "
        f"database down {outage}{_logged_about(soak, key[1])}"
    )


def _logged_about(soak: Soak, snapshot_id: int) -> str:
    """The bot's warnings and errors that name the snapshot (e.g. a card it could not post)."""
    log = soak.bot.log_path
    if log is None or not log.exists():
        return ""
    pattern = re.compile(rf"(WARNING|ERROR) +(\S+): (.*\b{snapshot_id}\b[^\n]*?)(?: team=|$)", re.M)
    text = log.read_text(errors="replace")
    found = [f"{m.group(2)}: {m.group(3)}" for m in pattern.finditer(text)]
    return f"; bot logged: {' | '.join(found[:3])}" if found else ""
