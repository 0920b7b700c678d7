"""Modal submissions: the connect modal (workspace id + access token)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.authz import Role
from bot.slack.ids import CallbackId
from bot.slack.payloads import ConnectModalMeta, ModalInputError, parse_connect_submission
from handlers.commands.bindings import finish_connect
from handlers.context import Services, SlackContext
from handlers.errors import report_error


def _team_of(body: dict[str, Any]) -> str:
    team = body.get("team")
    return str((team.get("id") if isinstance(team, dict) else None) or body.get("team_id") or "")


def register(app: AsyncApp, services: Services) -> None:
    async def on_connect_submit(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        view = body["view"]
        # Before ack(): a PayloadError here reaches `handle_error` unacknowledged -> HTTP 400.
        meta = ConnectModalMeta.load(view.get("private_metadata"))
        try:
            submission = parse_connect_submission(
                (view.get("state") or {}).get("values") or {},
                token_required=not services.bindings.default_token_serves(_team_of(body)),
            )
        except ModalInputError as invalid:
            await ack(response_action="errors", errors=invalid.errors)
            return
        await ack()
        ctx = SlackContext.from_body(services, body, client, None, channel_id=meta.channel_id)
        try:
            await ctx.require(Role.ADMIN, "connect a channel")
            token = submission.token.get_secret_value() if submission.token else None
            await finish_connect(ctx, submission.workspace_id, token=token)
        except Exception as error:
            # A view submission has no channel in its envelope: answer in the modal's channel.
            await report_error(error, ctx)

    app.view(CallbackId.CONNECT_MODAL)(on_connect_submit)
