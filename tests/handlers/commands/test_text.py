"""Issue 13 end to end, the words on screen: names shown as typed, date errors in words, and one
short hint with the corrected command for a misspelt subcommand.

Real Bolt app over HTTP, fake Slack on loopback, the Skyvia simulator; every payload is
re-validated after each test (see conftest).
"""

from __future__ import annotations

import unicodedata

from bot.slack.messages.ids import ActionId
from tests.e2e.backup_kit import button, click_and_reply, rendered, skyvia_calls
from tests.e2e.bot_fixtures import Stack

MARKUP_NAME = "*Bold* _it_ ~gone~ `code`"


def assert_reads_literally(text: str) -> None:
    for markup in ("*Bold*", "_it_", "~gone~", "`code`"):
        assert markup not in text, markup
    assert MARKUP_NAME in unicodedata.normalize("NFKC", text)


async def test_a_name_full_of_markup_reads_as_typed_on_every_screen(bound: Stack) -> None:
    stack = bound
    backup = stack.sim.state.add_backup(123, MARKUP_NAME, scheduled=True, history=2)

    listing = await stack.reply_to("backups")
    assert_reads_literally(rendered(listing))

    details = await stack.reply_to(f"backup {backup.id}")
    assert_reads_literally(rendered(details))
    confirm = button(details, ActionId.RUN_SNAPSHOT)["confirm"]["text"]["text"]
    assert_reads_literally(confirm)

    snapshots = await stack.reply_to(f"snapshots {backup.id}")
    assert_reads_literally(rendered(snapshots))

    log = await click_and_reply(stack, snapshots, ActionId.SHOW_LOG)
    assert_reads_literally(rendered(log))


async def test_dates_the_wrong_way_round_are_explained_in_the_users_words(bound: Stack) -> None:
    stack = bound
    body = await bound.reply_to("snapshots 456 since 2024-05-02 until 2024-04-30")
    text = rendered(body)
    assert body["text"] == (
        ":warning: `since 2024-05-02` (the start of 2 May 2024, UTC) is after "
        "`until 2024-04-30` (the end of 30 Apr 2024, UTC), so no snapshot can match. "
        "Did you mean `/skyvia snapshots 456 since 2024-04-30 until 2024-05-02`?"
    )
    assert "T00:00:00" not in text and "+00:00" not in text  # no raw ISO
    assert len(body["blocks"]) == 1
    assert skyvia_calls(stack) == {}


async def test_a_misspelt_subcommand_gets_one_hint_with_its_arguments(bound: Stack) -> None:
    stack = bound
    body = await stack.reply_to("mute 456")
    assert body["response_type"] == "ephemeral"
    assert body["text"] == (
        ":warning: `mute` is not a /skyvia command. Did you mean `/skyvia alerts mute 456`?"
    )
    assert len(body["blocks"]) == 1  # one short hint: no help listing, no second pointer

    typo = await stack.reply_to("snapshto 456 ")
    assert "Did you mean `/skyvia snapshot 456`?" in typo["text"]
    assert len(typo["blocks"]) == 1

    unknown = await stack.reply_to("xyzzy")
    assert len(unknown["blocks"]) == 1
    assert "disconnect" not in rendered(unknown)  # not the whole help
    assert "`/skyvia help`" in unknown["text"]
    assert skyvia_calls(stack) == {}
