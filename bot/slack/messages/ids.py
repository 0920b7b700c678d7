"""Every action_id, callback_id and block_id the bot puts into Slack, in one place.

Listeners are registered against these members and builders emit them, so a renamed id cannot
leave a button that nothing answers. Values are stable strings: messages already posted in
Slack keep sending them after a deploy, so never change a value, only add new members.
"""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    """`action_id` of buttons and inputs (unique within one block, as Slack requires)."""

    RUN_SNAPSHOT = "run_snapshot"
    RUN_SNAPSHOT_ANYWAY = "run_snapshot_anyway"
    SCHEDULE_TOGGLE = "schedule_toggle"
    SCHEDULE_UNDO = "schedule_undo"
    BACKUP_ROW_MENU = "backup_row_menu"
    SHOW_SCHEDULE = "show_schedule"
    BACKUP_DETAILS = "backup_details"
    SHOW_SNAPSHOTS = "show_snapshots"
    SHOW_LOG = "show_log"
    BACKUPS_PAGE_PREV = "backups_page_prev"
    BACKUPS_PAGE_NEXT = "backups_page_next"
    SNAPSHOTS_PAGE_PREV = "snapshots_page_prev"
    SNAPSHOTS_PAGE_NEXT = "snapshots_page_next"
    HEALTH_PAGE_PREV = "health_page_prev"
    HEALTH_PAGE_NEXT = "health_page_next"
    SHARE_HEALTH = "share_health"
    MUTE_BACKUP = "mute_backup"
    UNMUTE_BACKUP = "unmute_backup"
    END_WINDOW = "end_window"
    MUTE_BACKUP_FOR = "mute_backup_for"
    CONFIRM_CONNECT = "confirm_connect"
    CONFIRM_DISCONNECT = "confirm_disconnect"
    TAKE_ALERT = "take_alert"
    """"I'm on it" on a failure or stale alert: takes it, or gives it back."""
    HOME_SHOW_LOG = "home_show_log"
    HOME_RUN_SNAPSHOT = "home_run_snapshot"
    CONNECT_WORKSPACE_INPUT = "connect_workspace_input"
    CONNECT_TOKEN_INPUT = "connect_token_input"


class CallbackId(StrEnum):
    """`callback_id` of modals, matched by the view-submission listeners."""

    CONNECT_MODAL = "connect_modal"


class BlockId(StrEnum):
    """`block_id` of modal inputs: submitted values and validation errors are keyed by it."""

    CONNECT_WORKSPACE = "connect_workspace"
    CONNECT_TOKEN = "connect_token"
