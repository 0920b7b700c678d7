"""`skyvia-bot check`: one line per dependency, so a deploy can be verified before it serves."""

from __future__ import annotations

from collections.abc import AsyncIterator

from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.container import token_cipher
from bot.services.bindings import undecryptable_bindings
from bot.skyvia.client import SkyviaClient, build_http_client
from bot.skyvia.errors import SkyviaAuthError, SkyviaError
from bot.slack.clients import build_web_client
from storage.crypto import TokenCipher
from storage.db import Database

Check = tuple[str, bool, str]


def undecryptable_detail(broken: list[tuple[str, str]]) -> str:
    """The bindings named by team/channel ids only (never anything of the token)."""
    names = ", ".join(f"{team}/{channel}" for team, channel in broken)
    return (
        f"{len(broken)} binding(s) whose token does not decrypt with the configured key: {names}; "
        "put the old key after the new one, or reconnect them with `/skyvia connect`"
    )


async def stored_tokens_check(settings: Settings, cipher: TokenCipher) -> Check:
    """Every binding's own token decrypts with the configured key(s)."""
    db = Database.connect(settings.database_url)
    try:
        broken = await undecryptable_bindings(db, cipher)
    except Exception as exc:  # e.g. a database not migrated yet: nothing stored to check
        return "stored tokens", True, f"not checked ({type(exc).__name__})"
    finally:
        await db.dispose()
    if broken:
        return "stored tokens", False, undecryptable_detail(broken)
    return "stored tokens", True, "every binding's token decrypts"


async def run_checks(settings: Settings) -> AsyncIterator[Check]:
    yield "configuration", True, "all variables parse"
    yield await _check_database(settings)
    key = _check_encryption_key(settings)
    yield key
    if key[1]:
        yield await stored_tokens_check(settings, token_cipher(settings))
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
