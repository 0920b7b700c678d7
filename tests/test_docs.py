"""The repository stands alone: its docs are complete, and every pointer into them leads somewhere.

Comments, docstrings, help texts and Markdown files cite `docs/reference/<file>.md#<section>`
instead of a document outside the repository; these tests keep those pointers from rotting as
sections are renamed, and keep the reference's tables in step with the code they describe.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.config import Settings
from bot.slack.grammar.usage import USAGE

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "docs" / "reference"
SKIPPED_DIRS = {".git", ".venv", "node_modules", "build", "dist"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".txt", ".ini"}

# A citation of the product contract kept outside this repository: the word followed by a section
# number, "section", or 's. Spelt [S] so a grep for the word finds no citation here either.
OUTSIDE_CONTRACT = re.compile(r"\b[S]PEC\b(?:\s+(?:\d|section)|'s)")
# A path to a Markdown file under docs/, with an optional #anchor, as code and prose cite it.
DOCS_POINTER = re.compile(r"\bdocs/[\w./-]+?\.md(?:#[\w-]+)?")
# A relative Markdown link: [text](target.md#anchor) or [text](target.md).
MARKDOWN_LINK = re.compile(r"\]\((?!https?:|mailto:|#)([^)\s]+?\.md)(#[\w-]+)?\)")
# A link to a heading of the same file: [text](#anchor).
LOCAL_LINK = re.compile(r"\]\((#[\w-]+)\)")


def repo_files() -> list[Path]:
    found = []
    for path in REPO.rglob("*"):
        relative = path.relative_to(REPO)
        if any(part in SKIPPED_DIRS or part.startswith(".") for part in relative.parts[:-1]):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            found.append(path)
    return found


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors_of(markdown: Path) -> set[str]:
    """Every heading anchor of a Markdown file (repeated headings get -1, -2 as on GitHub)."""
    seen: dict[str, int] = {}
    anchors = set()
    in_fence = False
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else re.match(r"#{1,6}\s+(.*)", line)
        if match is None:
            continue
        slug = github_slug(match.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken(target: Path, anchor: str | None) -> str | None:
    """Why a pointer at `target#anchor` leads nowhere, or None when it is fine."""
    if not target.is_file():
        return "no such file"
    if anchor and anchor.lstrip("#") not in anchors_of(target):
        return f"no heading {anchor}"
    return None


def table_rows(markdown: Path, heading: str) -> list[list[str]]:
    """The cells of the first table under `heading` (header and rule rows left out)."""
    section = markdown.read_text(encoding="utf-8").split(f"\n{heading}\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("|") or set(line) <= {"|", "-", " "}:
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        rows.append(cells)
    return rows[1:]


def test_nothing_cites_a_contract_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in repo_files()
        if path.resolve() != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE_CONTRACT.search(line)
    ]
    assert not offenders, "cite docs/reference/ instead:\n" + "\n".join(offenders)


def test_every_pointer_into_docs_leads_to_a_section() -> None:
    problems = []
    for path in repo_files():
        text = path.read_text(encoding="utf-8")
        for pointer in DOCS_POINTER.findall(text):
            file, _, anchor = pointer.partition("#")
            why = broken(REPO / file, anchor or None)
            if why:
                problems.append(f"{path.relative_to(REPO)}: {pointer}: {why}")
        if path.suffix != ".md":
            continue
        for target, anchor in MARKDOWN_LINK.findall(text):
            why = broken((path.parent / target).resolve(), anchor or None)
            if why:
                problems.append(f"{path.relative_to(REPO)}: {target}{anchor}: {why}")
        for anchor in LOCAL_LINK.findall(text):
            why = broken(path, anchor)
            if why:
                problems.append(f"{path.relative_to(REPO)}: {anchor}: {why}")
    assert not problems, "\n".join(problems)


def test_the_pointer_checks_can_fail(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n## `skyvia-bot` verbs\n\n```\n# not a heading\n```\n## Slack's limits\n"
    )
    assert anchors_of(page) == {"title", "skyvia-bot-verbs", "slacks-limits"}
    assert broken(page, "#slacks-limits") is None
    assert broken(page, "#not-a-heading") == "no heading #not-a-heading"
    assert broken(tmp_path / "missing.md", None) == "no such file"
    word = "S" + "PEC"
    assert OUTSIDE_CONTRACT.search(f"the rule ({word} 2.4) says") is not None
    assert OUTSIDE_CONTRACT.search(f"see the {word}'s examples") is not None
    assert OUTSIDE_CONTRACT.search(f"OPENAPI_{word} = 1") is None


def test_the_readme_links_the_reference_and_the_contributing_guide() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(docs/reference/README.md)" in readme
    assert "(CONTRIBUTING.md)" in readme


def setting_names() -> dict[str, object]:
    """Environment variable -> default of every setting."""
    names = {}
    for field in Settings.model_fields.values():
        name = field.alias or str(field.validation_alias.choices[0])  # type: ignore[union-attr]
        names[name] = field.get_default(call_default_factory=True)
    return names


def test_every_setting_is_in_the_configuration_reference_with_its_default() -> None:
    settings = setting_names()
    documented: dict[str, str] = {}
    for name_cell, default_cell, *_ in table_rows(
        REFERENCE / "configuration.md", "## Environment variables"
    ):
        for name in re.findall(r"`([A-Z][A-Z_]+)`", name_cell):
            documented[name] = default_cell
    assert set(documented) == set(settings)
    for name, cell in documented.items():
        literal = re.fullmatch(r"`([^`]+)`", cell)
        if literal is None:
            continue  # "—", "empty", or prose: nothing to compare
        default = settings[name]
        if isinstance(default, float) and default.is_integer():
            default = int(default)
        assert literal.group(1) == str(default), name


def test_every_cli_verb_is_in_the_configuration_reference() -> None:
    parser = build_parser()
    [verbs] = [a for a in parser._actions if a.dest == "verb"]
    rows = table_rows(REFERENCE / "configuration.md", "## `skyvia-bot` verbs")
    documented = {re.sub(r"`", "", row[0]) for row in rows}
    assert documented == set(verbs.choices)  # type: ignore[arg-type]
    assert "docs/reference/configuration.md#skyvia-bot-verbs" in parser.format_help()


@pytest.mark.parametrize("subcommand", sorted(USAGE))
def test_every_subcommand_is_in_the_commands_reference(subcommand: str) -> None:
    rows = table_rows(REFERENCE / "commands.md", "## The `/skyvia` command")
    first_words = {m.group(1) for row in rows for m in re.finditer(r"`([a-z]+)", row[0])}
    assert subcommand in first_words
