"""Checks every built message must pass, as Slack would see it.

See docs/reference/messages.md#slacks-limits and docs/reference/messages.md#message-design.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.services.backups import BackupRow, BackupsListing
from bot.skyvia.models import Backup
from bot.slack.messages import Message

CHANGING_ACTIONS = {
    "run_snapshot",
    "run_snapshot_anyway",
    "schedule_toggle",
    "schedule_undo",
    "mute_backup",
    "mute_backup_for",
    "unmute_backup",
    "end_window",
    "backup_row_menu",  # its options run a snapshot, toggle the schedule, mute
    "home_run_snapshot",
}
"""Every button or menu that changes something: Slack must ask before it sends the click."""

# The only `<...>` sequences the bot itself may emit: user, user group and channel mentions,
# dates and links to Slack messages (permalinks).
_ALLOWED_CONTROL = re.compile(
    r"<(?:@[UW][A-Z0-9]+|!subteam\^S[A-Z0-9]+|#[CGD][A-Z0-9]+|!date\^\d+\^[^|<>]+\|[^<>]+"
    r"|https://[a-z0-9.-]+\.slack\.com/archives/[CGD][A-Z0-9]+/p\d+[^|<>]*\|[^<>|]+)>"
)
_ENTITY_OR_AMP = re.compile(r"&(?!amp;|lt;|gt;)")


def message_dict(message: Message) -> dict[str, Any]:
    """Validates through slack_sdk, re-parses every block, and checks the shared limits."""
    data = message.to_dict()
    assert data["text"].strip(), "fallback text is required on every message"
    assert len(data["blocks"]) <= 50
    reparsed = [Block.parse(block) for block in data["blocks"]]
    assert all(block is not None for block in reparsed)
    assert [block.to_dict() for block in reparsed if block] == data["blocks"]
    check_blocks(data["blocks"])
    check_mrkdwn(data["text"])
    return data


def view_dict(view: View, max_blocks: int = 100) -> dict[str, Any]:
    data = view.to_dict()
    assert View(**data).to_dict() == data
    assert len(data["blocks"]) <= max_blocks
    check_blocks(data["blocks"])
    return data


def check_blocks(blocks: list[dict[str, Any]]) -> None:
    for block in blocks:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    for text in mrkdwn_texts(blocks):
        check_mrkdwn(text)
    all_buttons = buttons(blocks)
    assert sum(1 for b in all_buttons if b.get("style") == "primary") <= 1
    for b in all_buttons:
        assert len(b["text"]["text"]) <= 75
        assert len(b.get("value", "")) <= 2000
    for element in interactive(blocks):
        if element["action_id"] in CHANGING_ACTIONS:
            assert "confirm" in element, f"{element['action_id']} changes something: confirm it"
        if "confirm" in element:
            assert len(element["confirm"]["text"]["text"]) <= 300
            check_mrkdwn(element["confirm"]["text"]["text"])


def check_mrkdwn(text: str) -> None:
    """Nothing but our own mentions and dates is a control sequence; `&` is always an entity."""
    stripped = _ALLOWED_CONTROL.sub("", text)
    assert "<" not in stripped and ">" not in stripped, stripped[:300]
    assert not _ENTITY_OR_AMP.search(stripped), stripped[:300]


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [node["text"] for node in _walk(blocks) if node.get("type") == "mrkdwn"]


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [node for node in _walk(blocks) if node.get("type") == "button"]


def interactive(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Buttons, menus and selects: every element a click or a pick comes from."""
    return [node for node in _walk(blocks) if isinstance(node.get("action_id"), str)]


def button_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in buttons(blocks)]


def all_text(data: dict[str, Any]) -> str:
    """Every string a reader could see, fallback included."""
    texts = [data.get("text", "")]
    texts += [node["text"] for node in _walk(data["blocks"]) if isinstance(node.get("text"), str)]
    return "\n".join(texts)


def backups_listing(
    backups: Sequence[Backup], page: int = 1, has_more: bool = False
) -> BackupsListing:
    """A backups list page as the service returns it: the given rows, never run."""
    pages = page + 1 if has_more else page
    return BackupsListing(
        rows=[BackupRow(b, None) for b in backups], page=page, pages=pages, total=len(backups)
    )


def row_menus(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The overflow menu of each row of a backups list."""
    return [node for node in _walk(blocks) if node.get("type") == "overflow"]


def menu_labels(blocks: list[dict[str, Any]]) -> list[list[str]]:
    return [[o["text"]["text"] for o in menu["options"]] for menu in row_menus(blocks)]
