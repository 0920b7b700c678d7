"""A channel's binding to a Skyvia workspace: `help`, `connect` (with its modal), `disconnect`,
`status`, and the Connect to … and Disconnect confirmation buttons.

Connecting and disconnecting are admins' changes, told to the channel; a binding that would be
replaced, or a disconnect that would leave windows, mutes or a digest behind, is confirmed by a
button first. The connect modal's submission is checked against Skyvia before it is acked, so
a wrong token stays on the form.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeGuard

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import utcnow
from bot.services.audit import Actor
from bot.services.errors import NotInChannel, SlackBusy, TokenRejected, WorkspaceNotFound
from bot.services.models import ChannelBinding, WatchedRun
from bot.services.timers import TimerKind
from bot.skyvia.models import Workspace
from bot.slack.authz import Role
from bot.slack.grammar.commands import ConnectCmd, DisconnectCmd, HelpCmd, StatusCmd
from bot.slack.messages import (
    already_connected_message,
    connect_modal,
    connected_message,
    disconnect_question,
    disconnected_message,
    help_message,
    refusal_message,
    replace_binding_message,
    status_message,
    watch_ended_card,
)
from bot.slack.messages.digests import with_digest
from bot.slack.messages.ids import ActionId, BlockId, CallbackId
from bot.slack.messages.mrkdwn import user_mention
from bot.slack.messages.payloads import (
    ConnectModalMeta,
    ConnectRef,
    ConnectSubmission,
    DisconnectRef,
    ModalInputError,
    parse_connect_submission,
)
from bot.slack.messages.refusals import refusal_words
from bot.slack.messages.timers import with_pending_ends
from handlers.clicks import Click, claim_once
from handlers.context import Services, SlackContext
from handlers.errors import report_error
from handlers.screens import backup_names
from handlers.topic import Topic

log = logging.getLogger(__name__)

CONNECT = "connect a channel"
DISCONNECT = "disconnect a channel"


# -- commands --------------------------------------------------------------------------------


async def show_help(ctx: SlackContext, _: HelpCmd) -> None:
    await ctx.reply(help_message())


async def connect(ctx: SlackContext, command: ConnectCmd) -> None:
    await ctx.require(Role.ADMIN, CONNECT)
    policy = ctx.services.token_policy
    if command.workspace_id is None or not policy.default_token_serves(ctx.team_id):
        # A team the default token does not serve is told why it must bring its own token.
        refused = policy.has_default_token and not policy.default_token_serves(ctx.team_id)
        await ctx.client.views_open(
            trigger_id=ctx.trigger_id,
            view=connect_modal(
                channel_id=ctx.channel_id,
                workspace_id=command.workspace_id,
                token_required=True,
                own_token_required=refused,
            ),
        )
        return
    current = await ctx.services.bindings.status(ctx.team_id, ctx.channel_id)
    if _connected_as_asked(current.binding, command.workspace_id):
        await ctx.reply(already_connected_message(current.binding))
        return
    if current.binding is not None and current.binding.workspace_id != command.workspace_id:
        # Replacing drops the old workspace's mutes and watches: an admin confirms first.
        names = await backup_names(ctx, current.binding.workspace_id)
        watches = len(current.watches)
        ask = replace_binding_message(current.binding, watches, command.workspace_id, names)
        await ctx.reply(ask)
        return
    await finish_connect(ctx, command.workspace_id, token=None)


def _connected_as_asked(
    binding: ChannelBinding | None, workspace_id: int
) -> TypeGuard[ChannelBinding]:
    """A repeat of `connect <id>` that would change nothing: the same workspace, on the default
    token (what a typed `connect` uses), and no pause for a reconnect to lift."""
    return (
        binding is not None
        and binding.workspace_id == workspace_id
        and binding.uses_default_token
        and not binding.paused
    )


async def replace_connection(ctx: SlackContext, workspace_id: int) -> None:
    """Confirmed by the `Connect to <id>` button: binds the other workspace."""
    await ctx.require(Role.ADMIN, CONNECT)
    await finish_connect(ctx, workspace_id, token=None)


async def end_cards(ctx: SlackContext, ended: list[WatchedRun], reason: str) -> None:
    """Gives each stopped watch's card a final update, so none stays on "starting" forever.

    Best effort per card: one deleted or unreachable card must not keep the others unchanged.
    """
    for watch in ended:
        if not watch.message_ts:
            continue
        message = watch_ended_card(watch, reason)
        try:
            await ctx.update(message, channel_id=watch.channel_id, ts=watch.message_ts)
        except (SlackApiError, SlackBusy) as error:
            log.warning(
                "could not end the card of snapshot %s: %s",
                watch.snapshot_id,
                error.response.get("error") if isinstance(error, SlackApiError) else error,
                extra={"team": ctx.team_id, "channel": watch.channel_id},
            )


async def finish_connect(
    ctx: SlackContext, workspace_id: int, token: str | None, reached: Workspace | None = None
) -> None:
    """Binds, then tells the channel; undoes the binding if the bot cannot post there.

    A binding to another workspace than before drops the old one's watches: they are stopped
    and their cards ended (the modal path included, where the typed token is the confirmation).
    """
    service = ctx.services.bindings
    before = (await service.status(ctx.team_id, ctx.channel_id)).binding
    binding = await service.connect(
        team_id=ctx.team_id,
        channel_id=ctx.channel_id,
        workspace_id=workspace_id,
        token=token,
        user_id=ctx.user_id,
        enterprise_id=ctx.enterprise_id,
        reached=reached,
    )
    try:
        await ctx.post(connected_message(binding, ctx.user_id))
    except NotInChannel:
        await service.disconnect(
            team_id=ctx.team_id, channel_id=ctx.channel_id, user_id=ctx.user_id
        )
        raise
    if before is not None and before.workspace_id != workspace_id:
        # The old workspace's timed mutes and digest go; its windows end by themselves.
        await ctx.services.timers.drop_channel(ctx.team_id, ctx.channel_id)
        ended = await service.stop_watches(ctx.team_id, ctx.channel_id)
        by = user_mention(ctx.user_id)
        await end_cards(
            ctx, ended, f"the channel was connected to workspace {workspace_id} by {by}"
        )


async def disconnect(ctx: SlackContext, _: DisconnectCmd) -> None:
    """Disconnects at once, unless it would leave windows, mutes or a digest behind: then an
    admin is shown what and confirms with the button (`finish_disconnect`)."""
    await ctx.require(Role.ADMIN, DISCONNECT)
    binding = (await ctx.services.bindings.status(ctx.team_id, ctx.channel_id)).binding
    if binding is not None:
        ends = await ctx.services.timers.pending(ctx.team_id, ctx.channel_id)
        windows = [e for e in ends if e.kind == TimerKind.WINDOW_END]
        digest = await ctx.services.digests.current(ctx.team_id, ctx.channel_id)
        if windows or binding.muted_backup_ids or digest is not None:
            words = digest.words if digest is not None else None
            await ctx.reply(disconnect_question(binding, windows, words))
            return
    await finish_disconnect(ctx)


async def finish_disconnect(ctx: SlackContext) -> None:
    """Unbinds the channel; its timed mutes and digest go too (its windows still end)."""
    await ctx.require(Role.ADMIN, DISCONNECT)
    result = await ctx.services.bindings.disconnect(
        team_id=ctx.team_id, channel_id=ctx.channel_id, user_id=ctx.user_id
    )
    await ctx.services.timers.drop_channel(ctx.team_id, ctx.channel_id)
    message = disconnected_message(
        result.workspace_id, ctx.user_id, result.stopped_watches, result.workspace_name
    )
    await ctx.post_or_tell(message)
    reason = f"the channel was disconnected by {user_mention(ctx.user_id)}"
    await end_cards(ctx, result.ended, reason)


async def status(ctx: SlackContext, _: StatusCmd) -> None:
    result = await ctx.services.bindings.status(ctx.team_id, ctx.channel_id)
    ends = await ctx.services.timers.pending(ctx.team_id, ctx.channel_id)
    names: dict[int, str] = {}
    binding = result.binding
    if binding is not None and (binding.muted_backup_ids or binding.limits or ends):
        names = await backup_names(ctx, binding.workspace_id)
    waited = None if result.queued_since is None else (utcnow() - result.queued_since)
    message = status_message(
        result.binding,
        result.watches,
        names,
        queued=result.queued,
        queued_for=None if waited is None else waited.total_seconds(),
    )
    message = with_pending_ends(message, ends, names)
    if result.binding is not None:
        digest = await ctx.services.digests.current(ctx.team_id, ctx.channel_id)
        message = with_digest(message, digest)
    await ctx.reply(message)


# -- buttons ---------------------------------------------------------------------------------


async def confirm_connect(ctx: SlackContext, click: Click) -> None:
    ref = ConnectRef.load(click.value)
    async with claim_once(ctx, click):
        await replace_connection(ctx, ref.workspace_id)
    if ctx.respond is not None:  # the question is answered: take it away
        await ctx.respond(delete_original=True)


async def confirm_disconnect(ctx: SlackContext, click: Click) -> None:
    """Disconnect, confirmed after seeing what it leaves behind; only if the channel still has
    the binding the question was about."""
    ref = DisconnectRef.load(click.value)
    await ctx.require(Role.ADMIN, DISCONNECT)
    binding = (await ctx.services.bindings.status(ctx.team_id, ctx.channel_id)).binding
    if binding is None or int(binding.connected_at.timestamp()) != ref.bound_at:
        await ctx.reply(
            refusal_message(
                "This channel was disconnected or connected again since that question.",
                "Run `/skyvia disconnect` again if it should be disconnected now.",
            )
        )
        return
    async with claim_once(ctx, click):
        await finish_disconnect(ctx)
    if ctx.respond is not None:  # the question is answered: take it away
        await ctx.respond(delete_original=True)


# -- the connect modal -----------------------------------------------------------------------


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


def register_modal(app: AsyncApp, services: Services) -> None:
    """The connect modal's submission: its own listener shape (it acks with field errors)."""

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
            await ctx.require(Role.ADMIN, CONNECT)
            token = submission.token.get_secret_value() if submission.token else None
            await finish_connect(ctx, submission.workspace_id, token=token, reached=reached)
        except Exception as error:
            # A view submission has no channel in its envelope: answer in the modal's channel.
            await report_error(error, ctx)

    app.view(CallbackId.CONNECT_MODAL)(on_connect_submit)


TOPIC = Topic(
    commands={
        HelpCmd: show_help,
        ConnectCmd: connect,
        DisconnectCmd: disconnect,
        StatusCmd: status,
    },
    buttons={
        ActionId.CONFIRM_CONNECT: confirm_connect,
        ActionId.CONFIRM_DISCONNECT: confirm_disconnect,
    },
    register=register_modal,
)
