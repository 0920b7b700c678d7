"""Helpers for the backups, buttons and Home e2e tests: binding a channel, clicking, checking.

`assert_valid_payloads` re-reads every message and view the fake Slack received through
slack_sdk's models and the shared Block Kit checks, so no test can pass on a payload Slack
would reject or render unescaped.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.devtools.slack_standin import FakeSlack
from bot.slack.messages.ids import ActionId
from storage.models import Watch
from storage.repositories import AuditRepository, WatchRepository
from tests.constants import ADMIN, CHANNEL, MEMBER, TEAM
from tests.e2e.bot_fixtures import Stack
from tests.slack.messages.blockkit import check_blocks, check_mrkdwn

# Simulator call-count keys of the Skyvia endpoints the commands and buttons use.
ACTIVE = "GET /workspaces/{workspaceId}/backups/{backupId}/snapshots/active"
GET_BACKUP = "GET /workspaces/{workspaceId}/backups/{backupId}"
BACKUPS = "GET /workspaces/{workspaceId}/backups"
DISABLE = "POST /workspaces/{workspaceId}/backups/{backupId}/schedule/disable"
ENABLE = "POST /workspaces/{workspaceId}/backups/{backupId}/schedule/enable"
SCHEDULE = "GET /workspaces/{workspaceId}/backups/{backupId}/schedule"
SNAPSHOT = "GET /workspaces/{workspaceId}/backups/{backupId}/snapshots/{snapshotId}"
SNAPSHOTS = "GET /workspaces/{workspaceId}/backups/{backupId}/snapshots"
START = "POST /workspaces/{workspaceId}/backups/{backupId}/snapshots"
_MESSAGE_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral")


def _check_message(payload: dict[str, Any]) -> None:
    text = payload.get("text")
    assert isinstance(text, str) and text.strip(), f"no fallback text: {payload}"
    check_mrkdwn(text)
    blocks = payload.get("blocks") or []
    assert len(blocks) <= 50
    for raw in blocks:
        parsed = Block.parse(raw)
        assert parsed is not None, raw
        parsed.validate_json()
        assert parsed.to_dict() == raw, "block does not round-trip through slack_sdk"
    check_blocks(blocks)


def assert_valid_payloads(slack: FakeSlack) -> None:
    """Every message and Home view the bot sent validates and round-trips through slack_sdk."""
    for call in slack.calls:
        if call.method in _MESSAGE_METHODS:
            _check_message(call.args)
        elif call.method == "views.publish":
            view = call.args["view"]
            assert View(**view).to_dict() == view
            assert len(view["blocks"]) <= 100
            check_blocks(view["blocks"])
    for post in slack.all_responses():
        if post.body.get("delete_original"):
            continue
        _check_message(post.body)
    assert slack.warnings == []


async def connect(stack: Stack, channel: str = CHANNEL, workspace_id: int = 123) -> None:
    """Binds `channel` as an admin would, then forgets the calls that took."""
    before = len(stack.slack.calls_to("chat.postMessage"))
    await stack.command(f"connect {workspace_id}", user=ADMIN, channel=channel)
    await stack.slack.wait_for("chat.postMessage", lambda c: c.ok, count=before + 1)
    stack.sim.state.reset_call_counts()


def skyvia_calls(stack: Stack) -> dict[str, int]:
    return stack.sim.state.call_counts()


def button(message: dict[str, Any], action_id: ActionId, nth: int = 0) -> dict[str, Any]:
    """The `nth` button with `action_id` in a message (actions elements and accessories)."""
    found = []
    for block in message.get("blocks") or []:
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        found += [e for e in elements if e.get("action_id") == action_id]
    assert len(found) > nth, f"no button {action_id} #{nth} in {json.dumps(message)[:500]}"
    return found[nth]


def buttons(message: dict[str, Any], action_id: ActionId) -> list[dict[str, Any]]:
    result = []
    while True:
        try:
            result.append(button(message, action_id, len(result)))
        except AssertionError:
            return result


def rendered(message: dict[str, Any]) -> str:
    return message.get("text", "") + json.dumps(message.get("blocks") or [], ensure_ascii=False)


def line_of(message: dict[str, Any], name: str) -> str:
    """The one section of `message` (a `health` answer: one per backup) that names `name`."""
    [line] = [
        b["text"]["text"]
        for b in message["blocks"]
        if b["type"] == "section" and name in b["text"]["text"]
    ]
    return str(line)


async def click(
    stack: Stack,
    message: dict[str, Any],
    action_id: ActionId,
    *,
    nth: int = 0,
    user: str = MEMBER,
    channel: str | None = CHANNEL,
    value: str | None = None,
    ephemeral: bool = False,
) -> str:
    """Clicks a button of `message` as Slack would; returns the click's response_url id.

    `ephemeral` clicks as on a message only the user sees: Slack then sends the container
    (`is_ephemeral`) but not the message itself.
    """
    value = value if value is not None else button(message, action_id, nth)["value"]
    response = await stack.send.block_action(
        action_id,
        value,
        user_id=user,
        channel_id=channel,
        message=None if ephemeral else message,
        message_ts=message.get("ts") or "1700000000.000100",
    )
    assert response.status_code == 200, response.text
    assert stack.send.last_response_id is not None
    return stack.send.last_response_id


def row_menus(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The overflow menu of each row of a backups list, in order."""
    return buttons(message, ActionId.BACKUP_ROW_MENU)


