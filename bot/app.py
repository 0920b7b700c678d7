"""`create_app(container) -> AsyncApp`: the Bolt app, built on demand (never at import time)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore

from bot.container import Container
from bot.logging_setup import set_log_context
from bot.slack.clients import SlackClients
from bot.slack.installations import ResumingInstallationStore
from handlers import register_all

log = logging.getLogger(__name__)

# The bot scopes, each for a reason; manifest.yml asks for exactly these (a test checks) and
# OAuth installs request them.
BOT_SCOPES = [
    "commands",  # the /skyvia slash command
    "chat:write",  # lifecycle cards, thread replies, alerts, ephemerals
    "chat:write.public",  # post in public channels the bot was not invited to
    "users:read",  # users.info: is the user a workspace admin/owner?
    "usergroups:read",  # usergroups.users.list: operators given as user groups
    "channels:read",  # conversations.info/members for public channels (App Home visibility)
    "groups:read",  # the same for private channels
    "channels:history",  # exactly-once recovery: find our own message before re-posting
    "groups:history",  # the same in private channels
]


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("slack_bolt")
    if not any(isinstance(f, _EnvTokenWarningFilter) for f in logger.filters):
        logger.addFilter(_EnvTokenWarningFilter())
    return logger


def _request_kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return "command"
    kind = str(body.get("type") or "unknown")
    return {
        "block_actions": "action",
        "view_submission": "view",
        "view_closed": "view",
        "event_callback": "event",
    }.get(kind, kind)


class _EnvTokenWarningFilter(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the client we pass wins; it does, by
    design (our client carries the same token plus metrics and retries), so drop that line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


class RotatingFirstAuthorize(AsyncInstallationStoreAuthorize):
    """Bolt's authorize, after the bot's own rotation of an expiring token.

    Bolt rotates a token on its own inside a request, under no lock; two requests, two replicas,
    or a request and a worker could then exchange one refresh token at once. So the request's
    team goes through `SlackClients.for_team` first, which rotates under the turn the replicas
    share (`bot.slack.clients`); Bolt then finds the token fresh and leaves it.
    """

    def __init__(self, clients: SlackClients, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clients = clients

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        if team_id:
            with contextlib.suppress(LookupError):  # not installed: Bolt says so its own way
                await self._clients.for_team(team_id, enterprise_id)
        return await super().__call__(
            context=context,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            actor_enterprise_id=actor_enterprise_id,
            actor_team_id=actor_team_id,
            actor_user_id=actor_user_id,
        )


def _oauth_kwargs(container: Container) -> dict[str, Any]:
    """OAuth mode: installs, authorization and token rotation, all through SLACK_API_URL.

    Bolt takes the app's `client` for `oauth.v2.access` and `auth.test` (and builds each request's
    client on its base URL), but its default authorize rotates tokens with a client of its own
    that calls slack.com; ours gets the token-less client on SLACK_API_URL instead.
    """
    settings = container.settings
    store = container.slack.installation_store
    assert store is not None and settings.slack_client_id and settings.slack_client_secret
    client_secret = settings.slack_client_secret.get_secret_value()
    oauth_settings = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=client_secret,
        scopes=BOT_SCOPES,
        # A reinstall resumes what the uninstall paused (bot.slack.installations).
        installation_store=ResumingInstallationStore(store, container.services.pauses.resume_team),
        state_store=AsyncSQLAlchemyOAuthStateStore(
            expiration_seconds=600, engine=container.db.engine
        ),
    )
    authorize = RotatingFirstAuthorize(
        container.slack,
        logger=_bolt_logger(),
        installation_store=store,
        client_id=settings.slack_client_id,
        client_secret=client_secret,
        token_rotation_expiration_minutes=oauth_settings.token_rotation_expiration_minutes,
        client=container.slack.oauth,
    )
    return {
        "oauth_settings": oauth_settings,
        "authorize": authorize,
        "client": container.slack.oauth,
    }


def create_app(container: Container) -> AsyncApp:
    settings = container.settings
    signing_secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    kwargs: dict[str, Any] = {
        "signing_secret": signing_secret,
        "process_before_response": False,
        "raise_error_for_unhandled_request": False,
        "logger": _bolt_logger(),
    }
    if settings.oauth_enabled:
        kwargs.update(_oauth_kwargs(container))
    else:
        kwargs["client"] = container.slack.default
    if signing_secret is None:
        # Socket Mode: requests arrive over the authenticated socket, there is nothing to sign.
        kwargs["request_verification_enabled"] = False
    app = AsyncApp(**kwargs)

    async def count_and_instrument(
        body: dict[str, Any],
        context: AsyncBoltContext,
        next: Callable[[], Awaitable[Any]],
    ) -> Any:
        """Counts the request, tags its log lines with its team, channel and user, and swaps
        Bolt's plain per-request client for our instrumented one (same token), so listener
        calls get metrics, logs and retry handling too.

        The ids are set, not scoped: Bolt's `next()` only marks the chain as continued and the
        listeners run after this returns, in this task or in tasks it starts (which copy the
        context). Each request has its own task, in HTTP and in Socket Mode alike.
        """
        set_log_context(team=context.team_id, channel=context.channel_id, user=context.user_id)
        container.metrics.slack_requests.labels(_request_kind(body)).inc()
        context["client"] = container.slack.for_token(context.client.token)
        return await next()

    app.middleware(count_and_instrument)
    register_all(app, container.services)
    return app
