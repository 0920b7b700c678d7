"""Every cut of the mrkdwn helpers, tried at its limit, one under and one over.

Written so that a flipped comparison (`<=` for `<`) or an off-by-one in a cut or its ellipsis
fails here: each case names the exact output, not just "fits".
"""

from __future__ import annotations

import pytest

from bot.slack.messages.common import fit_lines
from bot.slack.messages.mrkdwn import (
    CODE_BLOCK_OVERHEAD,
    NAME_LIMIT,
    backup_label,
    backup_label_plain,
    code_block,
    cut_escaped,
    cut_plain,
    escape_cut,
    escape_name_cut,
    format_duration,
    plural,
    user_mention,
)
from tests.slack.messages.blockkit import check_mrkdwn

LIMITS = [1, 2, 40, NAME_LIMIT, 3000]


def expected_cut(length: int, limit: int) -> str:
    """`x` * length, cut to `limit` the way every helper cuts: one character left for `…`."""
    return "x" * length if length <= limit else "x" * (limit - 1) + "…"


@pytest.mark.parametrize("limit", LIMITS)
@pytest.mark.parametrize("delta", [-1, 0, 1])
@pytest.mark.parametrize("cut", [cut_escaped, cut_plain, escape_cut, escape_name_cut])
def test_cuts_keep_text_up_to_the_limit_and_cut_one_over(cut, limit: int, delta: int) -> None:  # type: ignore[no-untyped-def]
    length = limit + delta
    out = cut("x" * length, limit)
    assert out == expected_cut(length, limit)
    assert len(out) == min(length, limit)


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(12, "a&amp;b&amp;"), (11, "a&amp;b…"), (10, "a&amp;b…"), (7, "a&amp;…"), (6, "a…")],
)
def test_escaping_counts_towards_the_limit_and_no_entity_is_split(
    limit: int, expected: str
) -> None:
    assert escape_cut("a&b&", limit) == expected
    check_mrkdwn(expected)


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (8, "a&amp;b…"),  # the cut lands right after `&amp;`: the entity stays
        (7, "a&amp;…"),
        (6, "a…"),  # inside the entity: it goes whole
        (5, "a…"),
        (3, "a…"),
        (2, "a…"),
    ],
)
def test_a_cut_inside_an_entity_drops_the_whole_entity(limit: int, expected: str) -> None:
    assert cut_escaped("a&amp;bcdef", limit) == expected


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(13, "by <@U123> cd"), (12, "by <@U123> …"), (11, "by <@U123>…"), (10, "by …"), (4, "by …")],
)
def test_a_cut_inside_a_mention_drops_the_whole_mention(limit: int, expected: str) -> None:
    assert cut_escaped("by <@U123> cd", limit) == expected


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_backup_names_are_cut_at_the_name_limit(delta: int) -> None:
    assert NAME_LIMIT == 100
    name = "n" * (100 + delta)
    shown = name if delta <= 0 else "n" * 99 + "…"
    assert backup_label(name, 7) == f"*{shown}* (7)"
    assert backup_label_plain(name, 7) == f"{shown} (7)"


def test_a_missing_name_is_named_by_the_id() -> None:
    assert backup_label(None, 2_147_483_647) == "*Backup 2147483647* (2147483647)"
    assert backup_label("", 1) == "*Backup 1* (1)"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("U" + "A" * 30, "<@U" + "A" * 30 + ">"),  # the longest id that is a mention
        ("U" + "A" * 31, "U" + "A" * 31),  # one longer: text, pinging nobody
        ("U", "U"),
        ("x" * 40, "x" * 40),
        ("x" * 41, "x" * 39 + "…"),
    ],
)
def test_user_mentions_at_their_edges(user: str, expected: str) -> None:
    assert user_mention(user) == expected


@pytest.mark.parametrize(("lines", "hidden"), [(19, 0), (20, 0), (21, 1)])
def test_code_block_line_limit(lines: int, hidden: int) -> None:
    block = code_block("\n".join(f"l{i}" for i in range(lines)), max_lines=20)
    assert block.lines_total == lines
    assert block.lines_hidden == hidden
    assert block.cut is (hidden > 0)
    assert block.text.count("\n") == min(lines, 20) + 1


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_code_block_character_limit_counts_the_fences(delta: int) -> None:
    max_chars = 100
    body = "x" * (max_chars - CODE_BLOCK_OVERHEAD + delta)
    block = code_block(body, max_chars=max_chars)
    assert len(block.text) == min(len(body), max_chars - CODE_BLOCK_OVERHEAD) + CODE_BLOCK_OVERHEAD
    assert block.cut is (delta > 0)
    assert block.text.endswith("…\n```") is (delta > 0)


def test_lines_that_exactly_fill_the_limit_are_all_kept() -> None:
    lines = ["x" * 9] * 3  # 29 characters joined
    assert fit_lines(lines, 29) == "\n".join(lines)
    assert fit_lines(lines, 30) == "\n".join(lines)


def test_a_line_whose_note_exactly_fills_the_limit_is_kept() -> None:
    lines = ["x" * 9] * 4
    out = fit_lines(lines, 32)
    assert out == "x" * 9 + "\n" + "x" * 9 + "\n… and 2 more"
    assert len(out) == 32
    assert fit_lines(lines, 31) == "x" * 9 + "\n… and 3 more"


def test_one_character_short_keeps_whole_lines_and_counts_the_rest() -> None:
    lines = ["x" * 9] * 3
    out = fit_lines(lines, 28)
    assert out == "x" * 9 + "\n… and 2 more"
    assert len(out) <= 28


def test_the_note_itself_always_fits() -> None:
    for limit in range(len("… and 100 more"), 80):
        lines = ["y" * 5] * 100
        out = fit_lines(lines, limit)
        assert len(out) <= limit, limit
        kept = out.splitlines()
        assert kept[-1] == f"… and {100 - (len(kept) - 1)} more"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.4, "0s"),
        (59, "59s"),
        (59.4, "59s"),
        (59.5, "1m 00s"),
        (60, "1m 00s"),
        (61, "1m 01s"),
        (3599, "59m 59s"),
        (3600, "1h 00m"),
        (3601, "1h 00m"),
        (86_399, "23h 59m"),
        (86_400, "1d 00h"),
        (86_400 + 3600, "1d 01h"),
    ],
)
def test_duration_units_switch_exactly_at_their_edges(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


@pytest.mark.parametrize(("count", "expected"), [(0, "0 rows"), (1, "1 row"), (2, "2 rows")])
def test_plural_edges(count: int, expected: str) -> None:
    assert plural(count, "row") == expected
