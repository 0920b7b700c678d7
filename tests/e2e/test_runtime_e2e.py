"""The service as an operator runs it: endpoints, CLI verbs, start-up errors, restarts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store import Installation

from bot.devtools.child_process import REPO_ROOT
from bot.devtools.slack_requests import SlackRequestSender
from bot.devtools.slack_standin import FakeSlack
from bot.devtools.waiting import wait_until
from bot.simulator import RunningSimulator
from bot.slack.installation_store import EncryptedInstallationStore
from storage.crypto import TokenCipher
from storage.db import Database
from storage.repositories import BindingRepository
from tests.constants import ADMIN, CHANNEL, TEAM
from tests.e2e.bot_fixtures import Stack
from tests.e2e.bot_runner import (
    ENCRYPTION_KEY,
    SIGNING_SECRET,
    bot_env,
    bot_process,
    running_bot,
)


async def test_health_readiness_and_metrics(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.bot.url) as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"database": "ok"}
        await stack.reply_to("help")
        await stack.command("connect 123", user=ADMIN)
        await stack.slack.wait_for("chat.postMessage")

        # The bot counts a Slack call when its answer arrives, just after the fake saw it.
        async def metrics_with_the_post() -> str | None:
            text = (await http.get("/metrics")).text
            return text if "chat.postMessage" in text else None

        metrics = await wait_until(metrics_with_the_post, what="the post in /metrics")
    assert 'skyvia_bot_slack_requests_total{kind="command"} 2.0' in metrics
    assert (
        'skyvia_bot_skyvia_calls_total{endpoint="GET /workspaces/{workspaceId}",status="200"} 1.0'
        in metrics
    )
    assert 'skyvia_bot_slack_calls_total{method="chat.postMessage",outcome="ok"} 1.0' in metrics
    assert "skyvia_bot_watches_pending" in metrics
    assert "skyvia_bot_poll_lag_seconds" in metrics


async def test_readyz_is_503_when_the_database_does_not_answer(
    fake_slack: FakeSlack, simulator: RunningSimulator, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-dir" / "bot.db"
    async with running_bot(
        workers=False,
        slack_api_url=fake_slack.api_url,
        skyvia_api_url=simulator.base_url,
        database_url=f"sqlite+aiosqlite:///{missing}",
    ) as bot:
        async with httpx.AsyncClient(base_url=bot.url) as http:
            assert (await http.get("/healthz")).status_code == 200
            ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"database": "unavailable"}


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_malformed_setting_stops_start_up_with_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "run",
        "--http",
        env={"SKYVIA_BOT_WATCH_INTERVAL": "often", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"},
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("skyvia-bot: SKYVIA_BOT_WATCH_INTERVAL is invalid")
    assert "Traceback" not in result.stderr


def test_serving_without_a_token_names_the_variable(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SLACK_SIGNING_SECRET": "s3cret"}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SKYVIA_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--http"],
        cwd=REPO_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in result.stderr


async def test_migrate_and_check_report_one_line_each(
    fake_slack: FakeSlack, simulator: RunningSimulator, tmp_path: Path
) -> None:
    env = bot_env(
        slack_api_url=fake_slack.api_url,
        skyvia_api_url=simulator.base_url,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/ops.db",
        SLACK_BOT_TOKEN=fake_slack.bot_token,
        SKYVIA_API_TOKEN=simulator.token,
    )
    migrate = await asyncio.to_thread(run_cli, "migrate", env=env)
    assert migrate.returncode == 0, migrate.stderr
    assert "up to date" in migrate.stdout

    check = await asyncio.to_thread(run_cli, "check", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    lines = check.stdout.strip().splitlines()
    assert [line.split()[1].rstrip(":") for line in lines] == [
        "configuration",
        "database",
        "encryption",
        "stored",
        "slack",
        "skyvia",
    ]
    assert all(line.startswith("ok") for line in lines)
    assert simulator.token not in check.stdout + check.stderr

    broken = {**env, "SKYVIA_API_TOKEN": "revoked-token"}
    failing = await asyncio.to_thread(run_cli, "check", env=broken)
    assert failing.returncode == 1
    assert "FAIL skyvia" in failing.stdout
    assert "revoked-token" not in failing.stdout + failing.stderr


async def test_bindings_survive_sigkill_and_restart(
    fake_slack: FakeSlack,
    simulator: RunningSimulator,
    database_url: str,
    slack_sender_factory,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    fake_slack.add_user(ADMIN, name="ada", is_admin=True)
    env = bot_env(
        slack_api_url=fake_slack.api_url,
        skyvia_api_url=simulator.base_url,
        database_url=database_url,
        SLACK_BOT_TOKEN=fake_slack.bot_token,
        SKYVIA_API_TOKEN=simulator.token,
    )
    process = bot_process(env)
    try:
        await process.start(tmp_path / "bot.log")
        sender: SlackRequestSender = slack_sender_factory(process.url, SIGNING_SECRET)
        await sender.slash_command("connect 123", user_id=ADMIN, channel_id=CHANNEL)
        await fake_slack.wait_for("chat.postMessage", lambda c: c.ok)

        process.kill()  # SIGKILL: no shutdown code runs
        assert process.returncode == -9
        await process.start(tmp_path / "bot.log")
        sender = slack_sender_factory(process.url, SIGNING_SECRET)
        await sender.slash_command("status", user_id=ADMIN, channel_id=CHANNEL)
        response_id = sender.last_response_id
        assert response_id is not None
        status = (await fake_slack.wait_for_responses(response_id))[0].body
        assert "123" in status["text"] + str(status["blocks"])
        assert "not connected" not in status["text"].lower()
    finally:
        process.kill()


async def test_sigterm_stops_the_service_cleanly(
    fake_slack: FakeSlack,
    simulator: RunningSimulator,
    database_url: str,
    tmp_path: Path,
) -> None:
    env = bot_env(
        slack_api_url=fake_slack.api_url,
        skyvia_api_url=simulator.base_url,
        database_url=database_url,
        SLACK_BOT_TOKEN=fake_slack.bot_token,
    )
    process = bot_process(env)
    try:
        await process.start(tmp_path / "bot.log")
        code = await asyncio.to_thread(process.stop)
        assert code == 0, process.tail()
        assert "Traceback" not in process.tail()
        # Start-up settled the heap before serving (`bot.runtime.settle_heap`: ack p99).
        assert "heap settled" in (tmp_path / "bot.log").read_text()
    finally:
        process.kill()


def installation_store(db: Database, cipher: TokenCipher) -> EncryptedInstallationStore:
    return EncryptedInstallationStore(client_id="1111.2222", engine=db.engine, cipher=cipher)


async def test_migrate_rotates_stored_tokens_to_the_new_key(
    fake_slack: FakeSlack, simulator: RunningSimulator, database_url: str, tmp_path: Path
) -> None:
    old = TokenCipher(ENCRYPTION_KEY)
    db = Database.connect(database_url)
    try:
        async with db.session() as session:
            await BindingRepository(session).upsert(
                team_id=TEAM,
                channel_id=CHANNEL,
                workspace_id=123,
                workspace_name="Operations",
                token_ciphertext=old.encrypt("own-token-123456"),
                created_by=ADMIN,
                now=datetime.now(UTC),
            )
        await installation_store(db, old).async_save(
            Installation(
                app_id="A0TEST", team_id=TEAM, user_id=ADMIN, bot_token="xoxb-installed-123"
            )
        )
        new_key = Fernet.generate_key().decode()
        env = bot_env(
            slack_api_url=fake_slack.api_url,
            skyvia_api_url=simulator.base_url,
            database_url=database_url,
            SKYVIA_BOT_ENCRYPTION_KEY=f"{new_key},{ENCRYPTION_KEY}",
        )
        result = await asyncio.to_thread(run_cli, "migrate", env=env)
        assert result.returncode == 0, result.stderr
        # The binding's Skyvia token, and the Slack bot token in both installation tables.
        assert "re-encrypted 3 stored token(s)" in result.stdout
        async with db.session() as session:
            binding = await BindingRepository(session).get(TEAM, CHANNEL)
        assert binding is not None and binding.token_ciphertext
        # Readable with the new key alone: the old key can now be dropped.
        assert TokenCipher(new_key).decrypt(binding.token_ciphertext) == "own-token-123456"
        bot = await installation_store(db, TokenCipher(new_key)).find_bot_for_team(TEAM, None)
        assert bot is not None and bot.bot_token == "xoxb-installed-123"
    finally:
        await db.dispose()


async def test_migrate_rotates_every_token_it_can_and_names_the_ones_it_cannot(
    fake_slack: FakeSlack, simulator: RunningSimulator, database_url: str
) -> None:
    """One undecryptable token (a key nobody configured any more) no longer blocks rotation:
    the good rows are re-encrypted, the bad one is named by binding (never by its token), and
    `migrate` exits 1 with that summary instead of a traceback (see docs/reference)."""
    old, lost = TokenCipher(ENCRYPTION_KEY), TokenCipher(Fernet.generate_key().decode())
    bad_ciphertext = lost.encrypt("lost-token-123456")
    db = Database.connect(database_url)
    try:
        async with db.session() as session:
            repo = BindingRepository(session)
            for channel, ciphertext in (
                ("C0AAA", old.encrypt("own-token-aaa")),
                ("C0BAD", bad_ciphertext),
                ("C0ZZZ", old.encrypt("own-token-zzz")),
            ):
                await repo.upsert(
                    team_id=TEAM,
                    channel_id=channel,
                    workspace_id=123,
                    workspace_name="Operations",
                    token_ciphertext=ciphertext,
                    created_by=ADMIN,
                    now=datetime.now(UTC),
                )
        new_key = Fernet.generate_key().decode()
        env = bot_env(
            slack_api_url=fake_slack.api_url,
            skyvia_api_url=simulator.base_url,
            database_url=database_url,
            SKYVIA_BOT_ENCRYPTION_KEY=f"{new_key},{ENCRYPTION_KEY}",
        )
        result = await asyncio.to_thread(run_cli, "migrate", env=env)
        assert result.returncode == 1, result.stderr
        output = result.stdout + result.stderr
        assert "Traceback" not in output, output
        assert "re-encrypted 2 stored token(s)" in result.stdout, output
        assert f"{TEAM}/C0BAD" in result.stderr, output
        assert "C0AAA" not in result.stderr and "C0ZZZ" not in result.stderr
        assert bad_ciphertext not in output and "lost-token" not in output
        async with db.session() as session:
            repo = BindingRepository(session)
            for channel, token in (("C0AAA", "own-token-aaa"), ("C0ZZZ", "own-token-zzz")):
                binding = await repo.get(TEAM, channel)
                assert binding is not None and binding.token_ciphertext
                assert TokenCipher(new_key).decrypt(binding.token_ciphertext) == token
            bad = await repo.get(TEAM, "C0BAD")
            assert bad is not None and bad.token_ciphertext == bad_ciphertext  # left as it was
    finally:
        await db.dispose()


async def test_oauth_mode_serves_the_install_pages(
    fake_slack: FakeSlack, simulator: RunningSimulator, database_url: str
) -> None:
    async with running_bot(
        workers=False,
        slack_api_url=fake_slack.api_url,
        skyvia_api_url=simulator.base_url,
        database_url=database_url,
        SLACK_BOT_TOKEN=None,
        SLACK_CLIENT_ID="1111.2222",
        SLACK_CLIENT_SECRET="oauth-client-secret",
    ) as bot:
        async with httpx.AsyncClient(base_url=bot.url) as http:
            install = await http.get("/slack/install")
            redirect = await http.get("/slack/oauth_redirect", params={"error": "access_denied"})
    assert install.status_code == 200
    assert "https://slack.com/oauth/v2/authorize?state=" in install.text
    assert "client_id=1111.2222" in install.text
    assert "scope=commands,chat:write" in install.text
    assert "oauth-client-secret" not in install.text
    # A refused install lands on Bolt's error page, which links back to the install page.
    assert "access_denied" in redirect.text and 'href="/slack/install"' in redirect.text
