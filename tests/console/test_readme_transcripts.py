"""README's console transcripts are what a real console prints for the same lines.

Each marked block (`<!-- console transcript: NAME -->`) is replayed by
tests/console/readme_transcripts.py through `skyvia-bot console --clock …` with the simulator's
fixed seed, so snapshot ids, row counts, durations and every "Today at 14:15" / "2 hours ago"
come out the same on every run. Two things cannot: how long a failure episode lasted ("failing
for 8s") is the real time between the replayed `sim run` and `sim recover`, and the messages one
typed line causes print in the order Slack answers them (`_normalised`); only those are
normalised before comparing. When a block drifts, regenerate README's blocks with
`python -m tests.console.readme_transcripts --write` and read the diff.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.console.readme_transcripts import (
    README,
    REGENERATE,
    TRANSCRIPTS,
    readme_transcripts,
    run_transcript,
)

UNFIXABLE = re.compile(r"\(failing for [^)]*\)")
THREAD_TITLE = re.compile(r"› thread of “[^”]*”")
NOT_REPLAYED: dict[str, str] = {}
"""README blocks that look like console output but are not replayed (a text in the block ->
why not). None today: the digest (`sim digest`), a DM and a confirm dialog are replayed too."""


def _normalised(text: str) -> str:
    """The transcript with its unfixable duration blanked and, after each typed line, the
    messages it caused in a fixed order: the bot sends a thread reply and its parent's edit side
    by side (lanes of their own, `bot.slack.delivery.senders`), so they print in the order the
    stand-in answers them, and a thread is titled by its parent as last printed."""
    text = THREAD_TITLE.sub("› thread of …", UNFIXABLE.sub("(failing for …)", text))
    out: list[str] = []
    for typed in re.split(r"(?m)^(?=> )", text):
        head, *messages = re.split(r"(?m)^(?=\[)", typed)
        out.append(head + "".join(sorted(messages)))
    return "".join(out)


@pytest.mark.e2e
@pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")),
    reason="the console keeps its own SQLite file whatever the suite's database: the PostgreSQL "
    "run would replay the same console again (about a minute of CI)",
)
@pytest.mark.parametrize("name", list(TRANSCRIPTS))
def test_readme_transcript_is_a_console_run(name: str) -> None:
    shown = readme_transcripts(README.read_text(encoding="utf-8"))
    assert name in shown, f"README has no block marked `<!-- console transcript: {name} -->`"
    ran = run_transcript(name)
    assert _normalised(shown[name]) == _normalised(ran), (
        f"README's {name!r} transcript is not what the console prints now; "
        f"regenerate it with `{REGENERATE} {name}`. The console printed:\n{ran}"
    )


def test_every_console_block_of_readme_is_replayed_or_says_why_not() -> None:
    text = README.read_text(encoding="utf-8")
    marked = set(readme_transcripts(text).values())
    blocks = re.findall(r"```\n(.*?)```", text, re.S)
    console_like = [b for b in blocks if re.search(r"^(\[#|\[DM|> )", b, re.M)]
    unreplayed = [
        b for b in console_like if b not in marked and not any(k in b for k in NOT_REPLAYED)
    ]
    assert unreplayed == [], f"mark these with a transcript ({REGENERATE}):\n{unreplayed}"
    assert set(readme_transcripts(text)) == set(TRANSCRIPTS)
