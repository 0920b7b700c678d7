"""README's console transcripts, replayed through a real `skyvia-bot console`.

Each transcript is the lines a person types; `run_transcript(name)` types them into a fresh
console (its own database, the simulator's fixed seed, times shown as from `CLOCK` in `ZONE`)
and returns what the console printed. README marks each block it shows with
`<!-- console transcript: NAME -->`; tests/console/test_readme_transcripts.py compares them.

Regenerate README's blocks after changing a message or the console:

    python -m tests.console.readme_transcripts --write
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.console.console_kit import DEADLINE, REPO_ROOT, Console, spawn_console

README = REPO_ROOT / "README.md"
CLOCK = "2026-12-07T14:15:00"
ZONE = "Europe/Berlin"
QUIET = 2.0
"""Seconds without output after which a step's answer is taken as complete."""
REGENERATE = "python -m tests.console.readme_transcripts --write"
MARKER = re.compile(r"<!-- console transcript: ([\w-]+) -->\n```\n(.*?)```", re.S)


@dataclass(frozen=True)
class Step:
    line: str
    until: str
    """A regex of the last thing the step brings; then the step waits for `QUIET`."""
    shown: bool = True
    """False for set-up whose output README leaves out (the transcript starts later)."""
    keep: str | None = None
    """A regex of the headers of the messages README shows of this step (None: all of them)."""


CONNECT = Step("/skyvia connect 123", r"connected to Skyvia workspace Operations", shown=False)

TRANSCRIPTS: dict[str, tuple[Step, ...]] = {
    "snapshot": (
        Step("/skyvia connect 123", r"connected to Skyvia workspace Operations"),
        Step(
            "/skyvia snapshot 456", r"\(updated\)\n  ✅ Snapshot of Nightly CRM \(456\) succeeded"
        ),
    ),
    "alert": (
        CONNECT,
        Step("sim fail 456", r"will fail", shown=False),
        Step("sim run 456", r"❌ Scheduled snapshot of Nightly CRM \(456\) failed(.*\n)*.*\[\d+\]"),
    ),
    "episode": (
        CONNECT,
        Step("sim fail 456 2", r"will fail"),
        Step("sim run 456", r"❌ Scheduled snapshot of Nightly CRM \(456\) failed(.*\n)*.*\[\d+\]"),
        Step("sim run 456", r"\(updated\)\n  ❌ Nightly CRM \(456\) is failing(.*\n)*.*\[\d+\]"),
        Step("sim recover 456", r"\(updated\)\n  ✅ Nightly CRM \(456\) recovered(.*\n)*.*\[\d+\]"),
    ),
    "health": (CONNECT, Step("/skyvia health", r"Share in channel")),
    "backups": (CONNECT, Step("/skyvia backups", r"page 1 of 1(.*\n)*.*\(463\)\n.*\n.*\[\d+\]")),
    "subscription": (
        CONNECT,
        Step("/skyvia subscribe 456", r"by DM"),
        Step("sim fail 456", r"will fail", shown=False),
        Step("sim run 456", r"\[DM from Skyvia Backup Bot\]\n.*\n.*stops these", keep=r"\[DM"),
    ),
    "digest": (
        CONNECT,
        Step("/skyvia digest daily 09:00", r"set a daily health digest", shown=False),
        Step("sim digest", r"Daily at 09:00 .*stops it"),
    ),
    "schedule": (
        CONNECT,
        Step("/skyvia schedule 456", r"\[1\] Disable schedule"),
        Step("click 1", r"y: Disable schedule"),
        Step("y", r"\(updated\)\n.*is off\.\n.*\[\d+\] Enable schedule"),
    ),
}

MAX_LINES = {"backups": 10}
"""Transcripts README cuts short: after this many lines, `  …`."""


def run_transcript(name: str) -> str:
    """What a fresh console prints for the transcript's shown steps (echoed lines included)."""
    with tempfile.TemporaryDirectory(prefix="transcript-") as tmp:
        console = _start(Path(tmp))
        try:
            shown = [_kept(_step(console, step), step.keep) for step in TRANSCRIPTS[name]]
            console.send("quit")
            console.process.wait(timeout=DEADLINE)
        finally:
            if console.process.poll() is None:
                console.process.kill()
                console.process.wait(timeout=30)
    lines = "".join(text for text, step in zip(shown, TRANSCRIPTS[name], strict=True) if step.shown)
    kept = lines.rstrip("\n").split("\n")
    limit = MAX_LINES.get(name)
    if limit is not None and len(kept) > limit:
        kept = [*kept[:limit], "  …"]
    return "\n".join(kept) + "\n"


def _start(tmp: Path) -> Console:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SKYVIA_"))}
    env.pop("TEST_DATABASE_URL", None)
    env.update({"PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1", "TZ": ZONE})
    console = spawn_console(tmp / "c.db", tmp, env, "--clock", CLOCK)
    console.expect(r"^Database: .*\n")
    return console


def _step(console: Console, step: Step) -> str:
    """The step's output: from its echoed line until `until` and `QUIET` seconds of silence."""
    start = len(console.output)
    console.send(step.line)
    console.expect(step.until)
    seen, since = len(console.output), time.monotonic()
    while time.monotonic() - since < QUIET:
        time.sleep(0.1)
        if len(console.output) != seen:
            seen, since = len(console.output), time.monotonic()
    return console.output[start:]


def _kept(text: str, keep: str | None) -> str:
    """The step's echoed line and what it printed, without the messages README leaves out."""
    if keep is None:
        return text
    head, *messages = re.split(r"(?m)^(?=\[)", text)
    return head + "".join(m for m in messages if re.match(keep, m))


def readme_transcripts(text: str) -> dict[str, str]:
    """README's marked blocks by name."""
    return {match.group(1): match.group(2) for match in MARKER.finditer(text)}


def write_readme(runs: dict[str, str]) -> None:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        body = runs.get(name, match.group(2))
        return f"<!-- console transcript: {name} -->\n```\n{body}```"

    README.write_text(MARKER.sub(replace, README.read_text(encoding="utf-8")), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite README's blocks")
    parser.add_argument(
        "names", nargs="*", help=f"transcripts (default all: {', '.join(TRANSCRIPTS)})"
    )
    args = parser.parse_args()
    runs = {name: run_transcript(name) for name in args.names or TRANSCRIPTS}
    if args.write:
        write_readme(runs)
    else:
        for name, text in runs.items():
            print(f"--- {name}\n{text}", end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
