"""Per-token Slack clients are reused, and bounded: the least recently used goes, and its
connection pool is closed once any call it was making has had time to end."""

from __future__ import annotations

import asyncio

from bot.slack.clients import InstrumentedWebClient, SlackClients


def clients(max_cached: int = 1000, close_evicted_after: float = 120.0) -> SlackClients:
    return SlackClients(
        base_url="http://127.0.0.1:9/api/",
        metrics=None,
        bot_token="xoxb-default",
        max_cached=max_cached,
        close_evicted_after=close_evicted_after,
    )


async def test_a_token_keeps_its_client_and_the_default_token_the_default_client() -> None:
    slack = clients()
    try:
        assert slack.for_token("xoxb-a") is slack.for_token("xoxb-a")
        assert slack.for_token("xoxb-default") is slack.default
        assert slack.for_token(None) is slack.default
    finally:
        await slack.aclose()


async def test_beyond_the_bound_the_least_recently_used_client_goes_and_is_closed() -> None:
    slack = clients(max_cached=2, close_evicted_after=0.05)
    a = slack.for_token("xoxb-a")
    assert isinstance(a, InstrumentedWebClient)
    a._ensure_session()  # as a call would
    slack.for_token("xoxb-b")
    slack.for_token("xoxb-a")  # used again: b is now the least recent
    b = slack.for_token("xoxb-b")
    c = slack.for_token("xoxb-c")  # evicts a
    try:
        assert slack.for_token("xoxb-c") is c and slack.for_token("xoxb-b") is b
        assert a.session is not None and not a.session.closed  # a call may still be running
        await asyncio.sleep(0.2)
        assert a.session.closed
        assert slack.for_token("xoxb-a") is not a  # a new client for a returning team
    finally:
        await slack.aclose()


async def test_shutdown_closes_an_evicted_client_without_waiting_for_its_grace() -> None:
    slack = clients(max_cached=1, close_evicted_after=3600)
    a = slack.for_token("xoxb-a")
    assert isinstance(a, InstrumentedWebClient)
    a._ensure_session()
    slack.for_token("xoxb-b")

    await asyncio.wait_for(slack.aclose(), 5)

    assert a.session is not None and a.session.closed
