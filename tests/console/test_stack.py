"""The console's people live in this machine's zone, so `digest daily 09:00` is 09:00 on screen."""

from __future__ import annotations

import pytest

from bot.console.stack import local_zone


@pytest.mark.parametrize(
    ("tz", "zone"),
    [("Europe/Berlin", "Europe/Berlin"), (":America/New_York", "America/New_York"), ("x/y", "UTC")],
)
def test_the_zone_is_tz_when_it_names_one(
    monkeypatch: pytest.MonkeyPatch, tz: str, zone: str
) -> None:
    monkeypatch.setenv("TZ", tz)
    assert local_zone() == zone


def test_without_tz_the_zone_is_where_localtime_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TZ", raising=False)
    monkeypatch.setattr("os.readlink", lambda _path: "/usr/share/zoneinfo/Asia/Tokyo")
    assert local_zone() == "Asia/Tokyo"

    def missing(_path: str) -> str:
        raise OSError("not a link")

    monkeypatch.setattr("os.readlink", missing)
    assert local_zone() == "UTC"
