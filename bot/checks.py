"""`skyvia-bot check`: one line per dependency, so a deploy can be verified before it serves."""

from __future__ import annotations

from collections.abc import AsyncIterator

from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.container import token_cipher
from bot.skyvia.client import SkyviaClient, build_http_client
from bot.skyvia.errors import SkyviaAuthError, SkyviaError
from bot.slack.clients import build_web_client
from storage.db import Database

Check = tuple[str, bool, str]


async def run_checks(settings: Settings) -> AsyncIterator[Check]:
    yield "configuration", True, "all variables parse"

    db = Database.connect(settings.database_url)
    try:
        ok = await db.ping()
        yield "database", ok, "answers" if ok else "does not answer"
    finally:
        await db.dispose()

    try:
        token_cipher(settings)
        yield "encryption key", True, "available"
    except Exception as exc:
        yield "encryption key", False, str(exc)

    if settings.slack_bot_token is None:
        yield (
            "slack",
            settings.oauth_enabled,
            (
                "OAuth mode: tokens come from installations"
                if settings.oauth_enabled
                else "SLACK_BOT_TOKEN is not set"
            ),
        )
    else:
        client = build_web_client(
            settings.slack_bot_token.get_secret_value(), settings.slack_api_url, None
        )
        try:
            auth = await client.auth_test()
            yield (
                "slack",
                True,
                f"auth.test ok: team {auth.get('team')}, bot user {auth.get('user_id')}",
            )
        except SlackApiError as exc:
            yield "slack", False, f"auth.test failed: {exc.response.get('error')}"
        except Exception as exc:
            yield (
                "slack",
                False,
                f"{settings.slack_api_url} is not reachable ({type(exc).__name__})",
            )

    http = build_http_client()
    try:
        skyvia = SkyviaClient(http, settings.skyvia_api_url)
        token = settings.skyvia_api_token.get_secret_value() if settings.skyvia_api_token else ""
        try:
            workspaces = await skyvia.list_workspaces(token)
            yield "skyvia", True, f"reachable; default token sees {len(workspaces)} workspace(s)"
        except SkyviaAuthError:
            detail = "reachable; " + (
                "SKYVIA_API_TOKEN was rejected"
                if token
                else "no default token (bindings bring their own)"
            )
            yield "skyvia", not token, detail
        except SkyviaError as exc:
            yield (
                "skyvia",
                False,
                f"{settings.skyvia_api_url} is not answering ({type(exc).__name__})",
            )
    finally:
        await http.aclose()
