"""Slack's pace kept ahead of time: buckets per team and method and per channel, held on a 429."""

from __future__ import annotations

import pytest

from bot.slack.delivery.pacing import (
    POST,
    RECOVERY_S,
    SLOWEST,
    START_BURST,
    UPDATE,
    Bucket,
    Pace,
    PaceConfig,
    Rate,
)
from tests.outbox_kit import Ticks


def pace(spec: str = "") -> tuple[Pace, Ticks]:
    ticks = Ticks()
    return Pace(PaceConfig.parse(spec), clock=ticks), ticks


def takes(p: Pace, count: int, method: str = POST, channel: str | None = "C1") -> int:
    return sum(p.take("T1", method, channel) for _ in range(count))


def test_a_channel_gets_its_burst_then_one_a_second() -> None:
    p, ticks = pace("channel=1/1+3")
    assert takes(p, 5) == 3
    assert p.wait("T1", POST, "C1") == pytest.approx(1.0)
    ticks.now += 0.99
    assert takes(p, 1) == 0
    ticks.now += 0.01
    assert takes(p, 2) == 1
    assert takes(p, 1, channel="C2") == 1  # another channel has its own bucket


def test_the_workspace_limit_covers_every_channel_and_only_its_team() -> None:
    p, _ticks = pace("channel=10/1+10,chat.postMessage=2/60+2")
    assert p.take("T1", POST, "C1") and p.take("T1", POST, "C2")
    assert not p.take("T1", POST, "C3")
    assert p.take("T2", POST, "C3")
    assert p.wait("T1", POST, "C3") == pytest.approx(30.0)


def test_a_refused_take_spends_nothing() -> None:
    p, _ticks = pace("channel=1/1+1,chat.postMessage=5/1+5")
    assert takes(p, 1) == 1
    assert takes(p, 3) == 0  # the channel is empty: the team's bucket must not pay for it
    assert takes(p, 4, channel="C2") == 1
    assert sum(p.take("T1", POST, f"D{i}") for i in range(5)) == 3


def test_edits_have_a_team_bucket_and_no_channel_bucket() -> None:
    p, _ticks = pace("chat.update=50/60+5")
    assert takes(p, 7, UPDATE) == 5
    assert p.wait("T1", UPDATE, "C1") == pytest.approx(60 / 50)


def test_a_429_holds_the_bucket_until_retry_after() -> None:
    p, ticks = pace("chat.update=50/60+5")
    p.hold("T1", UPDATE, "C1", 7.0)
    assert takes(p, 1, UPDATE) == 0
    assert p.wait("T1", UPDATE) == pytest.approx(7.0)
    ticks.now += 6.9
    assert takes(p, 1, UPDATE) == 0
    ticks.now += 0.1
    assert takes(p, 1, UPDATE) == 1
    assert takes(p, 1, UPDATE, channel=None) == 0  # the hold emptied the burst, refilling now


def test_a_posts_429_holds_its_channel_and_its_team() -> None:
    """The channel is kept at Slack's per-channel pace, so a post's 429 is the workspace's."""
    p, _ticks = pace("channel=1/1+1")
    p.hold("T1", POST, "C1", 30.0)
    assert p.wait("T1", POST, "C1") == pytest.approx(30.0)
    assert p.wait("T1", POST, "C2") == pytest.approx(30.0)
    assert p.take("T2", POST, "C1")  # another workspace has limits of its own


def test_a_429_slows_the_team_down_and_time_restores_it() -> None:
    p, ticks = pace("chat.update=60/60+10")
    assert takes(p, 10, UPDATE) == 10
    p.hold("T1", UPDATE, None, 1.0)
    ticks.now += 1.0
    assert p.wait("T1", UPDATE) == pytest.approx(2.0)  # the spent call refills at half the rate
    ticks.now += 2.0
    assert takes(p, 5, UPDATE) == 1  # a burst of one call
    bucket = p._buckets[("T1", UPDATE)]
    ticks.now += RECOVERY_S / 2 - 2.0  # half way from the hold's end: 1/sqrt(2) of its figure
    p.wait("T1", UPDATE)
    assert bucket.per_second == pytest.approx(2**-0.5)
    ticks.now += RECOVERY_S / 2
    p.wait("T1", UPDATE)
    assert bucket.per_second == pytest.approx(1.0)
    ticks.now += 10.0  # the burst grows back one call a second, the tokens at the rate
    assert takes(p, 11, UPDATE) == 10


def test_the_429s_of_calls_in_flight_together_slow_down_once() -> None:
    p, ticks = pace("chat.update=60/60+10")
    for _ in range(5):
        p.hold("T1", UPDATE, None, 1.0)
    assert p._buckets[("T1", UPDATE)].scale == 0.5
    ticks.now += 1.0  # the hold is over: a new 429 is news
    p.hold("T1", UPDATE, None, 1.0)
    assert p._buckets[("T1", UPDATE)].scale == 0.25


def test_a_team_slows_down_to_a_floor_and_no_further() -> None:
    p, ticks = pace("chat.update=60/60+10")
    bucket = p._bucket(("T1", UPDATE), UPDATE, ticks.now)
    assert bucket is not None
    scales = []
    for _ in range(10):
        p.hold("T1", UPDATE, None, 0.0)
        scales.append(bucket.scale)
        ticks.now += 0.001  # too little to restore anything that matters
    assert scales[5] == pytest.approx(1 / 64, rel=1e-3)  # six 429s in a row: the floor
    assert scales[9] == pytest.approx(SLOWEST, rel=1e-3) == 1 / 64  # and no further


