"""Settings: the one place environment variables (and `.env`) are read.

A missing or malformed value must stop start-up with one line that names the variable and the
fix, so `load_settings()` turns pydantic's multi-line report into `ConfigError` with such lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.pace_config import PaceConfig

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///skyvia-bot.db"
# storage/db.py's defaults, repeated (a test keeps them equal) so that reading settings does not
# import the database layer.
CONNECT_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 15.0

HOUR = 3600.0
DAY = 24 * HOUR
MIN_CLICK_RETENTION = HOUR
"""Clicks matter for seconds (double clicks) and event ids for minutes (Slack's re-sends)."""

# What each variable needs, for the one-line start-up error.
HINTS: dict[str, str] = {
    "SLACK_BOT_TOKEN": "a bot token starting with xoxb-",
    "SLACK_SIGNING_SECRET": "the Signing Secret from the app's Basic Information page",
    "SLACK_APP_TOKEN": "an app-level token starting with xapp-",
    "SLACK_API_URL": "an http(s) URL ending in /api/",
    "SKYVIA_API_URL": "an http(s) URL such as https://api.skyvia.com/v1",
    "DATABASE_URL": "a SQLAlchemy async URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://…",
    "DATABASE_CONNECT_TIMEOUT": "a positive number of seconds, e.g. 5",
    "DATABASE_STATEMENT_TIMEOUT": "a positive number of seconds, e.g. 15",
    "SKYVIA_BOT_ENCRYPTION_KEY": "a Fernet key (python -c 'from cryptography.fernet import "
    "Fernet; print(Fernet.generate_key().decode())')",
    "SKYVIA_BOT_WATCH_INTERVAL": "a positive number of seconds, e.g. 15",
    "SKYVIA_BOT_ALERT_INTERVAL": "a positive number of seconds, e.g. 60",
    "SKYVIA_BOT_SLACK_PACE": "scope=N/S[+B] pairs, e.g. channel=1/1+3,chat.update=50/60",
    "SKYVIA_BOT_WATCH_GIVE_UP": "a positive number of seconds, e.g. 86400",
    "SKYVIA_BOT_STEP_LIMIT": "a positive number of seconds, e.g. 3600",
    "SKYVIA_BOT_ALERT_LOOKBACK": "a positive number of seconds, e.g. 86400",
    "SKYVIA_BOT_RETENTION_INTERVAL": "a positive number of seconds, e.g. 3600",
    "SKYVIA_BOT_CLICK_RETENTION": "0 (keep forever) or seconds, at least 3600, e.g. 86400",
    "SKYVIA_BOT_DELIVERY_RETENTION": "0 (keep forever) or seconds, at least "
    "SKYVIA_BOT_WATCH_GIVE_UP + SKYVIA_BOT_ALERT_LOOKBACK + 3600, e.g. 1209600",
    "SKYVIA_BOT_WATCH_RETENTION": "0 (keep forever) or seconds, at least "
    "SKYVIA_BOT_ALERT_LOOKBACK + 3600, e.g. 2592000",
    "SKYVIA_BOT_AUDIT_RETENTION": "0 (keep forever) or seconds, e.g. 7776000",
    "SKYVIA_BOT_ADMINS": "comma-separated Slack user ids, e.g. U012AB3CD,U045EF6GH",
    "SKYVIA_BOT_OPERATORS": "comma-separated Slack user or user group ids, e.g. U012AB3CD,S0614TZ",
    "SKYVIA_BOT_DEFAULT_TOKEN_TEAMS": "comma-separated Slack team ids, e.g. T012AB3CD,T0456EFGH",
    "PORT": "a TCP port number from 1 to 65535",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR",
}


class ConfigError(Exception):
    """Start-up configuration problem; each line names one variable and the fix."""


def _csv(value: Any) -> Any:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_client_id: str | None = Field(default=None, alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(default=None, alias="SLACK_CLIENT_SECRET")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    skyvia_api_url: str = Field(default="https://api.skyvia.com/v1", alias="SKYVIA_API_URL")
    skyvia_api_token: SecretStr | None = Field(default=None, alias="SKYVIA_API_TOKEN")
    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    # Fail fast when the database is down or hung (see storage/db.py's docstring).
    database_connect_timeout: float = Field(
        default=CONNECT_TIMEOUT, gt=0, alias="DATABASE_CONNECT_TIMEOUT"
    )
    database_statement_timeout: float = Field(
        default=STATEMENT_TIMEOUT, gt=0, alias="DATABASE_STATEMENT_TIMEOUT"
    )
    encryption_key: SecretStr | None = Field(default=None, alias="SKYVIA_BOT_ENCRYPTION_KEY")
    watch_interval: float = Field(default=15.0, gt=0, alias="SKYVIA_BOT_WATCH_INTERVAL")
    alert_interval: float = Field(default=60.0, gt=0, alias="SKYVIA_BOT_ALERT_INTERVAL")
    watch_give_up: float = Field(default=86400.0, gt=0, alias="SKYVIA_BOT_WATCH_GIVE_UP")
    # How long a Workflow Builder step waits for its run before it completes with an error
    # that links the card (docs/reference/commands.md#workflow-builder-steps).
    step_limit: float = Field(default=3600.0, gt=0, alias="SKYVIA_BOT_STEP_LIMIT")
    # How long before the last scan a failed run may have started and still be found: the
    # longest run whose failure is announced (docs/reference/guarantees.md#how-failures-are-found).
    alert_lookback: float = Field(default=86400.0, gt=0, alias="SKYVIA_BOT_ALERT_LOOKBACK")
    # Retention (bot/services/retention.py): seconds each kind of row is kept; 0 keeps it forever.
    # Declared after watch_give_up and alert_lookback: their check reads them.
    retention_interval: float = Field(default=HOUR, gt=0, alias="SKYVIA_BOT_RETENTION_INTERVAL")
    click_retention: float = Field(default=DAY, ge=0, alias="SKYVIA_BOT_CLICK_RETENTION")
    delivery_retention: float = Field(default=14 * DAY, ge=0, alias="SKYVIA_BOT_DELIVERY_RETENTION")
    watch_retention: float = Field(default=30 * DAY, ge=0, alias="SKYVIA_BOT_WATCH_RETENTION")
    audit_retention: float = Field(default=90 * DAY, ge=0, alias="SKYVIA_BOT_AUDIT_RETENTION")
    admins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("SKYVIA_BOT_ADMINS")
    )
    operators: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("SKYVIA_BOT_OPERATORS")
    )
    # OAuth mode only: the Slack teams the operator's SKYVIA_API_TOKEN serves (see
    # `default_token_serves`); every other installed team brings its own Skyvia token.
    default_token_teams: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("SKYVIA_BOT_DEFAULT_TOKEN_TEAMS")
    )
    # Slack's pace (bot/slack/delivery/pacing.py): `scope=N/S[+B],...` over Slack's documented
    # tiers.
    slack_pace: str = Field(default="", alias="SKYVIA_BOT_SLACK_PACE")
    port: int = Field(default=3000, ge=1, le=65535, alias="PORT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")

    @field_validator("admins", "operators", "default_token_teams", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        return _csv(value)

    @field_validator("admins", "operators", mode="after")
    @classmethod
    def _check_ids(cls, value: list[str]) -> list[str]:
        for item in value:
            if not item.isalnum() or item[0] not in "UWS":
                raise ValueError(f"{item!r} is not a Slack user or user group id")
        return value

    @field_validator("default_token_teams", mode="after")
    @classmethod
    def _check_teams(cls, value: list[str]) -> list[str]:
        for item in value:
            if not item.isalnum() or item[0] not in "TE":
                # Not echoed: the variable's name says TOKEN, and such values never are.
                raise ValueError("every item must be a Slack team id (T… or E…)")
        return value

    @field_validator("click_retention", "delivery_retention", "watch_retention")
    @classmethod
    def _check_retention(cls, value: float, info: ValidationInfo) -> float:
        give_up = info.data.get("watch_give_up")
        lookback = info.data.get("alert_lookback")
        if give_up is None or lookback is None:
            return value  # invalid itself: that is the error to report
        floor = retention_floors(give_up, lookback)[str(info.field_name)]
        if 0 < value < floor:
            raise ValueError(f"must be 0 (keep forever) or at least {floor:.0f} seconds")
        return value

    @field_validator("slack_api_url", "skyvia_api_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("slack_pace")
    @classmethod
    def _check_pace(cls, value: str) -> str:
        PaceConfig.parse(value)
        return value

    @property
    def pace(self) -> PaceConfig:
        return PaceConfig.parse(self.slack_pace)

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("skyvia_api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _check_db(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        # Plain scheme names mean the async driver we ship (operators copy URLs from docs).
        scheme = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}.get(
            scheme, "sqlite+aiosqlite" if scheme == "sqlite" else scheme
        )
        value = f"{scheme}{sep}{rest}"
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must use sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("unknown log level")
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _check_bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must start with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _check_app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must start with xapp-")
        return value

    # -- derived facts -------------------------------------------------------------------
    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def oauth_enabled(self) -> bool:
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def default_token_teams_allowed(self) -> frozenset[str] | None:
        """Teams the default Skyvia token may serve; None means every team.

        With one bot token there is one team, the operator's own, so nothing is restricted. With
        OAuth any stranger's team can install the app, so only the listed teams may act on the
        operator's Skyvia account (none when the list is empty).
        """
        if not self.oauth_enabled:
            return None
        return frozenset(self.default_token_teams)

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def sqlite_path(self) -> Path | None:
        """File of a SQLite database, or None for PostgreSQL and in-memory SQLite."""
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[1] if ":///" in self.database_url else ""
        if not path or path.startswith(":memory:"):
            return None
        return Path(path.split("?", 1)[0])

    def require_for_serving(self, *, http: bool) -> None:
        """Checks the variables that only serving needs (CLI verbs like `migrate` skip this)."""
        problems = []
        if not self.oauth_enabled and self.slack_bot_token is None:
            problems.append(_line("SLACK_BOT_TOKEN", "is not set"))
        if http and self.slack_signing_secret is None:
            problems.append(_line("SLACK_SIGNING_SECRET", "is not set"))
        if not self.is_sqlite and self.encryption_key is None:
            problems.append(_line("SKYVIA_BOT_ENCRYPTION_KEY", "is required with PostgreSQL"))
        if problems:
            raise ConfigError("\n".join(problems))


def retention_floors(watch_give_up: float, alert_lookback: float) -> dict[str, float]:
    """The shortest retention of each kind of row that never forgets something still in use.

    - clicks and event ids: an hour, far beyond a double click and Slack's re-sends of an event;
    - deliveries: a forgotten ledger key can be claimed and sent again, so a row stays until no
      worker can ask for its key: a watch posts under its keys until it gives up (the give-up
      limit after its start), the alert scanner re-reads failures of the last lookback, plus an
      hour for clocks and retries;
    - finished watches: the alert scanner skips failures of watched snapshots while it can
      still re-read them (the lookback), plus the hour.
    """
    return {
        "click_retention": MIN_CLICK_RETENTION,
        "delivery_retention": watch_give_up + alert_lookback + HOUR,
        "watch_retention": alert_lookback + HOUR,
    }


def _line(variable: str, problem: str) -> str:
    return f"{variable} {problem}: set it to {HINTS.get(variable, 'a valid value')}"


def load_settings(**overrides: Any) -> Settings:
    """Reads the environment; raises ConfigError with one line per bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            variable = str(error["loc"][0]) if error["loc"] else "configuration"
            variable = _ENV_NAME.get(variable, variable)
            lines.append(_line(variable, f"is invalid ({error['msg']})"))
        raise ConfigError("\n".join(lines)) from None


_ENV_NAME = {
    name: (field.alias or str(field.validation_alias.choices[0]))  # type: ignore[union-attr]
    for name, field in Settings.model_fields.items()
}
