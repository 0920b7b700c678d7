"""`create_app(container) -> AsyncApp`: the Bolt app, built on demand (never at import time)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore

from bot.container import Container
from handlers import register_all

log = logging.getLogger(__name__)

# The scopes manifest.yml asks for; OAuth installs request the same set.
BOT_SCOPES = [
    "commands",
    "chat:write",
    "chat:write.public",
    "users:read",
    "usergroups:read",
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
]


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


def create_app(container: Container) -> AsyncApp:
    settings = container.settings
    signing_secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    kwargs: dict[str, Any] = {
        "signing_secret": signing_secret,
        "process_before_response": False,
        "raise_error_for_unhandled_request": False,
        "logger": logging.getLogger("slack_bolt"),
    }
    if settings.oauth_enabled:
        kwargs["oauth_settings"] = AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value()
            if settings.slack_client_secret
            else None,
            scopes=BOT_SCOPES,
            installation_store=AsyncSQLAlchemyInstallationStore(
                client_id=settings.slack_client_id or "", engine=container.db.engine
            ),
            state_store=AsyncSQLAlchemyOAuthStateStore(
                expiration_seconds=600, engine=container.db.engine
            ),
        )
    else:
        kwargs["client"] = container.slack.default
    if signing_secret is None:
        # Socket Mode: requests arrive over the authenticated socket, there is nothing to sign.
        kwargs["request_verification_enabled"] = False
    app = AsyncApp(**kwargs)

    async def count_requests(body: dict[str, Any], next: Any) -> Any:
        container.metrics.slack_requests.labels(_request_kind(body)).inc()
        return await next()

    app.middleware(count_requests)
    register_all(app, container)
    return app
