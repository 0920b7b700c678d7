"""Many workspaces through OAuth, end to end against the Slack stand-in.

Installs go the whole way a browser and Slack take them (`/slack/install`, the state cookie,
`/slack/oauth_redirect`, `oauth.v2.access` on SLACK_API_URL); then each team's requests and
alerts must go out with that team's own bot token, which the database holds only encrypted.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from bot.devtools.slack_standin import FakeSlack
from bot.devtools.waiting import wait_until
from bot.simulator import RunningSimulator
from storage.repositories import BindingRepository
from tests.constants import BACKUP
from tests.e2e.oauth_kit import (
    CLIENT_SECRET,
    Team,
    alert_of,
    command,
    install,
    oauth_bot,
    ok_in,
    posts_in,
    stored_token_values,
    team_senders,
)
from tests.e2e.worker_kit import alerts_in, cursors_ready

ALPHA = Team("T0ALPHA", "U0ALPHAADMIN", "C0ALPHA")
BETA = Team("T0BETA", "U0BETAADMIN", "C0BETA")
GRID = Team("T0GRIDWS", "U0GRIDADMIN", "C0GRID")
ORG = "E0GRID"


def raw_sqlite_bytes(path: Path | None) -> bytes:
    """The database file and its journals as bytes on disk (nothing for PostgreSQL)."""
    if path is None:
        return b""
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


async def test_two_teams_install_and_each_is_served_with_its_own_token(
    fake_slack: FakeSlack, simulator: RunningSimulator, database_url: str
) -> None:
    for team in (ALPHA, BETA):
        fake_slack.add_user(team.admin, is_admin=True, team_id=team.team_id)
    async with (
        oauth_bot(fake_slack, simulator, database_url, teams="T0ALPHA,T0BETA") as bot,
        team_senders(
            bot, fake_slack, alpha={"team_id": ALPHA.team_id}, beta={"team_id": BETA.team_id}
        ) as send,
    ):
        tokens = {
            team.team_id: await install(bot, fake_slack, team.team_id) for team in (ALPHA, BETA)
        }

        exchanges = fake_slack.calls_to("oauth.v2.access")
        assert [c.ok for c in exchanges] == [True, True], fake_slack.summary()
        assert all(CLIENT_SECRET not in repr(c.args) for c in exchanges)
        stored = await stored_token_values(bot.container.db)
        raw = raw_sqlite_bytes(bot.settings.sqlite_path)
        for token in tokens.values():
            assert not any(token in value for value in stored)
            assert token.encode() not in raw
        assert bot.settings.sqlite_path is None or b"T0ALPHA" in raw  # the file was read

        for team, sender in ((ALPHA, send["alpha"]), (BETA, send["beta"])):
            await command(sender, "connect 123", user=team.admin, channel=team.channel)
            confirmations = await fake_slack.wait_for("chat.postMessage", ok_in(team.channel))
            assert confirmations[0].token == tokens[team.team_id]

        await cursors_ready(bot.container.db)
        failed = simulator.state.run_scheduled_now(BACKUP, fail=True, log="Error: boom")
        for team in (ALPHA, BETA):
            await wait_until(
                alert_of(fake_slack, team.channel, failed.id), what=f"the alert in {team.channel}"
            )
        await bot.after_ticks(2)

    for team in (ALPHA, BETA):
        posts = posts_in(fake_slack, team.channel)
        assert {c.token for c in posts} == {tokens[team.team_id]}, fake_slack.summary()
        assert len(alerts_in(fake_slack, team.channel, failed.id)) == 1


async def test_the_install_needs_the_browser_that_started_it(
    fake_slack: FakeSlack, simulator: RunningSimulator, database_url: str
) -> None:
    async with oauth_bot(fake_slack, simulator, database_url, teams="", workers=False) as bot:
        async with httpx.AsyncClient(base_url=bot.url) as attacker:
            page = await attacker.get("/slack/install")
            state = page.text.split("state=", 1)[1].split("&", 1)[0]
            code = fake_slack.oauth.approve(ALPHA.team_id, installer="U0VICTIM")
            # The victim's browser follows a link made by the attacker: no state cookie.
            forged = await attacker.get(
                "/slack/oauth_redirect", params={"code": code, "state": state}
            )
        stored = await stored_token_values(bot.container.db)

    assert forged.status_code == 400
    assert fake_slack.calls_to("oauth.v2.access") == [] and stored == []


async def test_a_grid_org_install_serves_its_workspaces_for_requests_and_workers(
    fake_slack: FakeSlack, simulator: RunningSimulator, database_url: str
) -> None:
    fake_slack.add_user(GRID.admin, is_admin=True, team_id=GRID.team_id)
    async with oauth_bot(fake_slack, simulator, database_url, teams=GRID.team_id) as bot:
        org_token = await install(
            bot, fake_slack, None, enterprise_id=ORG, is_enterprise_install=True
        )
        workspace = {"team_id": GRID.team_id, "enterprise_id": ORG, "is_enterprise_install": True}
        async with team_senders(bot, fake_slack, grid=workspace) as send:
            await command(send["grid"], "connect 123", user=GRID.admin, channel=GRID.channel)
            await fake_slack.wait_for("chat.postMessage", ok_in(GRID.channel))
        await cursors_ready(bot.container.db)
        failed = simulator.state.run_scheduled_now(BACKUP, fail=True, log="Error: boom")
        await wait_until(alert_of(fake_slack, GRID.channel, failed.id), what="the org's alert")

    assert {c.token for c in posts_in(fake_slack, GRID.channel)} == {org_token}


async def test_a_request_rotates_an_expiring_token_through_slack_api_url(
    fake_slack: FakeSlack, simulator: RunningSimulator, database_url: str
) -> None:
    fake_slack.add_user(ALPHA.admin, is_admin=True, team_id=ALPHA.team_id)
    async with oauth_bot(
        fake_slack,
        simulator,
        database_url,
        teams=ALPHA.team_id,
        workers=False,
        token_rotation=True,
        expires_in=60,  # within Bolt's two hours: the first request rotates it
    ) as bot:
        installed = await install(bot, fake_slack, ALPHA.team_id)
        fake_slack.oauth.expires_in = 43_200  # the rotated token lasts: one rotation only
        async with team_senders(bot, fake_slack, alpha={"team_id": ALPHA.team_id}) as send:
            await command(send["alpha"], "connect 123", user=ALPHA.admin, channel=ALPHA.channel)
            confirmation = await fake_slack.wait_for("chat.postMessage", ok_in(ALPHA.channel))
        stored = await stored_token_values(bot.container.db)
        store = bot.container.slack.installation_store
        assert store is not None
        bot_row = await store.find_bot_for_team(ALPHA.team_id, None)

    refreshes = [c for c in fake_slack.calls_to("oauth.v2.access") if c.args.get("grant_type")]
    rotated = fake_slack.oauth.issued[-1].token
    assert [c.args["grant_type"] for c in refreshes] == ["refresh_token"]
    assert rotated != installed and confirmation[0].token == rotated
    assert bot_row is not None and bot_row.bot_token == rotated
    assert not any(rotated in value or installed in value for value in stored)


async def test_an_org_wide_uninstall_pauses_every_workspace_of_the_org_and_a_reinstall_resumes(
    fake_slack: FakeSlack, simulator: RunningSimulator, database_url: str
) -> None:
    """Issue 18 (suspicion, true): an org-wide install serves each workspace of the Grid org,
    and the bindings are stored under those workspaces' team ids, not the org's. Uninstalling
    it must pause all of them and forget the org's token, and installing it again must resume
    all of them."""
    other = Team("T0GRIDWS2", "U0GRIDADMIN2", "C0GRID2")
    for team in (GRID, other):
        fake_slack.add_user(team.admin, is_admin=True, team_id=team.team_id)
    teams = f"{GRID.team_id},{other.team_id}"
    async with oauth_bot(fake_slack, simulator, database_url, teams=teams, workers=False) as bot:
        await install(bot, fake_slack, None, enterprise_id=ORG, is_enterprise_install=True)
        senders = {
            t.team_id: {"team_id": t.team_id, "enterprise_id": ORG, "is_enterprise_install": True}
            for t in (GRID, other)
        }
        store = bot.container.slack.installation_store
        assert store is not None

        async def reasons() -> dict[str, str | None]:
            async with bot.container.db.session() as session:
                repo = BindingRepository(session)
                found = {t.team_id: await repo.get(t.team_id, t.channel) for t in (GRID, other)}
            return {t: (b.paused_reason if b else None) for t, b in found.items()}

        async def all_gone() -> bool:
            """Every binding of the org paused, and the org's token forgotten for each."""
            bots = [await store.find_bot_for_team(t.team_id, ORG) for t in (GRID, other)]
            return None not in (await reasons()).values() and bots == [None, None]

        async with team_senders(bot, fake_slack, **senders) as send:
            for team in (GRID, other):
                await command(
                    send[team.team_id], "connect 123", user=team.admin, channel=team.channel
                )
                await fake_slack.wait_for("chat.postMessage", ok_in(team.channel))
            await send[GRID.team_id].event({"type": "app_uninstalled"})
            await wait_until(all_gone, what="every workspace of the org paused, the token gone")
            await install(bot, fake_slack, None, enterprise_id=ORG, is_enterprise_install=True)
            assert set((await reasons()).values()) == {None}
