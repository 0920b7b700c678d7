"""Uninstall forgets a team's installation; a reinstall resumes what the uninstall paused."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore

from bot.services.channel_pauses import TEAM_GONE, ChannelPauses
from bot.slack.installations import ResumingInstallationStore, TeamInstallations
from storage.db import Database
from storage.repositories import BindingRepository
from tests.constants import ADMIN, CHANNEL, OTHER_CHANNEL, TEAM

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def installation(team_id: str = TEAM, token: str = "xoxb-one") -> Installation:
    return Installation(
        app_id="A0TEST",
        team_id=team_id,
        bot_token=token,
        bot_id="B0BOT",
        bot_user_id="U0BOT",
        user_id=ADMIN,
        installed_at=time.time(),
    )


async def bind(db: Database, channel: str, team_id: str = TEAM) -> None:
    async with db.session() as session:
        await BindingRepository(session).upsert(
            team_id=team_id,
            channel_id=channel,
            workspace_id=123,
            workspace_name=None,
            token_ciphertext=None,
            created_by=ADMIN,
            now=NOW,
        )


async def paused_reasons(db: Database) -> dict[tuple[str, str], str | None]:
    async with db.session() as session:
        rows = await BindingRepository(session).list_for_workspace(123)
    return {(r.team_id, r.channel_id): r.paused_reason for r in rows}


async def test_uninstall_forgets_the_installation_and_a_reinstall_resumes_only_its_pauses(
    db: Database,
) -> None:
    inner = AsyncSQLAlchemyInstallationStore(client_id="1111.2222", engine=db.engine)
    pauses = ChannelPauses(db)
    store = ResumingInstallationStore(inner, pauses.resume_team)
    evicted: list[str] = []
    await store.async_save(installation())
    await store.async_save(installation("T0OTHER", "xoxb-other"))
    for channel in (CHANNEL, OTHER_CHANNEL):
        await bind(db, channel)
    await bind(db, CHANNEL, team_id="T0OTHER")
    await pauses.pause_channel(TEAM, OTHER_CHANNEL, "the channel was archived")
    await pauses.pause_team(TEAM, TEAM_GONE["app_uninstalled"])

    assert await TeamInstallations(store, evict=evicted.append).forget(TEAM)
    assert await store.async_find_bot(enterprise_id=None, team_id=TEAM) is None
    assert await store.async_find_bot(enterprise_id=None, team_id="T0OTHER") is not None
    assert evicted == ["xoxb-one"]

    await store.async_save(installation(token="xoxb-new"))
    assert await paused_reasons(db) == {
        (TEAM, CHANNEL): None,  # resumed by the reinstall
        (TEAM, OTHER_CHANNEL): "the channel was archived",  # another cause: stays paused
        ("T0OTHER", CHANNEL): None,
    }
    bot = await store.async_find_bot(enterprise_id=None, team_id=TEAM)
    assert bot is not None and bot.bot_token == "xoxb-new"


async def test_single_workspace_mode_has_nothing_to_forget() -> None:
    assert not await TeamInstallations(None).forget(TEAM)
