"""What each Slack Web API error means for the bot: one table, read by the notifier.

Slack answers a refused call with `ok: false` and an error code. Retrying every code alike
either loops forever on refusals that never heal (a channel that forbids posting answers
`restricted_action` to every attempt) or gives up on ones that would. So every code is sorted
into one `Remedy`:

- `PAUSE`: the channel or the bot's token cannot be posted to until a person acts (archived
  channel, bot removed, app uninstalled, missing scope, a workspace rule). The binding is
  paused with the reason in plain words, shown by `/skyvia status`; nothing is retried until
  it is reconnected.
- `DROP`: this one message can never be posted (too long, malformed blocks or arguments, a
  locked thread). Retrying the same request gets the same answer, so the delivery is given up
  at once and logged; the channel stays usable for other messages.
- `RETRY`: Slack's own trouble (`internal_error`, `fatal_error`, ...), and any code this table
  does not know. Retried with backoff, and given up after a few attempts, so an unexpected
  refusal costs a bounded number of calls instead of one every interval forever.
- `WAIT`: rate limits. Nothing was posted and Slack will take it later; slack_sdk already
  honoured `Retry-After` before we see it, and the next attempt comes on the caller's own
  schedule without counting against the delivery.
"""

from __future__ import annotations

from enum import StrEnum

from slack_sdk.errors import SlackApiError


class Remedy(StrEnum):
    PAUSE = "pause"
    DROP = "drop"
    RETRY = "retry"
    WAIT = "wait"


_TOKEN_GONE = "Slack no longer accepts the bot's token (app uninstalled?)"
_RESTRICTED = "a workspace or channel setting forbids the bot to post there"
_NOT_ALLOWED = "the Slack app lacks a permission it needs (reinstall it with its scopes)"

PAUSE_REASONS: dict[str, str] = {
    "channel_not_found": "Slack says the channel does not exist or the bot cannot see it",
    "is_archived": "the channel is archived",
    "not_in_channel": "the bot is not a member of the channel",
    "account_inactive": _TOKEN_GONE,
    "invalid_auth": _TOKEN_GONE,
    "not_authed": _TOKEN_GONE,
    "token_revoked": "Slack no longer accepts the bot's token (token revoked)",
    "token_expired": "the bot's Slack token has expired (reinstall the app)",
    "restricted_action": _RESTRICTED,
    "restricted_action_read_only_channel": "the channel is read-only for the bot",
    "restricted_action_thread_only_channel": "the channel only allows replies in threads",
    "restricted_action_non_threadable_channel": "the channel does not allow thread replies",
    "missing_scope": _NOT_ALLOWED,
    "not_allowed_token_type": "the bot is configured with the wrong kind of Slack token",
    "no_permission": _NOT_ALLOWED,
    "access_denied": _NOT_ALLOWED,
    "accesslimited": "Slack limits this app's access from the bot's network",
    "ekm_access_denied": "the workspace's key management denies the bot access",
    "team_access_not_granted": "the bot's token has no access to this workspace",
    "enterprise_is_restricted": "the Enterprise Grid organisation restricts the bot",
    "org_login_required": "the workspace is migrating to Enterprise Grid; retry after it",
    "two_factor_setup_required": "the workspace requires two-factor setup for the bot",
    "messages_tab_disabled": "the app's messages tab is disabled",
}
"""Errors after which posting to the channel cannot work until a person acts: why, in words."""

_DROP = frozenset(
    {
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_attachments",
        "too_many_attachments",
        "too_many_contact_cards",
        "attachment_payload_limit_exceeded",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "metadata_must_be_sent_from_app",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_array_arg",
        "invalid_charset",
        "invalid_form_data",
        "invalid_post_type",
        "missing_post_type",
        "invalid_json",
        "json_not_object",
        "as_user_not_supported",
        "cannot_reply_to_message",
        "restricted_action_thread_locked",
        "thread_not_found",
        "duplicate_message_not_found",
        "duplicate_channel_not_found",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "method_deprecated",
        "deprecated_endpoint",
        "unknown_method",
    }
)
"""Errors that refuse this request for good; the same request would be refused again."""

_WAIT = frozenset({"ratelimited", "rate_limited", "message_limit_exceeded"})
"""Rate limits: nothing was posted, and Slack will accept it later."""

_RETRY = frozenset(
    {"internal_error", "fatal_error", "request_timeout", "service_unavailable", "team_added_to_org"}
)
"""Slack's own passing trouble (unknown codes are treated the same way)."""


def remedy_for(error: str) -> Remedy:
    """The remedy for a Slack error code (see the module doc); unknown codes are `RETRY`."""
    if error in PAUSE_REASONS:
        return Remedy.PAUSE
    if error in _DROP or error.startswith("slack_connect_"):
        return Remedy.DROP
    if error in _WAIT:
        return Remedy.WAIT
    return Remedy.RETRY


def pause_reason(error: str) -> str:
    """The plain-words reason `status` shows for a binding paused by `error`."""
    return PAUSE_REASONS.get(error, f"Slack refused posts ({error})")


def error_code(exc: SlackApiError) -> str:
    """The `error` of a refused call's answer ('error' when the answer has none)."""
    response = exc.response
    if response is None:
        return "error"
    try:
        return str(response.get("error") or "error")
    except Exception:  # a body that is not JSON (an HTML 502 page)
        return "error"


NOT_IN_CHANNEL = frozenset({"channel_not_found", "not_in_channel"})
"""Codes that, on a request's own post, mean "invite the bot" (a private channel without it)."""


def not_in_channel(exc: SlackApiError) -> bool:
    return error_code(exc) in NOT_IN_CHANNEL


def refused_outright(exc: SlackApiError) -> bool:
    """Slack answered the call below 500: it was refused and nothing was posted. A 5xx (or a
    lost answer, which is no `SlackApiError`) may come after the message was stored."""
    return status_of(exc) < 500


def status_of(exc: SlackApiError) -> int:
    """The HTTP status of a refused call (0 when there is no response)."""
    response = exc.response
    return int(getattr(response, "status_code", 0) or 0) if response is not None else 0


def retry_after_of(exc: SlackApiError, default: float = 60.0) -> float:
    """Slack's `Retry-After` of a refused call, in seconds (`default` when it named none)."""
    response = exc.response
    headers = (getattr(response, "headers", None) if response is not None else None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(1.0, float(value[0] if isinstance(value, list) else value))
            except (TypeError, ValueError):
                break
    return default
