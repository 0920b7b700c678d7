"""Modal submissions: the connect modal (workspace id + access token)."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.audit import Actor
from bot.services.errors import TokenRejected, WorkspaceNotFound
from bot.skyvia.models import Workspace
from bot.slack.authz import Role
from bot.slack.messages.ids import BlockId, CallbackId
from bot.slack.messages.payloads import (
    ConnectModalMeta,
    ConnectSubmission,
    ModalInputError,
    parse_connect_submission,
)
from bot.slack.messages.refusals import refusal_words
from handlers.commands.bindings import finish_connect
from handlers.context import Services, SlackContext
from handlers.errors import report_error


def _team_of(body: dict[str, Any]) -> str:
    team = body.get("team")
    return str((team.get("id") if isinstance(team, dict) else None) or body.get("team_id") or "")


_CHECK_SECONDS = 2.0
"""How long the token check may take before the form is acknowledged (Slack waits 3 s)."""


async def _reach(
    services: Services, body: dict[str, Any], meta: ConnectModalMeta, submission: ConnectSubmission
) -> Workspace | dict[str, str] | None:
    """The workspace the typed id and token reach, or Skyvia's refusal as the modal's field
    errors; None when Skyvia did not answer in time (the connect that follows says what
    happened)."""
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    actor = Actor(_team_of(body), meta.channel_id, str((user or {}).get("id") or ""))
    token = submission.token.get_secret_value() if submission.token else None
    check = services.bindings.reach(actor, submission.workspace_id, token)
    try:
        return await asyncio.wait_for(check, _CHECK_SECONDS)
    except TokenRejected as rejected:
        return {BlockId.CONNECT_TOKEN: refusal_words(rejected)[0]}
    except WorkspaceNotFound as missing:
        return {BlockId.CONNECT_WORKSPACE: refusal_words(missing)[0]}
    except Exception:  # slow, down, or no token to use: told after the ack as before
        return None


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
                token_required=not services.token_policy.default_token_serves(_team_of(body)),
            )
        except ModalInputError as invalid:
            await ack(response_action="errors", errors=invalid.errors)
            return
        reached = await _reach(services, body, meta, submission)
        if isinstance(reached, dict):  # the form stays open, the error on the field to fix
            await ack(response_action="errors", errors=reached)
            return
        await ack()
        ctx = SlackContext.from_body(services, body, client, None, channel_id=meta.channel_id)
        try:
            await ctx.require(Role.ADMIN, "connect a channel")
            token = submission.token.get_secret_value() if submission.token else None
            await finish_connect(ctx, submission.workspace_id, token=token, reached=reached)
        except Exception as error:
            # A view submission has no channel in its envelope: answer in the modal's channel.
            await report_error(error, ctx)

    app.view(CallbackId.CONNECT_MODAL)(on_connect_submit)
