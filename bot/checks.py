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
    yield await _check_database(settings)
    yield _check_encryption_key(settings)
    yield await _check_slack(settings)
    yield await _check_skyvia(settings)


async def _check_database(settings: Settings) -> Check:
    db = Database.connect(settings.database_url)
    try:
        ok = await db.ping()
        return "database", ok, "answers" if ok else "does not answer"
    finally:
        await db.dispose()


def _check_encryption_key(settings: Settings) -> Check:
    try:
        token_cipher(settings)
        return "encryption key", True, "available"
    except Exception as exc:
        return "encryption key", False, str(exc)


async def _check_slack(settings: Settings) -> Check:
    """`auth.test` with the bot token; in OAuth mode tokens come per installation instead."""
    if settings.slack_bot_token is None:
        if settings.oauth_enabled:
            return "slack", True, "OAuth mode: tokens come from installations"
        return "slack", False, "SLACK_BOT_TOKEN is not set"
    client = build_web_client(
        settings.slack_bot_token.get_secret_value(), settings.slack_api_url, None
    )
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        return "slack", False, f"auth.test failed: {exc.response.get('error')}"
    except Exception as exc:
        return "slack", False, f"{settings.slack_api_url} is not reachable ({type(exc).__name__})"
    return "slack", True, f"auth.test ok: team {auth.get('team')}, bot user {auth.get('user_id')}"


async def _check_skyvia(settings: Settings) -> Check:
    """Lists workspaces with the default token; without one, a 401 still shows Skyvia answers."""
    http = build_http_client()
    try:
        skyvia = SkyviaClient(http, settings.skyvia_api_url)
        token = settings.skyvia_api_token.get_secret_value() if settings.skyvia_api_token else ""
        try:
            workspaces = await skyvia.list_workspaces(token)
        except SkyviaAuthError:
            if token:
                return "skyvia", False, "reachable; SKYVIA_API_TOKEN was rejected"
            return "skyvia", True, "reachable; no default token (bindings bring their own)"
        except SkyviaError as exc:
            detail = f"{settings.skyvia_api_url} is not answering ({type(exc).__name__})"
            return "skyvia", False, detail
        return "skyvia", True, f"reachable; default token sees {len(workspaces)} workspace(s)"
    finally:
        await http.aclose()
