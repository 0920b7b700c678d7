"""Settings: defaults, parsing, and the one-line start-up errors.

See docs/reference/configuration.md#environment-variables.
"""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings, load_settings, retention_floors
from bot.services.alerting.scanner import AlertingConfig


def settings(**env: str) -> Settings:
    return load_settings(_env_file=None, **env)


def test_defaults_match_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "SLACK_API_URL", "SKYVIA_API_URL", "PORT", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    s = settings()
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.skyvia_api_url == "https://api.skyvia.com/v1"
    assert s.database_url == "sqlite+aiosqlite:///skyvia-bot.db"
    assert (s.watch_interval, s.alert_interval, s.port, s.log_level) == (15.0, 60.0, 3000, "INFO")


def test_lists_floats_and_urls_are_parsed() -> None:
    s = settings(
        SKYVIA_BOT_ADMINS="U1AAA, U2BBB",
        SKYVIA_BOT_OPERATORS="S0GROUP,U3CCC",
        SKYVIA_BOT_WATCH_INTERVAL="0.25",
        SLACK_API_URL="http://127.0.0.1:9000/api",
        SKYVIA_API_URL="http://127.0.0.1:8081/v1/",
        DATABASE_URL="postgresql://u@h/db",
    )
    assert s.admins == ["U1AAA", "U2BBB"]
    assert s.operators == ["S0GROUP", "U3CCC"]
    assert s.watch_interval == 0.25
    assert s.slack_api_url == "http://127.0.0.1:9000/api/"
    assert s.skyvia_api_url == "http://127.0.0.1:8081/v1"
    assert s.database_url == "postgresql+asyncpg://u@h/db"
    assert settings(DATABASE_URL="sqlite:///bot.db").database_url == "sqlite+aiosqlite:///bot.db"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SKYVIA_BOT_WATCH_INTERVAL", "soon"),
        ("SKYVIA_BOT_ALERT_INTERVAL", "0"),
        ("PORT", "70000"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token"),
        ("SLACK_APP_TOKEN", "xoxb-not-an-app-token"),
        ("DATABASE_URL", "mysql://localhost/db"),
        ("SKYVIA_API_URL", "ftp://skyvia"),
        ("SKYVIA_BOT_ADMINS", "not an id"),
        ("SKYVIA_BOT_DEFAULT_TOKEN_TEAMS", "U0USER"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_value_names_the_variable_in_one_line(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(**{variable: value})
    lines = str(caught.value).splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(variable + " ")
    assert "set it to" in lines[0]
    if "TOKEN" in variable:
        assert value not in lines[0]  # a secret is never echoed back


def test_default_token_teams_limit_only_oauth_mode() -> None:
    """One bot token is one team, the operator's: nothing to restrict. With OAuth any team can
    install, so only the listed teams get the default Skyvia token (none when unset)."""
    single = settings(SLACK_BOT_TOKEN="xoxb-1", SKYVIA_BOT_DEFAULT_TOKEN_TEAMS="T0OPS")
    assert single.default_token_teams_allowed is None
    oauth = {"SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "secret"}
    listed = settings(**oauth, SKYVIA_BOT_DEFAULT_TOKEN_TEAMS="T0OPS, T0SALES")
    assert listed.default_token_teams == ["T0OPS", "T0SALES"]
    assert listed.default_token_teams_allowed == frozenset({"T0OPS", "T0SALES"})
    assert settings(**oauth).default_token_teams_allowed == frozenset()


def test_serving_requirements_name_what_is_missing() -> None:
    s = settings(DATABASE_URL="postgresql+asyncpg://u@h/db")
    with pytest.raises(ConfigError) as caught:
        s.require_for_serving(http=True)
    text = str(caught.value)
    assert "SLACK_BOT_TOKEN is not set" in text
    assert "SLACK_SIGNING_SECRET is not set" in text
    assert "SKYVIA_BOT_ENCRYPTION_KEY is required with PostgreSQL" in text
    # Socket Mode needs no signing secret; OAuth needs no bot token.
    socket = settings(SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xapp-1")
    socket.require_for_serving(http=False)
    assert socket.socket_mode


def test_retention_defaults_a_day_fourteen_thirty_and_ninety_days() -> None:
    s = settings()
    day = 86400
    assert (s.click_retention, s.delivery_retention) == (day, 14 * day)
    assert (s.watch_retention, s.audit_retention, s.retention_interval) == (
        30 * day,
        90 * day,
        3600,
    )


@pytest.mark.parametrize(
    ("variable", "floor", "give_up"),
    [
        ("SKYVIA_BOT_CLICK_RETENTION", 3600, 86400),
        ("SKYVIA_BOT_DELIVERY_RETENTION", 86400 + 86400 + 3600, 86400),
        ("SKYVIA_BOT_DELIVERY_RETENTION", 600 + 86400 + 3600, 600),
        ("SKYVIA_BOT_WATCH_RETENTION", 86400 + 3600, 86400),
    ],
)
def test_a_retention_shorter_than_its_floor_is_refused_and_zero_keeps_forever(
    variable: str, floor: int, give_up: int
) -> None:
    env = {"SKYVIA_BOT_WATCH_GIVE_UP": str(give_up)}
    assert settings(**env, **{variable: str(floor)}) is not None
    assert settings(**env, **{variable: "0"}) is not None
    with pytest.raises(ConfigError) as caught:
        settings(**env, **{variable: str(floor - 1)})
    [line] = str(caught.value).splitlines()
    assert line.startswith(variable + " ") and f"at least {floor} seconds" in line


def test_a_long_give_up_limit_needs_a_longer_ledger_retention() -> None:
    with pytest.raises(ConfigError) as caught:
        settings(SKYVIA_BOT_WATCH_GIVE_UP=str(20 * 86400))
    assert str(caught.value).startswith("SKYVIA_BOT_DELIVERY_RETENTION ")


@pytest.mark.parametrize("give_up", [1.0, 600.0, 86400.0, 30 * 86400.0])
@pytest.mark.parametrize("setting", [60.0, 86400.0, 7 * 86400.0])
def test_the_ledger_floor_covers_the_alert_scanners_lookback_and_the_give_up_limit(
    give_up: float, setting: float
) -> None:
    lookback = AlertingConfig.for_interval(60.0, setting).lookback.total_seconds()
    floors = retention_floors(give_up, setting)
    assert floors["delivery_retention"] >= give_up + lookback
    assert floors["watch_retention"] >= lookback


def test_a_long_alert_lookback_needs_longer_retention() -> None:
    with pytest.raises(ConfigError) as caught:
        settings(SKYVIA_BOT_ALERT_LOOKBACK=str(40 * 86400))
    lines = str(caught.value).splitlines()
    assert [line.split()[0] for line in lines] == [
        "SKYVIA_BOT_DELIVERY_RETENTION",
        "SKYVIA_BOT_WATCH_RETENTION",
    ]
