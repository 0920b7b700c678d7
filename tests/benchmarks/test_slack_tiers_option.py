"""The benchmarks' switch for the Slack stand-in's rate limits: off unless asked for, and when
on, every table says how many Slack calls were answered 429."""

from __future__ import annotations

import argparse
import os

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from benchmarks.__main__ import add_tiers_option, apply_tiers_option, main
from benchmarks.report import Table
from benchmarks.stack import SLACK_TIERS_ENV, note_tiers, running_doubles, slack_tiers_from_env
from bot.devtools.slack_tiers import SlackTiers


async def post(slack_url: str, token: str, count: int) -> int:
    """`count` posts to one channel; how many were answered 429."""
    client = AsyncWebClient(token=token, base_url=slack_url, retry_handlers=[])
    refused = 0
    for i in range(count):
        try:
            await client.chat_postMessage(channel="C1", text=f"post {i}")
        except SlackApiError as error:
            assert error.response.status_code == 429
            refused += 1
    return refused


@pytest.mark.e2e
async def test_without_the_switch_the_stand_in_has_no_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SLACK_TIERS_ENV, raising=False)
    async with running_doubles() as doubles:
        slack = doubles.slack
        assert slack.tiers is None
        assert await post(slack.api_url, slack.bot_token, 10) == 0
    table = Table(title="t", columns=["measure"])
    note_tiers(table, slack)
    assert table.notes == [] and table.figures == {}


@pytest.mark.e2e
async def test_with_the_switch_the_tables_count_the_429s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SLACK_TIERS_ENV, "documented")
    async with running_doubles() as doubles:
        slack = doubles.slack
        assert slack.tiers == SlackTiers.documented()
        refused = await post(slack.api_url, slack.bot_token, 5)  # bursts of 3 a channel
    table = Table(title="t", columns=["measure"])
    note_tiers(table, slack)
    assert refused == 2 and table.figures == {"slack_calls": 5, "slack_429": 2}
    assert table.notes == [
        "Slack's tiers on: 2 of 5 Slack calls answered 429 (40.0 %): chat.postMessage 2 of 5"
    ]


def test_the_command_line_sets_the_tiers_for_the_sections(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SLACK_TIERS_ENV, "off")  # restored after the test
    parser = argparse.ArgumentParser()
    add_tiers_option(parser)
    apply_tiers_option(parser.parse_args([]))
    assert os.environ[SLACK_TIERS_ENV] == "off"  # no flag: the environment decides
    apply_tiers_option(parser.parse_args(["--slack-tiers", "outside-marketplace"]))
    assert slack_tiers_from_env() == SlackTiers.documented(outside_marketplace=True)

    with pytest.raises(SystemExit):
        main(["--slack-tiers", "unlimited"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["soak", "--slack-tiers", "unlimited"])
