"""How the services are laid out, checked on their sources.

Services hold the use cases, not the words: a refusal or a result carries its kind and the
facts, and `bot/slack/messages` writes what the user reads (`refusals.py` for refusals), so a
command renamed or reworded is changed in one layer. A binding is paused in one place.
Services work on plain records of the binding and cursor rows, never their ORM entities.
"""

from __future__ import annotations

import ast
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


ENTITIES = {"Binding", "AlertCursor"}
"""ORM classes whose rows reach the services as `storage.records` (`BindingRecord`,
`CursorRecord`): a service handed an entity could change a row by accident or load lazily."""


def _entities_named(tree: ast.Module) -> list[str]:
    """Where a module imports one of `ENTITIES` from `storage.models` or reaches it as an
    attribute (`models.Binding`)."""
    found = [
        f"line {node.lineno}: {alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "storage.models"
        for alias in node.names
        if alias.name in ENTITIES or alias.name == "*"
    ]
    found += [
        f"line {node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ENTITIES
    ]
    return found


@pytest.mark.parametrize(
    "path", sorted(SERVICES.rglob("*.py")), ids=lambda p: str(p.relative_to(SERVICES))
)
def test_no_service_names_a_binding_or_cursor_entity(path: Path) -> None:
    found = _entities_named(ast.parse(path.read_text(encoding="utf-8")))
    assert not found, f"{path.relative_to(ROOT)} names ORM rows: {found}; use storage.records"


def test_the_entity_check_sees_an_import_and_an_attribute() -> None:
    """The check above passes on every service today, so it is shown failing here."""
    source = "\n".join(
        [
            "from storage.models import DeliveryKind, Binding",
            "import storage",
            "storage.models.AlertCursor",
        ]
    )
    assert _entities_named(ast.parse(source)) == ["line 1: Binding", "line 3: .AlertCursor"]
