"""Pure Block Kit builders: data in, `Message` (or a `View`) out; no Slack calls, no I/O.

Handlers and the announcer import from here; the submodules are split by topic (`mrkdwn`
escaping and formats, `common` message and errors, `buttons`, `bindings`, `backups`,
`snapshots`, `alerts`, `home`, ...), with the ids (`ids`) and typed payloads (`payloads`)
that travel in what they build. It may import the grammar, the Skyvia models and the
services' read models; never clients, delivery or storage (an import contract checks it).
"""

from bot.slack.messages.alerts import (
    alerts_changed_message,
    alerts_unchanged_message,
    failure_alert,
    mute_changed_message,
)
from bot.slack.messages.backups import (
    BACKUPS_PAGE_SIZE,
    LAST_SNAPSHOTS_SHOWN,
    backup_details_message,
    backups_page_message,
    schedule_changed_announcement,
    schedule_message,
)
from bot.slack.messages.bindings import (
    already_connected_message,
    connect_modal,
    connected_message,
    disconnect_question,
    disconnected_message,
    replace_binding_message,
    status_message,
    watch_ended_card,
)
from bot.slack.messages.common import (
    Message,
    refusal_message,
    unexpected_error_message,
    usage_error_message,
)
from bot.slack.messages.help import help_message
from bot.slack.messages.home import HomeChannel, home_view
from bot.slack.messages.lifecycle import (
    active_snapshot_exists_message,
    card_pending_message,
    gave_up_note,
    snapshot_card,
    snapshot_outcome_reply,
    still_running_note,
    vanished_card,
    vanished_note,
)
from bot.slack.messages.mrkdwn import (
    escape_mrkdwn,
    format_count,
    format_duration,
    slack_date,
)
from bot.slack.messages.names import Pick, candidates_message
from bot.slack.messages.notices import alerts_paused_token_notice
from bot.slack.messages.refusals import refusal_words
from bot.slack.messages.snapshots import (
    SNAPSHOTS_PAGE_SIZE,
    snapshot_log_message,
    snapshots_page_message,
)

__all__ = [
    "BACKUPS_PAGE_SIZE",
    "LAST_SNAPSHOTS_SHOWN",
    "SNAPSHOTS_PAGE_SIZE",
    "HomeChannel",
    "Message",
    "Pick",
    "active_snapshot_exists_message",
    "alerts_changed_message",
    "alerts_paused_token_notice",
    "alerts_unchanged_message",
    "already_connected_message",
    "backup_details_message",
    "backups_page_message",
    "candidates_message",
    "card_pending_message",
    "connect_modal",
    "connected_message",
    "disconnect_question",
    "disconnected_message",
    "escape_mrkdwn",
    "failure_alert",
    "format_count",
    "format_duration",
    "gave_up_note",
    "help_message",
    "home_view",
    "mute_changed_message",
    "refusal_message",
    "refusal_words",
    "replace_binding_message",
    "schedule_changed_announcement",
    "schedule_message",
    "slack_date",
    "snapshot_card",
    "snapshot_log_message",
    "snapshot_outcome_reply",
    "snapshots_page_message",
    "status_message",
    "still_running_note",
    "unexpected_error_message",
    "usage_error_message",
    "vanished_card",
    "vanished_note",
    "watch_ended_card",
]