def row_options(message: dict[str, Any], nth: int) -> list[str]:
    return [o["text"]["text"] for o in row_menus(message)[nth]["options"]]


async def choose(
    stack: Stack,
    message: dict[str, Any],
    nth: int,
    label: str,
    *,
    user: str = MEMBER,
    channel: str | None = CHANNEL,
    value: str | None = None,
    ephemeral: bool = True,
) -> str:
    """Picks `label` in the overflow menu of the `nth` row, as Slack sends it; returns the
    choice's response_url id. A backups list is ephemeral, so by default no message is sent."""
    [option] = [o for o in row_menus(message)[nth]["options"] if o["text"]["text"] == label]
    response = await stack.send.block_action(
        ActionId.BACKUP_ROW_MENU,
        value if value is not None else option["value"],
        user_id=user,
        channel_id=channel,
        message=None if ephemeral else message,
        message_ts=message.get("ts") or "1700000000.000100",
        selected_option=option,
    )
    assert response.status_code == 200, response.text
    assert stack.send.last_response_id is not None
    return stack.send.last_response_id


async def choose_and_reply(
    stack: Stack, message: dict[str, Any], nth: int, label: str, **kw: Any
) -> dict[str, Any]:
    """`choose`, then waits for the first post to the choice's response_url; returns its body."""
    response_id = await choose(stack, message, nth, label, **kw)
    posts = await stack.slack.wait_for_responses(response_id)
    return posts[0].body


async def click_and_reply(
    stack: Stack, message: dict[str, Any], action_id: ActionId, **kw: Any
) -> dict[str, Any]:
    """Clicks and waits for the first post to the click's response_url; returns its body."""
    response_id = await click(stack, message, action_id, **kw)
    posts = await stack.slack.wait_for_responses(response_id)
    return posts[0].body


async def audit_actions(stack: Stack) -> list[tuple[str, str, str, str | None]]:
    async with stack.bot.container.db.session() as session:
        entries = await AuditRepository(session).recent(TEAM, limit=200)
    return [(e.action, e.user_id, e.result, e.target) for e in reversed(entries)]


async def watch_of(stack: Stack, snapshot_id: int, channel: str = CHANNEL) -> Watch | None:
    """The channel's watch of a snapshot, pending or already finished by the watcher."""
    async with stack.bot.container.db.session() as session:
        return await WatchRepository(session).get_for_snapshot(TEAM, channel, snapshot_id)


async def carded_watch_of(stack: Stack, snapshot_id: int, channel: str = CHANNEL) -> Watch | None:
    """The channel's watch of a snapshot once its card's `ts` is on it (written after the
    watch itself), else None."""
    watch = await watch_of(stack, snapshot_id, channel)
    return watch if watch is not None and watch.message_ts is not None else None
