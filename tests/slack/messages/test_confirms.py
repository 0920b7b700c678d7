"""Every button and menu that changes something asks first, within Slack's 300 characters
whatever the backup is called (docs/reference/commands.md#buttons). Slack shows the dialog
before it sends the click, so what the bot controls is that each such element carries one;
`blockkit.check_blocks` checks it on every message the suite sends, this on the builders."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.messages.buttons import (
    end_window_button,
    row_menu,
    undo_schedule_button,
    unmute_button,
)
from tests.slack.messages.blockkit import check_mrkdwn

LONG = "Salesforce <EU> & Marketing " * 20


@pytest.mark.parametrize(
    "element",
    [
        row_menu(456, True, backup_name=LONG),
        row_menu(456, None),
        row_menu(456, True, backup_name=LONG, muted=True),
        undo_schedule_button(456, True, LONG),
        undo_schedule_button(456, False),
        unmute_button(456, LONG),
        end_window_button(456, LONG),
    ],
    ids=[
        "row menu",
        "row menu, schedule unknown",
        "row menu, muted",
        "undo off",
        "undo on",
        "unmute",
        "end window",
    ],
)
def test_changing_elements_are_confirmed_within_slacks_limit(element: Any) -> None:
    confirm = element.to_dict().get("confirm")
    assert confirm is not None
    text = confirm["text"]["text"]
    assert 0 < len(text) <= 300
    check_mrkdwn(text)
    assert "<EU>" not in text


def test_the_row_menus_confirm_names_what_each_option_does() -> None:
    text = row_menu(456, True, backup_name="Nightly CRM").to_dict()["confirm"]["text"]["text"]
    assert "*Nightly CRM* (456)" in text
    assert "*Run snapshot* starts one now" in text and "*Disable schedule*" in text
    assert "Schedule*" not in row_menu(456, None).to_dict()["confirm"]["text"]["text"]


def test_a_muted_rows_menu_offers_unmute_and_its_confirm_says_so() -> None:
    """docs/reference/commands.md#buttons: a backup muted here is unmuted from its row."""
    menu = row_menu(456, True, backup_name="Nightly CRM", muted=True).to_dict()
    assert [o["text"]["text"] for o in menu["options"]][-1] == "Unmute"
    text = menu["confirm"]["text"]["text"]
    assert "*Unmute* lets this channel's alerts for it through again" in text
    assert "*Mute*" not in text and text.endswith("*Details* only shows it.")
