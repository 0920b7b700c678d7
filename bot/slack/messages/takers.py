""" "I'm on it": who took an alert, on its header and in its thread. Look:
docs/reference/messages.md#im-on-it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject

from bot.slack.messages.common import Message, fallback, section
from bot.slack.messages.mrkdwn import user_mention

TAKERS_BLOCK_ID = "takers"
"""The `block_id` of an alert's "👀 … on it" line, so a redraw replaces it instead of adding one."""


def takers_text(takers: Sequence[str]) -> str:
    """`👀 @dana is on it`, `👀 @dana and @lee are on it`, `👀 @a, @b and @c are on it`."""
    names = [user_mention(user_id) for user_id in takers]
    if len(names) == 1:
        return f":eyes: {names[0]} is on it"
    return f":eyes: {', '.join(names[:-1])} and {names[-1]} are on it"


def takers_block(takers: Sequence[str]) -> ContextBlock | None:
    """The alert's line naming who is on it; None when nobody is."""
    if not takers:
        return None
    return ContextBlock(
        block_id=TAKERS_BLOCK_ID, elements=[MarkdownTextObject(text=takers_text(takers))]
    )


_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,30})>")


def shown_takers(shown: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Who the alert, as a click saw it, named on it (its takers line), in order."""
    for block in (shown or {}).get("blocks") or []:
        if isinstance(block, dict) and block.get("block_id") == TAKERS_BLOCK_ID:
            text = " ".join(
                str(e.get("text") or "") for e in block.get("elements") or [] if isinstance(e, dict)
            )
            return tuple(dict.fromkeys(_MENTION.findall(text)))
    return ()


def with_takers(shown: Mapping[str, Any], takers: Sequence[str]) -> Message:
    """The alert as the click saw it, with its takers line replaced (or removed): right under
    its first line, where the eye lands. Everything else (the streak, the buttons) is kept."""
    blocks = [
        dict(b)
        for b in shown.get("blocks") or []
        if isinstance(b, dict) and b.get("block_id") != TAKERS_BLOCK_ID
    ]
    line = takers_block(takers)
    if line is not None:
        blocks.insert(min(1, len(blocks)), line.to_dict())
    text = str(shown.get("text") or "") or "Alert"
    return Message.from_dicts(text, blocks)


def taker_reply(user_id: str, taken: bool, takers: Sequence[str]) -> Message:
    """In the alert's thread: who took it or stepped back, and who is on it now."""
    who = user_mention(user_id)
    if taken:
        line = f":eyes: {who} is on it."
        others = [t for t in takers if t != user_id]
        if others:
            line += f" (with {', '.join(user_mention(t) for t in others)})"
    else:
        line = f":leftwards_arrow_with_hook: {who} stepped back."
        line += f" {takers_text(takers)}." if takers else " Nobody is on it now."
    return Message(text=fallback(line), blocks=[section(line)])


def taken_message(taken: bool, *, changed: bool = True) -> Message:
    """Told to the clicker only: what their click did, and how to undo it."""
    if not changed:
        line = (
            ":eyes: You were already on it." if taken else "You were not on this alert."
        ) + " Nothing changed."
    elif taken:
        line = ":eyes: You're on it: the alert says so. Click *I'm on it* again to step back."
    else:
        line = ":leftwards_arrow_with_hook: You stepped back from this alert."
    return Message(text=fallback(line), blocks=[section(line)])
