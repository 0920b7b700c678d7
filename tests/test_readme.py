"""README's promises that a newcomer runs first: the simulator example works as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.devtools.ports import free_port

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def readme_block(after_heading: str) -> str:
    """The first ```sh block after a heading."""
    section = README.split(after_heading, 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, f"no sh block after {after_heading!r}"
    return match.group(1)


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_simulator_curl_examples_work_as_written() -> None:
    script = shutil.which("skyvia-bot", path=str(Path(sys.executable).parent))
    assert script, "the skyvia-bot console script is not installed (pip install -e .)"
    block = readme_block("## The Skyvia simulator")
    assert block.startswith("skyvia-bot simulator --port 8081 &")
    curls = [
        line.rstrip("\\").strip()
        for line in re.sub(r"\\\n\s*", " ", block).splitlines()
        if line.startswith("curl ")
    ]
    assert len(curls) == 3
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SKYVIA_API_TOKEN"}
    server = subprocess.Popen(
        [script, "simulator", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert f"127.0.0.1:{port}" in first, first
        outputs = []
        for curl in curls:
            command = curl.split("#", 1)[0].replace("8081", str(port))
            result = subprocess.run(
                ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=False
            )
            assert result.returncode == 0, result.stderr
            outputs.append(result.stdout)
        backups = json.loads(outputs[0])
        assert len(backups["data"]) == 5 and backups["hasMore"] is True
        assert any(b["name"] == "Nightly CRM" for b in backups["data"])
        run = json.loads(outputs[1])
        assert run["state"] in {"New", "Queued", "Running"} and run["runId"] >= 7001
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    assert server.returncode == 0


def test_the_test_command_is_the_one_ci_runs() -> None:
    block = readme_block("## Test it")
    assert "pip install -r requirements.lock" in block and block.strip().endswith("pytest -q")
    assert "pip install --no-deps -e ." in block
    ci = (REPO / ".ci" / "run").read_text()
    assert "pip install -q -r requirements.lock" in ci and "pip install -q --no-deps -e ." in ci
    assert ci.count("\npytest -q\n") + ci.count(" pytest -q\n") == 2


def test_the_fast_loop_is_documented_and_its_marker_registered() -> None:
    section = README.split("## Test it", 1)[1].split("\n## ", 1)[0]
    assert 'pytest -q -m "not e2e"' in section and "pytest -q -m e2e" in section
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    markers = pyproject["tool"]["pytest"]["ini_options"]["markers"]
    assert any(marker.startswith("e2e:") for marker in markers)


def test_every_documented_variable_is_a_setting() -> None:
    from bot.config import Settings

    names = {
        field.alias or str(field.validation_alias.choices[0])  # type: ignore[union-attr]
        for field in Settings.model_fields.values()
    }
    table = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z_]+)`", table.split("| name |", 1)[1]))
    documented -= {"INFO"}
    assert documented <= names, documented - names
    assert names <= documented, names - documented


NEWCOMER_SECTIONS = (
    "What it looks like",  # the messages
    "Try it now",  # the console
    "Run it",
    "Create the Slack app",
    "Configuration",
    "Running several replicas on PostgreSQL",
    "Benchmarks",
)
README_LINES = 480
"""About what the sections above take with their transcripts (issue 19 item 4 found 682 lines,
most of them benchmark detail): growing past it means detail that belongs in a reference."""


def test_readme_holds_what_a_newcomer_needs_and_leaves_the_detail_elsewhere() -> None:
    """Issue 19 item 4: what it is, the messages, how to try and run it, the Slack app, the
    configuration, replicas and a benchmark summary with its targets; the benchmarks' sections,
    methods and earlier rounds live in benchmarks/README.md."""
    assert len(README.splitlines()) <= README_LINES
    sections = re.findall(r"^## (.+)$", README, re.M)
    for wanted in NEWCOMER_SECTIONS:
        assert any(s.startswith(wanted) for s in sections), wanted
    assert not re.search(r"^###", README, re.M)  # no subsections: the detail is elsewhere
    benchmarks = README.split("## Benchmarks", 1)[1]
    assert "| figure | target |" in benchmarks and "(benchmarks/README.md" in benchmarks
    assert len(benchmarks.splitlines()) <= 50
    detail = (REPO / "benchmarks" / "README.md").read_text()
    assert len(detail.splitlines()) > len(benchmarks.splitlines())
