"""Matching a typed name against a workspace's backups (pure, no Skyvia)."""

from __future__ import annotations

import pytest

from bot.services.backup_names import Ambiguous, NoBackupMatches, cache_key, match
from bot.skyvia.models import Backup
from bot.slack.messages.refusals import refusal_words

BACKUPS = [
    Backup(id=456, name="Nightly CRM"),
    Backup(id=457, name="Nightly CRM archive"),
    Backup(id=459, name="*Bold* _italic_ ~strike~"),
    Backup(id=461, name="Zendesk tickets"),
]


def test_an_exact_name_wins_over_the_names_containing_it() -> None:
    assert match(BACKUPS, "nightly  crm") == BACKUPS[0]


def test_a_unique_substring_matches_case_insensitively() -> None:
    assert match(BACKUPS, "ZENDESK") == BACKUPS[3]


def test_fullwidth_forms_shown_in_messages_match_the_ascii_name() -> None:
    assert match(BACKUPS, "＊Bold＊ ＿italic＿") == BACKUPS[2]


def test_several_matches_are_offered() -> None:
    found = match(BACKUPS, "nightly")
    assert isinstance(found, Ambiguous)
    assert [b.id for b in found.candidates] == [456, 457]


def test_no_match_names_the_closest() -> None:
    with pytest.raises(NoBackupMatches) as caught:
        match(BACKUPS, "zendsek tickets")
    assert caught.value.closest == ["Zendesk tickets"]
    assert "Zendesk tickets" in refusal_words(caught.value)[1]


def test_the_cache_key_never_holds_the_token() -> None:
    key = cache_key(123, "secret-token")
    assert key[0] == 123 and "secret-token" not in key[1]
    assert cache_key(123, "other") != key
