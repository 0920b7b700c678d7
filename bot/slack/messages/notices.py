"""Notices the bot posts on its own: a channel whose failure alerts stopped."""

from __future__ import annotations

from bot.slack.messages.common import WARNING, Message, context, fallback, section


def alerts_paused_token_notice(workspace_id: int, *, own_token: bool = False) -> Message:
    """Told to the channel once when Skyvia stops accepting its token.

    A channel bound with its own token is told that it was *its* token: the workspace may still
    be scanned with other channels' tokens, but this channel hears nothing more of it.
    See docs/reference/messages.md#channel-notices.
    """
    if own_token:
        line = (
            f"{WARNING} Failure alerts of this channel are paused: Skyvia rejected this "
            "channel's access token; an admin can reconnect with `/skyvia connect`."
        )
        fix = f"Nothing more of workspace {workspace_id} is posted here until then."
        return Message(text=fallback(f"{line} {fix}"), blocks=[section(line), context(fix)])
    line = (
        f"{WARNING} Failure alerts of this channel are paused: Skyvia rejected the access token "
        f"of workspace {workspace_id}."
    )
    fix = (
        f"An admin can reconnect with `/skyvia connect {workspace_id}`; alerts resume from then on."
    )
    return Message(text=fallback(f"{line} {fix}"), blocks=[section(line), context(fix)])
