"""The one place an error becomes what the user sees, in plain words.

Listeners catch every exception after `ack()` and hand it here; letting it escape to Bolt can
lose the ack, because Bolt's runner resets the acknowledged response when a fast listener
raises. Expected failures (bad input, refusals, Skyvia saying no) become an ephemeral ⚠️
message; anything else gets a short reference id that is also in the log line with the
traceback, so a user's screenshot leads straight to it.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.errors import DomainError
from bot.skyvia.errors import (
    SkyviaAuthError,
    SkyviaBadResponse,
    SkyviaError,
    SkyviaNotFound,
    SkyviaRateLimited,
    SkyviaUnavailable,
)
from bot.slack.grammar.usage import UsageError
from bot.slack.messages import (
    Message,
    refusal_message,
    refusal_words,
    unexpected_error_message,
    usage_error_message,
)
from bot.slack.messages.payloads import PayloadError

if TYPE_CHECKING:
    from handlers.context import SlackContext

log = logging.getLogger("handlers.errors")


def skyvia_refusal(error: SkyviaError) -> tuple[str, str]:
    """The wording for each Skyvia failure: (what went wrong, how to fix it).

    Documented in docs/reference/commands.md#skyvia-errors-in-plain-words.
    """
    ws = error.workspace_id
    if isinstance(error, SkyviaAuthError):
        return (
            f"Skyvia rejected the access token of workspace {ws}.",
            "An admin can reconnect with `/skyvia connect`.",
        )
    if isinstance(error, SkyviaNotFound):
        if error.snapshot_id is not None:
            return (
                f"Snapshot {error.snapshot_id} of backup {error.backup_id} was not found in "
                f"workspace {ws}.",
                "Check the ids with `/skyvia snapshots <backupId>`.",
            )
        if error.backup_id is not None:
            return (
                f"Backup {error.backup_id} was not found in workspace {ws}.",
                "List the backups with `/skyvia backups`.",
            )
        return (
            f"Workspace {ws} was not found in Skyvia.",
            "An admin can reconnect with `/skyvia connect`.",
        )
    if isinstance(error, SkyviaRateLimited | SkyviaUnavailable):
        return ("Skyvia is not answering right now.", "Try again in a minute.")
    if isinstance(error, SkyviaBadResponse):
        return (
            "Skyvia sent an answer the bot could not read.",
            "Try again in a minute; if it keeps happening, tell the bot's admin.",
        )
    return ("Skyvia could not do that.", "Try again in a minute.")


def message_for(error: Exception) -> tuple[Message, str | None]:
    """The ephemeral message for an error, and a reference id when it was unexpected."""
    if isinstance(error, UsageError):
        return usage_error_message(error), None
    if isinstance(error, DomainError):
        return refusal_message(*refusal_words(error)), None
    if isinstance(error, PayloadError):
        # A button value the bot did not write (tampered, or from a much older message).
        return refusal_message(
            "That button's data could not be read, so nothing was done.",
            "Run the command again for a fresh message.",
        ), None
    if isinstance(error, SkyviaError):
        what, fix = skyvia_refusal(error)
        return refusal_message(what, fix), None
    reference = secrets.token_hex(4)
    return unexpected_error_message(reference), reference


def _log(error: Exception, kind: str, reference: str | None) -> None:
    if reference is not None:
        log.error(
            "unexpected error (ref %s) handling %s",
            reference,
            kind,
            exc_info=error,
            extra={"ref": reference},
        )
    else:
        log.info("refused %s: %s", kind, error)


async def report_error(error: Exception, ctx: SlackContext) -> None:
    """For listeners that catch errors themselves (modals): same message, same log line."""
    message, reference = message_for(error)
    _log(error, "view", reference)
    try:
        await ctx.reply(message)
    except Exception:
        log.exception("could not tell the user about an error")


async def handle_error(
    error: Exception,
    body: dict[str, Any],
    respond: AsyncRespond | None = None,
    client: AsyncWebClient | None = None,
    logger: logging.Logger | None = None,
    response: BoltResponse | None = None,
) -> None:
    """Bolt's global error handler: tell the user, log with context, never raise.

    `response` is set only when the listener raised before `ack()`: a payload the bot cannot
    read at that point (a modal's private_metadata) makes the request malformed, answered 400.
    """
    if response is not None and isinstance(error, PayloadError):
        log.warning("malformed Slack request refused: %s", error)
        response.status, response.body = 400, ""
        return
    message, reference = message_for(error)
    kind = body.get("type") or ("command" if "command" in body else "unknown")
    _log(error, kind, reference)
    user = (
        (body.get("user") or {}).get("id")
        if isinstance(body.get("user"), dict)
        else body.get("user_id")
    )
    channel = (
        (body.get("channel") or {}).get("id")
        if isinstance(body.get("channel"), dict)
        else body.get("channel_id")
    )
    try:
        if respond is not None and respond.response_url:
            await respond(**message.to_dict(), response_type="ephemeral", replace_original=False)
        elif client is not None and user and channel:
            await client.chat_postEphemeral(channel=channel, user=user, **message.to_dict())
    except SlackApiError as exc:
        log.warning("could not tell the user about an error: %s", exc.response.get("error"))
    except Exception:
        log.exception("could not tell the user about an error")
