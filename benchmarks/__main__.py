"""`python -m benchmarks [--quick] [--only SECTION] [--json FILE] [--database-url URL]`.

`python -m benchmarks soak [--minutes 10] [--sqlite]` runs the soak instead (benchmarks/soak.py).
Both take `--slack-tiers documented` (or `outside-marketplace`) for Slack's rate limits.

Prints one table per section. `--quick` runs every section at a tenth of the size (about two
minutes); `--profile` samples the bot with py-spy and prints its hottest functions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import ack, alerts, episodes, overdue, soak, tiers, watch
from benchmarks.floors import ONE_WIDE_WORKSPACE
from benchmarks.profiles import hottest
from benchmarks.report import Table
from benchmarks.stack import SLACK_TIERS_ENV
from bot.devtools.slack_tiers import TIER_NAMES


@dataclass(frozen=True)
class Sizes:
    ack: ack.AckSizes
    watch: watch.WatchSizes
    alerts: alerts.AlertSizes
    episodes: episodes.EpisodeSizes
    tiers: tiers.TierSizes
    overdue: overdue.OverdueSizes


FULL = Sizes(
    ack=ack.AckSizes(),
    watch=watch.WatchSizes(),
    alerts=alerts.AlertSizes(),
    episodes=episodes.EpisodeSizes(),
    tiers=tiers.TierSizes(),
    overdue=overdue.OverdueSizes(),
)
QUICK = Sizes(
    ack=ack.AckSizes(
        requests=200,
        rate=50.0,
        channels=10,
        users=10,
        warmup=20,
        wave_workspaces=4,
        wave_backups_per_workspace=5,
        wave_channels_per_workspace=10,
    ),
    watch=watch.WatchSizes(watches=500, channels=50, workspaces=5),
    alerts=alerts.AlertSizes(workspaces=4, backups_per_workspace=10, channels_per_workspace=10),
    episodes=episodes.EpisodeSizes(
        workspaces=4, backups_per_workspace=10, channels_per_workspace=10
    ),
    tiers=tiers.TierSizes(channels=6, watches=30, failures=4),
    overdue=overdue.OverdueSizes(workspaces=4, backups_per_workspace=8, channels_per_workspace=5),
)
SMOKE = Sizes(
    ack=ack.AckSizes(
        requests=40,
        rate=40.0,
        channels=4,
        users=4,
        warmup=5,
        wave_workspaces=2,
        wave_backups_per_workspace=2,
        wave_channels_per_workspace=3,
    ),
    # Edits at 40 a second: the smoke checks that every card ends, not Slack's Tier 3 wait.
    watch=watch.WatchSizes(
        watches=40,
        channels=8,
        workspaces=2,
        steady_intervals=2,
        slack_pace=f"{ONE_WIDE_WORKSPACE},chat.update=40/1+40",
    ),
    alerts=alerts.AlertSizes(
        workspaces=2, backups_per_workspace=4, channels_per_workspace=3, steady_intervals=2
    ),
    # Two backups per workspace: each wave paces 2 posts per channel, ~4 waves of a few seconds.
    episodes=episodes.EpisodeSizes(
        workspaces=2,
        backups_per_workspace=2,
        channels_per_workspace=3,
        steady_intervals=2,
        settle_intervals=2,
    ),
    # 12 card edits: past the bot's burst of 5, ~8 s at 50 a minute.
    tiers=tiers.TierSizes(channels=4, watches=12, failures=2),
    # Four backups: one run past its limits, one going within them, two idle.
    overdue=overdue.OverdueSizes(
        workspaces=2, backups_per_workspace=4, channels_per_workspace=3, steady_intervals=3
    ),
)
SECTIONS = ("ack", "watch", "alerts", "episodes", "tiers", "overdue")


async def run_sections(
    sizes: Sizes,
    only: list[str],
    database_url: str | None,
    workdir: Path,
    *,
    profile: bool = False,
    show: Callable[[Table], None] | None = None,
) -> dict[str, Table]:
    runners: dict[str, Callable[[], Awaitable[Table]]] = {
        "ack": lambda: ack.run(sizes.ack, database_url, workdir, profile),
        "watch": lambda: watch.run(sizes.watch, database_url, workdir, profile),
        "alerts": lambda: alerts.run(sizes.alerts, database_url, workdir, profile),
        "episodes": lambda: episodes.run(sizes.episodes, database_url, workdir, profile),
        "tiers": lambda: tiers.run(sizes.tiers, database_url, workdir, profile),
        "overdue": lambda: overdue.run(sizes.overdue, database_url, workdir, profile),
    }
    tables: dict[str, Table] = {}
    for name in only:
        began = time.monotonic()
        table = await runners[name]()
        table.notes.append(f"section took {time.monotonic() - began:.0f} s")
        if profile:
            stacks = workdir / f"{name}-bot.pyspy.txt"
            if stacks.exists():
                table.notes.append("bot's hottest functions (py-spy, % of samples incl. idle):")
                table.notes += [f"  {line}" for line in hottest(stacks, 12)]
        tables[name] = table
        if show is not None:
            show(table)
    return tables


def add_tiers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--slack-tiers",
        choices=TIER_NAMES,
        help=f"the Slack stand-in's rate limits (default: ${SLACK_TIERS_ENV}, else off)",
    )


def apply_tiers_option(args: argparse.Namespace) -> None:
    """The sections' stand-ins read the tiers from the environment (`benchmarks.stack`)."""
    if args.slack_tiers is not None:
        os.environ[SLACK_TIERS_ENV] = args.slack_tiers


