"""Modal submissions: the connect modal (workspace id + access token)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.commands.bindings import finish_connect
from handlers.authz import Role
from handlers.context import SlackContext
from handlers.errors import report_error
from handlers.ids import BlockId, CallbackId
from handlers.parsing import MAX_ID
from handlers.payloads import ConnectModalMeta

if TYPE_CHECKING:
    from bot.container import Container


def _input_value(view: dict[str, Any], block_id: str) -> str:
    block = (view.get("state") or {}).get("values", {}).get(block_id) or {}
    for element in block.values():
        return str(element.get("value") or "").strip()
    return ""


def validate_connect_inputs(workspace: str, token: str) -> dict[str, str]:
    """Inline errors for the modal (shown under the fields), empty when the input is usable."""
    errors: dict[str, str] = {}
    digits = workspace.lstrip("#")
    if not digits.isdigit() or not 1 <= int(digits) <= MAX_ID:
        errors[BlockId.CONNECT_WORKSPACE] = "Enter the workspace id, a number like 123."
    if not token:
        errors[BlockId.CONNECT_TOKEN] = "Paste an access token from Skyvia → Account Settings → API Settings."
    elif len(token) > 4096 or any(c.isspace() for c in token):
        errors[BlockId.CONNECT_TOKEN] = "That does not look like a Skyvia access token."
    return errors


def register(app: AsyncApp, container: Container) -> None:
    async def on_connect_submit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        workspace = _input_value(view, BlockId.CONNECT_WORKSPACE)
        token = _input_value(view, BlockId.CONNECT_TOKEN)
        errors = validate_connect_inputs(workspace, token)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        meta = ConnectModalMeta.load(view.get("private_metadata") or "")
        ctx = SlackContext.from_body(container, body, client, None, channel_id=meta.channel_id)
        try:
            await ctx.require(Role.ADMIN, "connect a channel")
            await finish_connect(ctx, int(workspace.lstrip("#")), token=token)
        except Exception as error:
            # A view submission has no channel in its envelope: answer in the modal's channel.
            await report_error(error, ctx)

    app.view(CallbackId.CONNECT_MODAL)(on_connect_submit)
