"""`skyvia-bot check`: one line per dependency, so a deploy can be verified before it serves."""

from __future__ import annotations

from collections.abc import AsyncIterator

from cryptography.fernet import Fernet
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.services.token_policy import undecryptable_bindings
from bot.skyvia.client import SkyviaClient, build_http_client
from bot.skyvia.errors import SkyviaAuthError, SkyviaError
from bot.slack.clients import build_web_client
from storage.crypto import TokenCipher, load_key
from storage.db import Database

Check = tuple[str, bool, str]


def undecryptable_detail(broken: list[tuple[str, str]]) -> str:
    """The bindings named by team/channel ids only (never anything of the token)."""
    names = ", ".join(f"{team}/{channel}" for team, channel in broken)
    return (
        f"{len(broken)} binding(s) whose token does not decrypt with the configured key: {names}; "
        "put the old key after the new one, or reconnect them with `/skyvia connect`"
    )


MIGRATE = "`skyvia-bot migrate` creates the tables"


async def stored_tokens_check(settings: Settings, cipher: TokenCipher) -> Check:
    """Every binding's own token decrypts with the configured key(s); a database that could not
    be read is a failure, never "ok" (issue 19: a check says what it could not check)."""
    db = Database.connect(settings.database_url)
    try:
        broken = await undecryptable_bindings(db, cipher)
    except Exception as exc:  # e.g. a database not migrated yet
        return "stored tokens", False, f"not checked ({type(exc).__name__}); {MIGRATE}"
    finally:
        await db.dispose()
    if broken:
        return "stored tokens", False, undecryptable_detail(broken)
    return "stored tokens", True, "every binding's token decrypts"


async def run_checks(settings: Settings) -> AsyncIterator[Check]:
    """Reads only: no database file, key file or table is created by a check."""
    yield "configuration", True, "all variables parse"
    database = await _check_database(settings)
    yield database
    key, cipher = _check_encryption_key(settings)
    yield key
    if database[1] and cipher is not None:
        yield await stored_tokens_check(settings, cipher)
    yield await _check_slack(settings)
    yield await _check_skyvia(settings)


async def _check_database(settings: Settings) -> Check:
    path = settings.sqlite_path
    if path is not None and not path.exists():  # connecting would create it
        return "database", False, f"{path} does not exist; {MIGRATE}"
    db = Database.connect(settings.database_url)
    try:
        ok = await db.ping()
        return "database", ok, "answers" if ok else "does not answer"
    finally:
        await db.dispose()


def _check_encryption_key(settings: Settings) -> tuple[Check, TokenCipher | None]:
    """The key as the bot would load it, without creating the key file a first start makes.

    With no key file yet, stored tokens are checked against a key of the moment: any binding
    that stores a token then fails, as it would at start."""
    configured = settings.encryption_key.get_secret_value() if settings.encryption_key else None
    try:
        key = load_key(configured, settings.sqlite_path)
        if key is None:
            detail = "no key file yet; the bot creates one beside the database on first start"
            return ("encryption key", True, detail), TokenCipher(Fernet.generate_key().decode())
        return ("encryption key", True, "available"), TokenCipher(key)
    except Exception as exc:
        return ("encryption key", False, str(exc)), None


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
