"""Typed state that travels through Slack: button `value`s, modal `private_metadata`, modal inputs.

Everything that comes back from Slack is parsed and validated here before a handler trusts it.
On purpose nothing here names a workspace or carries a token
(docs/reference/commands.md#buttons): a handler derives the workspace from the binding of the
channel the click came from, so an edited value can at most point at another backup *of that
same workspace*, which the clicking user may touch anyway.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from bot.logging_setup import remember_secret
from bot.slack.grammar.backup_refs import MAX_ID
from bot.slack.grammar.commands import ConnectCmd
from bot.slack.grammar.parsing import MAX_FILTER_LENGTH, MAX_PAGE, parse_command
from bot.slack.grammar.usage import UsageError
from bot.slack.messages.ids import ActionId, BlockId

MAX_VALUE_LENGTH = 2000
"""Slack's limit for a button value; private_metadata allows 3000, we stay under both."""

SkyviaId = Annotated[int, Field(ge=1, le=MAX_ID)]
PageNumber = Annotated[int, Field(ge=1, le=MAX_PAGE)]
ChannelId = Annotated[str, Field(pattern=r"^[CGD][A-Z0-9]{2,30}$")]
FilterText = Annotated[str, Field(min_length=1, max_length=MAX_FILTER_LENGTH)]
MAX_OPTION_VALUE_LENGTH = 150
"""Slack's limit for the value of an overflow menu's option."""
MESSAGE_TS = re.compile(r"\d{1,12}\.\d{1,9}")
"""A Slack message id (`ts`), as a click's container names it; anything else is not trusted."""


def message_ts(raw: object) -> str | None:
    """`raw` when it is a well-formed Slack message ts, else None."""
    return raw if isinstance(raw, str) and MESSAGE_TS.fullmatch(raw) else None


class PayloadError(ValueError):
    """A value that the bot did not write (tampered, truncated, or from an older schema)."""


class Payload(BaseModel):
    """Base of every payload: strict, closed, immutable, and compact on the wire."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def dump(self) -> str:
        """Compact JSON without defaults; short enough for a button value by construction."""
        raw = self.model_dump_json(exclude_defaults=True)
        if len(raw) > MAX_VALUE_LENGTH:  # pragma: no cover - the models cannot grow this large
            raise ValueError(f"{type(self).__name__} does not fit a Slack value")
        return raw

    @classmethod
    def load(cls, raw: str | None) -> Self:
        """Parse a value that came back from Slack; raises `PayloadError` on anything else."""
        if not raw or len(raw) > MAX_VALUE_LENGTH:
            raise PayloadError(f"{cls.__name__}: missing or oversized value")
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            raise PayloadError(f"{cls.__name__}: invalid value") from exc


class BackupRef(Payload):
    """Run snapshot, Details, Mute: a button about one backup."""

    backup_id: SkyviaId


class RunAnywayRef(BackupRef):
    """Start another anyway: the backup, and the run that was active when the button was shown
    (re-checked on the click; absent from buttons made before it was carried)."""

    active_id: SkyviaId | None = None


class MuteForRef(Payload):
    """An option of the failure alert's mute menu: a backup and for how long (0 = until unmuted)."""

    backup_id: SkyviaId
    hours: Annotated[int, Field(ge=0, le=24)] = 0


class RunRef(Payload):
    """Run snapshot: the backup, and the failed snapshot it retries when it sits on a failure.

    `retry_of` makes the new card go to the clicked message's thread; buttons posted before it
    existed (`{"backup_id":4}`) still load and start a plain run.
    """

    backup_id: SkyviaId
    retry_of: SkyviaId | None = None


class TakeRef(Payload):
    """`I'm on it` on an alert: the backup, and the snapshot the alert is keyed by (its failure,
    or a stale alert's last good one, 0 when there is none). The alert itself is the clicked
    message (its ts comes from Slack's container), its workspace the channel's binding."""

    backup_id: SkyviaId
    snapshot_id: Annotated[int, Field(ge=0, le=MAX_ID)]


class SnapshotRef(Payload):
    """Show log: a button about one snapshot of one backup."""

    backup_id: SkyviaId
    snapshot_id: SkyviaId


class HomeFailureRef(Payload):
    """Show log and Run snapshot on the App Home: a failure alert sent to a channel.

    A click on the Home tab comes from no channel, so the channel travels here; the handler acts
    only after checking that the clicking user can see it, and then through its binding, as
    for a click in the channel itself. `alert_ts` is the alert a retry's card joins.
    """

    channel_id: ChannelId
    backup_id: SkyviaId
    snapshot_id: SkyviaId
    alert_ts: str | None = Field(default=None, pattern=MESSAGE_TS.pattern)


class Screen(StrEnum):
    """The screens a schedule toggle appears on, redrawn after the toggle."""

    BACKUPS = "backups"
    DETAILS = "details"
    SCHEDULE = "schedule"


