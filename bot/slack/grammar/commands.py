"""The typed `/skyvia` commands: what `parsing.parse_command` makes of the text.

Handlers match on these, imported from here. They live apart from the grammar so a reader of
either sees one thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from bot.slack.grammar.deadlines import Deadline


@dataclass(frozen=True)
class BackupName:
    """A backup named by (part of) its name rather than its id; a service resolves it."""

    text: str


BackupRef = int | BackupName
"""What the user typed where a backup is expected: an id, or a name to resolve."""


@dataclass(frozen=True)
class HelpCmd:
    pass


@dataclass(frozen=True)
class ConnectCmd:
    workspace_id: int | None


@dataclass(frozen=True)
class DisconnectCmd:
    pass


@dataclass(frozen=True)
class StatusCmd:
    pass


@dataclass(frozen=True)
class BackupsCmd:
    """`text`: only backups whose name holds it (compared like names, NFKC and case-folded)."""

    page: int = 1
    text: str | None = None


@dataclass(frozen=True)
class BackupCmd:
    backup_id: BackupRef


@dataclass(frozen=True)
class SnapshotsCmd:
    """`since` is inclusive, `until` exclusive; both are aware UTC datetimes.

    A bare date given as `until` means the end of that day, so `until 2024-05-01` includes May 1.
    """

    backup_id: BackupRef
    failed: bool = False
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1


@dataclass(frozen=True)
class SnapshotCmd:
    backup_id: BackupRef


@dataclass(frozen=True)
class ScheduleCmd:
    backup_id: BackupRef
    enable: bool | None = None  # None = show the status with a toggle button
    window: Deadline | None = None  # `off for 4h`: a maintenance window ending then


@dataclass(frozen=True)
class AlertsCmd:
    enabled: bool


@dataclass(frozen=True)
class MuteCmd:
    backup_id: BackupRef
    mute: bool
    until: Deadline | None = None  # a timed mute ends by itself then


@dataclass(frozen=True)
class MentionCmd:
    """`alerts mention …`: Slack user (U…/W…) and user group (S…) ids; empty for `off`."""

    mention_ids: tuple[str, ...]


@dataclass(frozen=True)
class HealthCmd:
    page: int = 1


@dataclass(frozen=True)
class StaleCmd:
    """`alerts stale <id|name> <duration>|auto|off`: `limit_seconds` None is auto unless `off`;
    with `overdue`, `alerts overdue …`: how long a run may take (the same grammar)."""

    backup_id: BackupRef
    limit_seconds: int | None = None
    off: bool = False
    overdue: bool = False


@dataclass(frozen=True)
class DigestCmd:
    """`digest daily HH:MM` (`at`), `digest off` (`off`), or `digest` alone: what is set."""

    at: time | None = None
    off: bool = False


@dataclass(frozen=True)
class SubscribeCmd:
    """`subscribe <backupId>|all` (`backup_id` None: all) or `unsubscribe …` (`on` False)."""

    backup_id: int | None
    on: bool = True


@dataclass(frozen=True)
class SubscriptionsCmd:
    pass


Command = (
    HelpCmd
    | ConnectCmd
    | DisconnectCmd
    | StatusCmd
    | BackupsCmd
    | BackupCmd
    | SnapshotsCmd
    | SnapshotCmd
    | ScheduleCmd
    | AlertsCmd
    | MuteCmd
    | HealthCmd
    | MentionCmd
    | StaleCmd
    | DigestCmd
    | SubscribeCmd
    | SubscriptionsCmd
)