def soak_main(argv: list[str]) -> int:
    """`python -m benchmarks soak`: one soak run, its table printed (and written with --json)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks soak", description=soak.__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sqlite", action="store_true", help="default: a private PostgreSQL")
    parser.add_argument("--kill-every", type=float, default=120.0, help="seconds between SIGKILLs")
    parser.add_argument("--no-pg-restart", action="store_true")
    parser.add_argument(
        "--replicas", type=int, default=2, help="bot processes on the database (SQLite: 1)"
    )
    parser.add_argument("--json", type=Path, help="also write the table to this file")
    parser.add_argument("--keep", type=Path, help="keep the bot's log in this directory")
    add_tiers_option(parser)
    args = parser.parse_args(argv)
    apply_tiers_option(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sizes = soak.SoakSizes(
        minutes=args.minutes,
        kill_every=args.kill_every,
        pg_restart=not args.no_pg_restart,
        replicas=args.replicas,
    )
    with tempfile.TemporaryDirectory(prefix="skyvia-soak-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        table = asyncio.run(soak.run(sizes, args.sqlite, workdir))
    print(table.render(), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"soak": table.to_json()}, indent=2))
    figures = table.figures
    return 0 if figures["duplicated"] == 0 and figures["lost"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["soak"]:
        return soak_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the size (~2 minutes)")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="repeatable")
    parser.add_argument("--json", type=Path, help="also write the tables to this file")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to create a private database on (default: a temporary SQLite)",
    )
    parser.add_argument("--profile", action="store_true", help="sample the bot with py-spy")
    parser.add_argument("--keep", type=Path, help="keep logs and profiles in this directory")
    add_tiers_option(parser)
    args = parser.parse_args(argv)
    apply_tiers_option(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sizes = QUICK if args.quick else FULL
    only = args.only or list(SECTIONS)

    def show(table: Table) -> None:
        print(table.render(), end="\n\n", flush=True)

    with tempfile.TemporaryDirectory(prefix="skyvia-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"benchmarks: {', '.join(only)} ({'quick' if args.quick else 'full'} size)\n")
        tables = asyncio.run(
            run_sections(sizes, only, args.database_url, workdir, profile=args.profile, show=show)
        )
    if args.json:
        args.json.write_text(
            json.dumps({name: table.to_json() for name, table in tables.items()}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
