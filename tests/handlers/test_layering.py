"""Handlers are Bolt listeners over services: they never reach storage or the container."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
FORBIDDEN = ("storage", "bot.container")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, also under `if TYPE_CHECKING:` and inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def forbidden_imports(path: Path, forbidden: tuple[str, ...]) -> set[str]:
    """The modules `path` imports that are, or are inside, one of `forbidden`."""
    return {
        module
        for module in imported_modules(path)
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    }


@pytest.mark.parametrize("path", sorted(HANDLERS.rglob("*.py")), ids=lambda p: p.name)
def test_no_handler_imports_storage_or_the_container(path: Path) -> None:
    bad = forbidden_imports(path, FORBIDDEN)
    assert not bad, f"{path.relative_to(HANDLERS.parent)} imports {sorted(bad)}"
