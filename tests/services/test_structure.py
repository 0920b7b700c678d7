"""Services hold the use cases, not the words: no command is spelled out to a user in them.

A refusal or a result carries its kind and the facts; `bot/slack/messages` writes what the user
reads (`refusals.py` for refusals), so a command renamed or reworded is changed in one layer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "bot" / "services"


@pytest.mark.parametrize(
    "path", sorted(SERVICES.rglob("*.py")), ids=lambda p: str(p.relative_to(SERVICES))
)
def test_no_service_words_a_slash_command(path: Path) -> None:
    lines = [
        number
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "/skyvia" in line
    ]
    assert not lines, f"{path.relative_to(SERVICES.parent.parent)} says `/skyvia` on {lines}"
