"""Notices the bot posts on its own: a channel whose failure alerts stopped."""

from __future__ import annotations

from bot.slack.messages.common import WARNING, Message, context, fallback, section


def alerts_paused_token_notice(workspace_id: int) -> Message:
    """Told to the channel once when Skyvia stops accepting its token.

    See docs/reference/messages.md#channel-notices.
    """
    line = (
        f"{WARNING} Failure alerts of this channel are paused: Skyvia rejected the access token "
        f"of workspace {workspace_id}."
    )
    fix = (
        f"An admin can reconnect with `/skyvia connect {workspace_id}`; alerts resume from then on."
    )
    return Message(text=fallback(f"{line} {fix}"), blocks=[section(line), context(fix)])