class ScheduleRef(Payload):
    """Schedule toggle: carries the state the user asked for, not a flip, and its screen.

    A click on a stale message then does what its text said, even if someone toggled since.
    `screen` (and `page` of the backups list) say what to redraw after the toggle: Slack does
    not send the clicked message with clicks on ephemeral ones, so it cannot be read from there.
    """

    backup_id: SkyviaId
    enable: bool
    screen: Screen = Screen.SCHEDULE
    page: PageNumber = 1
    text: FilterText | None = None
    """The name filter of the list page to redraw."""

    @model_validator(mode="after")
    def _page_of_the_list(self) -> Self:
        if (self.page != 1 or self.text is not None) and self.screen is not Screen.BACKUPS:
            raise ValueError("only the backups list has pages and a filter")
        return self


class BackupsPageRef(Payload):
    """Previous/Next on the backups list, with its name filter."""

    page: PageNumber
    text: FilterText | None = None


class RowAction(StrEnum):
    """What a choice in a backups list row's overflow menu does."""

    RUN = "run"
    ENABLE = "enable"
    DISABLE = "disable"
    SCHEDULE = "schedule"
    """The schedule's state was unknown: show it (with its toggle)."""
    DETAILS = "details"
    MUTE = "mute"
    UNMUTE = "unmute"
    """Offered instead of `MUTE` on the row of a backup muted in the channel."""


class RowChoice(Payload):
    """An option of a backups list row's menu: the backup, what to do, and the list page (and
    filter) the row is on, which a schedule toggle redraws."""

    do: RowAction
    backup_id: SkyviaId
    page: PageNumber = 1
    text: FilterText | None = None

    def dump(self) -> str:
        """As `Payload.dump`, within the tighter limit of an option value."""
        raw = super().dump()
        if len(raw) > MAX_OPTION_VALUE_LENGTH:  # pragma: no cover - the filter is capped
            raise ValueError("RowChoice does not fit an option value")
        return raw


class HealthPageRef(Payload):
    """Previous/Next and `Share in channel` on `health`: which page of it."""

    page: PageNumber = 1


class SnapshotFilters(Payload):
    """The filters of `/skyvia snapshots`, kept across pages."""

    failed: bool = False
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("since is after until")
        return self


class SnapshotsPageRef(Payload):
    """Previous/Next on a snapshots list, and the Snapshots button of a backup."""

    backup_id: SkyviaId
    page: PageNumber = 1
    filters: SnapshotFilters = SnapshotFilters()


class ConnectRef(Payload):
    """Confirm on "connect to another workspace?": the workspace to bind instead.

    The one payload that names a workspace: it is only a request, checked like a typed
    `/skyvia connect <id>` (an admin clicks it, and the token must reach that workspace).
    """

    workspace_id: SkyviaId


class DisconnectRef(Payload):
    """Confirm on "disconnect, leaving these behind?": which binding the question was about
    (when it was made, epoch seconds; no workspace, see `ConnectRef`), so a button clicked
    after the channel was bound again disconnects nothing."""

    bound_at: int = Field(ge=0)


class ConnectModalMeta(Payload):
    """The connect modal's private_metadata: which channel the submitted binding is for."""

    channel_id: ChannelId


@dataclass(frozen=True)
class ConnectSubmission:
    """What the connect modal returned; `token` is None when the default token should be used."""

    workspace_id: int
    token: SecretStr | None


class ModalInputError(ValueError):
    """Invalid modal input, keyed by block id: `ack(response_action="errors", errors=e.errors)`."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{key}: {text}" for key, text in errors.items()))
        self.errors = errors


def parse_connect_submission(
    values: Mapping[str, Any], *, token_required: bool = True
) -> ConnectSubmission:
    """Read `view["state"]["values"]` of the connect modal (see `blocks.connect_modal`)."""
    workspace_raw = _input_value(
        values, BlockId.CONNECT_WORKSPACE, ActionId.CONNECT_WORKSPACE_INPUT
    )
    token_raw = _input_value(values, BlockId.CONNECT_TOKEN, ActionId.CONNECT_TOKEN_INPUT)
    errors: dict[str, str] = {}
    workspace_id = 0
    try:
        workspace_id = _parse_workspace_id(workspace_raw)
    except UsageError as exc:
        errors[BlockId.CONNECT_WORKSPACE] = exc.message.replace("`", "")
    token = token_raw.strip()
    if not token and token_required:
        errors[BlockId.CONNECT_TOKEN] = "Paste a Skyvia API token."
    elif any(ch.isspace() for ch in token):
        errors[BlockId.CONNECT_TOKEN] = "A token has no spaces; paste it again."
    remember_secret(token)  # masked in every log line from now on, even if refused below
    if errors:
        raise ModalInputError(errors)
    return ConnectSubmission(workspace_id=workspace_id, token=SecretStr(token) if token else None)


def _parse_workspace_id(raw: str) -> int:
    # Reuse the command grammar, so `#123` and `123` mean the same in both places.
    if not raw.strip():
        raise UsageError("Enter the workspace id.", "")
    command = parse_command(f"connect {raw.strip()}")
    if not isinstance(command, ConnectCmd) or command.workspace_id is None:  # pragma: no cover
        raise UsageError("Enter the workspace id.", "")
    return command.workspace_id


def _input_value(values: Mapping[str, Any], block_id: str, action_id: str) -> str:
    try:
        value = values[block_id][action_id].get("value")
    except (KeyError, TypeError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""
