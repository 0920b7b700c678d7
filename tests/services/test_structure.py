"""How the services are laid out, checked on their sources.

Services hold the use cases, not the words: a refusal or a result carries its kind and the
facts, and `bot/slack/messages` writes what the user reads (`refusals.py` for refusals), so a
command renamed or reworded is changed in one layer. A binding is paused in one place.
"""

from __future__ import annotations

import re
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


ROOT = SERVICES.parent.parent
PAUSES = re.compile(
    r"BindingRepository\([^)]*\)\s*\.\s*(pause|pause_team|pause_default_token_bindings)\("
)


def test_bindings_are_paused_in_one_module() -> None:
    """`ChannelPauses` writes every pause and logs it one way; the others ask it to."""
    found = {
        str(path.relative_to(ROOT))
        for top in ("bot", "handlers")
        for path in (ROOT / top).rglob("*.py")
        if PAUSES.search(path.read_text(encoding="utf-8"))
    }
    assert found == {"bot/services/channel_pauses.py"}