def test_a_429_on_an_unpaced_method_is_ignored() -> None:
    p, _ticks = pace("off")
    p.hold("T1", POST, "C1", 30.0)
    assert p.take("T1", POST, "C1") and p._buckets == {}


def test_a_hold_never_shortens_an_earlier_one() -> None:
    p, _ticks = pace()
    p.hold("T1", POST, "C1", 30.0)
    p.hold("T1", POST, "C1", 1.0)
    assert p.wait("T1", POST, "C1") == pytest.approx(30.0)


def test_off_paces_nothing() -> None:
    p, _ = pace("off")
    assert takes(p, 1000) == 1000


def test_idle_buckets_are_forgotten_and_held_ones_kept() -> None:
    p, ticks = pace("channel=1/1+1")
    for i in range(10):
        p.take("T1", POST, f"C{i}")
    p.hold("T1", POST, "C0", 60.0)
    assert p.take("T1", POST, "C9") is False  # C9's own second post within the second
    ticks.now += 5
    p.forget_idle(keep=3)
    assert p.wait("T1", POST, "C0") > 0
    assert ("T1", "#C0") in p._buckets and ("T1", POST) in p._buckets  # held: kept
    assert ("T1", "#C5") not in p._buckets  # full again after 5 s: forgotten


def test_a_part_refilled_bucket_waits_only_for_the_missing_part() -> None:
    p, ticks = pace("channel=1/1+1")
    assert takes(p, 1) == 1
    ticks.now += 0.25  # a quarter of a token back: three quarters of a second to go
    assert p.wait("T1", POST, "C1") == pytest.approx(0.75)


def test_a_bucket_with_more_than_one_call_left_says_go_now() -> None:
    p, ticks = pace("channel=1/1+3")
    assert takes(p, 2) == 2
    ticks.now += 0.5  # 1.5 calls left
    assert p.wait("T1", POST, "C1") == 0.0
    bucket = Bucket(Rate(1, 1, 3), now=0.0)
    bucket.tokens = 1.5
    assert bucket.wait(0.0) == 0.0  # never a negative wait


def test_full_unheld_buckets_are_forgotten_and_spent_ones_kept() -> None:
    p, _ = pace("channel=1/1+2,chat.postMessage=100/1+100,chat.update=1/1+1")
    p.take("T1", POST, "C1")  # C1 has 1 of 2 left: kept; the team's 99 of 100: kept
    p.wait("T1", POST, "C2")  # made, full: forgotten
    p.hold("T1", UPDATE, None, 0.0)  # held until exactly now: over, and full (burst 1)
    p.forget_idle(keep=0)
    assert sorted(key for key in p._buckets) == [("T1", "#C1"), ("T1", POST)]


def test_buckets_are_forgotten_only_past_fifty_thousand_by_default() -> None:
    p, _ = pace("channel=1/1+1")
    for i in range(49_999):  # with the team's bucket: 50,000
        p.wait("T1", POST, f"C{i}")
    p.forget_idle()
    assert len(p._buckets) == 50_000
    p.wait("T1", POST, "C-last")
    p.forget_idle()
    assert len(p._buckets) == 0


@pytest.mark.parametrize(
    ("text", "rate"),
    [("50/60", Rate(50, 60, 1)), ("1/1+3", Rate(1, 1, 3)), ("20", Rate(20, 1, 1))],
)
def test_rates_parse(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["0/60", "5/0", "5/60+0", "x/1", "channel", "=1/1", "a=b"])
def test_bad_pace_settings_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        PaceConfig.parse(text)


def test_overrides_keep_the_documented_rest() -> None:
    config = PaceConfig.parse("chat.update=20/60")
    assert config.rates["chat.update"] == Rate(20, 60, 1)
    assert config.rates["channel"] == Rate(1, 1, 1)
    assert config.rates["chat.postMessage"].count > 0


def test_a_new_team_starts_with_a_small_burst_that_doubles_each_second() -> None:
    """A figure set too high meets Slack's real burst a few calls at a time, not all at once."""
    p, ticks = pace("chat.postMessage=60000/60+1000,channel=1000/1+1000")
    assert takes(p, 1000, channel=None) == START_BURST
    ticks.now += 1.0  # a second at 1,000 a second: the tokens refill past what the burst holds
    assert takes(p, 1000, channel=None) == 2 * START_BURST
    ticks.now += 2.0
    assert takes(p, 1000, channel=None) == 8 * START_BURST
    ticks.now += 10.0
    assert takes(p, 2000, channel=None) == 1000  # the figure, and no more


def test_after_a_429_the_burst_grows_back_one_call_a_second_without_doubling() -> None:
    """Slow start is for a new bucket only: after a 429 the burst grows slowly from one, or a
    team whose real burst is small meets a 429 with every doubling."""
    p, ticks = pace("chat.update=6000/60+64")
    bucket = p._buckets.setdefault(("T1", UPDATE), Bucket(Rate(6000, 60, 64), ticks.now))
    ticks.now += 1.0
    bucket.refill(ticks.now)
    assert bucket.burst == 64  # started at START_BURST (50), doubled to the figure
    p.hold("T1", UPDATE, None, 0.0)
    assert bucket.burst == 1.0
    ticks.now += 5.0
    bucket.refill(ticks.now)
    assert bucket.burst == 6.0  # one call a second, not 2 ** 5
