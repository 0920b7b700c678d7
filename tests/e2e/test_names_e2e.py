"""Issue 19 item 10 end to end: wherever a backup or workspace is named, it reads "Name (id)",
escaped for mrkdwn, as `connect` and the notices do (docs/reference/messages.md#escaping).

Through the real Bolt app over HTTP, Slack the stand-in and Skyvia the simulator, with the
workers running: `status` and repeats name backups as the alert scanner last saw them, so they
cost no Skyvia call.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.messages.ids import ActionId
from tests.constants import ADMIN
from tests.e2e.backup_kit import buttons, connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import cursors_ready

CRM = "*Nightly CRM* (456)"
SALESFORCE = "*Salesforce &lt;EU&gt; &amp; Marketing* (457)"


@pytest.fixture
async def bound(stack: Stack) -> Stack:
    """Connected, and the scanner has met every backup of the workspace (with its name)."""
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    return stack


async def test_status_names_muted_backups_and_pending_ends(bound: Stack) -> None:
    stack = bound
    for change in ("alerts mute 457", "alerts mute 456 for 2h", "schedule 462 off for 1h"):
        await stack.command(change, user=ADMIN)
        await stack.bot.listeners.idle()  # one after the other, as a person types them
    status = rendered(await stack.reply_to("status"))
    assert f"Muted backups: {CRM}, {SALESFORCE}." in status or (
        f"Muted backups: {SALESFORCE}, {CRM}." in status
    ), status
    assert f"Mute of {CRM} ends" in status, status
    assert "Maintenance window of *Jira &gt; Confluence* (462) ends" in status, status
    assert "backup 456" not in status and "backup 462" not in status, status


async def test_a_repeated_mute_names_the_backup(bound: Stack) -> None:
    stack = bound
    await stack.command("alerts mute 457", user=ADMIN)
    await stack.bot.listeners.idle()
    again = await stack.reply_to("alerts mute 457", user=ADMIN)
    assert f"Alerts for {SALESFORCE} are already muted here" in rendered(again)
    unmuted = await stack.reply_to("alerts unmute 458", user=ADMIN)
    assert "Alerts for *&lt;!channel&gt; &amp; co* (458) are already not muted" in rendered(unmuted)


async def test_disconnect_names_the_workspace_as_connect_did(bound: Stack) -> None:
    stack = bound
    await stack.command("disconnect", user=ADMIN)
    told = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "disconnected" in c.args["text"]
    )
    assert "disconnected from Skyvia workspace *Operations* (123) by" in rendered(told[-1].args)


async def test_the_name_picker_shows_each_backups_id(bound: Stack) -> None:
    stack = bound
    picker: dict[str, Any] = await stack.reply_to("backup n")
    labels = [b["text"]["text"] for b in buttons(picker, ActionId.BACKUP_DETAILS)]
    assert "Nightly CRM (456)" in labels, labels
    assert all(label.endswith(")") for label in labels), labels


async def test_connecting_elsewhere_names_the_mutes_it_would_drop(bound: Stack) -> None:
    stack = bound
    await stack.command("alerts mute 456", user=ADMIN)
    await stack.bot.listeners.idle()
    ask = rendered(await stack.reply_to("connect 124", user=ADMIN))
    assert f"the mutes of backups {CRM}" in ask, ask
