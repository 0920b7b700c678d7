"""Settings: defaults, parsing, and the one-line start-up errors.

See docs/reference/configuration.md#environment-variables.
"""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings, load_settings


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
