"""`python -m bot.simulator` / `bot.simulator.cli.run`: start-up lines, tokens, clean stop."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.simulator import cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def started(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The simulator in a child process with the given extra flags; yields (process, base URL)."""
    env = {k: v for k, v in os.environ.items() if k != "SKYVIA_API_TOKEN"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.simulator", "--port", "0", *request.param],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", first)
        assert match, f"unexpected first line {first!r}; stderr: {process.stderr.read()}"
        yield process, match.group(1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.parametrize("started", [["--token", "abc", "--token", "def"]], indirect=True)
@pytest.mark.e2e
def test_serves_given_tokens_and_stops_on_sigterm(
    started: tuple[subprocess.Popen[str], str],
) -> None:
    process, base_url = started
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "Access token: abc"
    for token in ("abc", "def"):
        response = httpx.get(base_url + "/workspaces/123", headers={"Authorization": token})
        assert response.json()["name"] == "Operations"
    denied = httpx.get(base_url + "/workspaces", headers={"Authorization": "simulator-token"})
    assert denied.status_code == 403

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert "stopped" in process.stdout.read()


@pytest.mark.parametrize("started", [["--fail-next", "456", "--speed", "1000"]], indirect=True)
@pytest.mark.e2e
def test_default_token_flags_and_ctrl_c(started: tuple[subprocess.Popen[str], str]) -> None:
    process, base_url = started
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "Access token: simulator-token"
    headers = {"Authorization": "simulator-token"}
    run = httpx.post(base_url + "/workspaces/123/backups/456/snapshots", headers=headers).json()
    admin = base_url.removesuffix("/v1") + "/_sim"
    finished = httpx.post(f"{admin}/snapshots/{run['runId']}/finish", json={"state": "Failed"})
    assert finished.json()["result"].startswith("Error: INVALID_SESSION_ID")

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=15) == 0


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults() -> None:
    args = parse()
    assert (args.host, args.port, args.token, args.speed, args.seed) == (
        "127.0.0.1",
        8081,
        None,
        1.0,
        None,
    )


def test_env_token_is_used_but_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYVIA_API_TOKEN", "real-looking-secret")
    args = parse()
    state = cli.build_state(args)
    assert state.token_allows("real-looking-secret", 123)
    assert "real-looking-secret" not in cli._token_note(args, state.token)


def test_seed_file(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"workspaces": [{"id": 9, "backups": [{"id": 90}]}]}))
    state = cli.build_state(parse("--seed", str(seed), "--token", "t"))
    assert list(state.workspaces) == [9] and list(state.backups) == [90]


@pytest.mark.parametrize("content", [None, "not json", '{"workspaces": [{"id": "x"}]}'])
def test_bad_seed_exits_2(
    tmp_path: Path, content: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = tmp_path / "seed.json"
    if content is not None:
        seed.write_text(content)
    assert cli.run(parse("--seed", str(seed), "--port", "0")) == 2
    assert "simulator:" in capsys.readouterr().err


def test_busy_port_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.run(parse("--port", str(port), "--token", "t")) == 2
    assert "cannot listen" in capsys.readouterr().err
