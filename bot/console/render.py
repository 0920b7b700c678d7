"""Block Kit and mrkdwn as a person would read them in Slack, for a terminal.

Pure functions of the message and a name book: no I/O, so they are tested on the real builders'
output. What Slack hides is hidden (escapes, `*bold*` markers, the machinery of mentions and
dates); what Slack shows as a picture becomes the emoji; buttons become numbered choices.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

# Every emoji the bot's messages use (a test keeps it so), plus a few people type; others
# stay `:name:`.
EMOJI: Mapping[str, str] = {
    "hourglass_flowing_sand": "⏳",
    "arrows_counterclockwise": "🔄",
    "white_check_mark": "✅",
    "x": "❌",
    "no_entry_sign": "🚫",
    "warning": "⚠️",
    "grey_question": "❔",
    "large_green_circle": "🟢",
    "white_circle": "⚪",
    "link": "🔗",
    "broken_chain": "⛓️‍💥",
    "bell": "🔔",
    "no_bell": "🔕",
    "hourglass": "⌛",
    "stopwatch": "⏱️",
    "information_source": "ℹ️",
    "tada": "🎉",
    "zzz": "💤",
    "alarm_clock": "⏰",
    "clipboard": "📋",
    "construction": "🚧",
    "mute": "🔇",
    "double_vertical_bar": "⏸️",
    "black_square_for_stop": "⏹️",
    "rocket": "🚀",
    "money_with_wings": "💸",
    "envelope": "✉️",
    "eyes": "👀",
    "leftwards_arrow_with_hook": "↩️",
    "raising_hand": "🙋",
    "mega": "📣",
    "straight_ruler": "📏",
}

_ENTITY = re.compile(r"<([^<>\n]*)>")
_EMOJI_CODE = re.compile(r":([a-z0-9_+\-]+):")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])")
_FENCE = "```"
_ZERO_WIDTH_SPACE = "\u200b"
CODE_PREFIX = "│ "


@dataclass(frozen=True)
class Names:
    """Who and what the ids in `<@U…>` / `<#C…>` are, as Slack would show them."""

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """The reader's clock, for "Today" and "2 hours ago"."""
    zone: tzinfo | None = None
    """The reader's time zone, as Slack uses the user's own; None: this machine's."""
    shift: timedelta = timedelta(0)
    """Added to every date and to "now": `console --clock` shows times as from that moment."""

    def user(self, user_id: str) -> str:
        return self.users.get(user_id, user_id)

    def channel(self, channel_id: str) -> str:
        return self.channels.get(channel_id, channel_id)

    def escape_command(self, text: str) -> str:
        """Command text as Slack sends it with `should_escape` (manifest.yml): a known
        `@name` becomes `<@U…|name>`, anything else stays as typed."""

        def mention(match: re.Match[str]) -> str:
            name = match.group(1)
            found = next((uid for uid, known in self.users.items() if known == name), None)
            return f"<@{found}|{name}>" if found else match.group(0)

        return re.sub(r"(?<![\w<])@([\w.-]+)", mention, text)


@dataclass(frozen=True)
class Confirm:
    """A button's confirm dialog, as plain text."""

    title: str
    text: str
    confirm: str
    deny: str


@dataclass(frozen=True)
class Button:
    """A button as a person sees it, plus what a click on it sends back."""

    label: str
    action_id: str
    value: str
    block_id: str | None = None
    url: str | None = None
    style: str | None = None
    confirm: Confirm | None = None


@dataclass(frozen=True)
class Rendered:
    """Lines to print, and the buttons in them (numbered from the `first_number` given)."""

    lines: list[str]
    buttons: list[Button]


# -- text --------------------------------------------------------------------------------------


def emojize(text: str) -> str:
    return _EMOJI_CODE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)


def unescape(text: str) -> str:
    """Slack's three escapes undone; `&amp;` last so `&amp;lt;` reads `&lt;` as in Slack."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _entity(inner: str, names: Names) -> str:
    """One `<...>` sequence as Slack displays it."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return "@" + (names.users.get(target[1:]) or label or target[1:])
    if target.startswith("#"):
        return "#" + (names.channels.get(target[1:]) or label or target[1:])
    if target.startswith("!"):
        keyword = target[1:].split("^", 1)[0]
        if keyword in ("here", "channel", "everyone"):
            return "@" + keyword
        if keyword == "subteam" and not label:  # the bot's own `cc`: the group's id stands in
            return "@" + target.partition("^")[2]
        if keyword == "date":
            shown = slack_date_text(target, names)
            if shown is not None:
                return shown
        # `<!subteam^S1|@team>`, a date it cannot read: Slack falls back to the label.
        return label or target
    return f"{label} ({target})" if label and label != target else target


_DATE_TOKEN = re.compile(r"\{(\w+)\}")


def slack_date_text(target: str, names: Names) -> str | None:
    """`!date^<unix>^<format>[^link]` as Slack writes it for the reader: in their zone, with
    "Today"/"Yesterday"/"Tomorrow" and "2 hours ago"; None when it does not parse."""
    parts = target.split("^")
    if len(parts) < 3 or not parts[1].lstrip("-").isdigit():
        return None
    now = (names.now() + names.shift).astimezone(names.zone)
    moment = datetime.fromtimestamp(int(parts[1]), UTC) + names.shift
    moment = moment.astimezone(names.zone or now.tzinfo)
    now = now.astimezone(moment.tzinfo)

    def token(match: re.Match[str]) -> str:
        found = _date_token(match.group(1), moment, now)
        return found if found is not None else match.group(0)

    return _DATE_TOKEN.sub(token, parts[2])


def _date_token(name: str, moment: datetime, now: datetime) -> str | None:
    day = moment.day
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    forms = {
        "date_num": moment.strftime("%Y-%m-%d"),
        "date": f"{moment:%B} {day}{suffix}, {moment.year}",
        "date_short": f"{moment:%b} {day}, {moment.year}",
        "date_long": f"{moment:%A}, {moment:%B} {day}{suffix}, {moment.year}",
        "time": moment.strftime("%H:%M"),
        "time_secs": moment.strftime("%H:%M:%S"),
        "ago": _ago((moment - now).total_seconds()),
    }
    if name.endswith("_pretty") and name.removesuffix("_pretty") in forms:
        relative = {0: "Today", -1: "Yesterday", 1: "Tomorrow"}
        return relative.get((moment.date() - now.date()).days) or forms[name[: -len("_pretty")]]
    return forms.get(name)


def _ago(seconds: float) -> str:
    """`just now`, `5 minutes ago`, `in 2 hours`: the largest whole unit, as Slack says it."""
    span = abs(seconds)
    if span < 60:
        return "just now"
    for unit, size in (("year", 31_536_000), ("month", 2_592_000), ("day", 86_400),
                       ("hour", 3_600), ("minute", 60)):  # fmt: skip
        if span >= size:
            count = int(span // size)
            words = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {words}" if seconds > 0 else f"{words} ago"
    return "just now"


def _inline(text: str, names: Names) -> str:
    """mrkdwn outside code: mentions, dates, links, emphasis markers, emoji, escapes."""
    text = _ENTITY.sub(lambda m: _entity(m.group(1), names), text)
    text = _BOLD.sub(r"\1", text)
    text = _ITALIC.sub(r"\1", text)
    text = _STRIKE.sub(r"\1", text)
    return unescape(emojize(text))


def _outside_inline_code(text: str, names: Names) -> str:
    """`_inline` everywhere but inside `code` spans, whose text is shown as typed."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick is plain text
        return _inline(text, names)
    return "`".join(
        _inline(part, names) if index % 2 == 0 else unescape(part)
        for index, part in enumerate(parts)
    )


def mrkdwn_to_lines(text: str, names: Names | None = None) -> list[str]:
    """mrkdwn as the lines a reader sees; fenced code keeps its text, each line marked `│ `."""
    names = names or Names()
    chunks = text.split(_FENCE)
    if len(chunks) % 2 == 0:  # an unclosed fence: Slack shows the backticks as typed
        chunks = [_FENCE.join(chunks)]
    lines: list[str] = []
    for index, chunk in enumerate(chunks):
        if index % 2 == 1:
            code = unescape(chunk.replace(_ZERO_WIDTH_SPACE, "")).strip("\n")
            lines += [CODE_PREFIX + line for line in code.split("\n")]
            continue
        # The newlines that only separate text from a fence are not lines of their own.
        if index > 0:
            chunk = chunk.removeprefix("\n")
        if index < len(chunks) - 1:
            chunk = chunk.removesuffix("\n")
        if chunk:
            lines += _outside_inline_code(chunk, names).split("\n")
    return lines


def text_object(obj: Any, names: Names | None = None) -> list[str]:
    """A Block Kit text object (`mrkdwn` or `plain_text`) as lines."""
    if not isinstance(obj, dict):
        return []
    text = str(obj.get("text") or "")
    if obj.get("type") == "mrkdwn":
        return mrkdwn_to_lines(text, names)
    return emojize(text).split("\n")


def _plain(obj: Any, names: Names | None = None) -> str:
    return " ".join(text_object(obj, names))


# -- blocks ------------------------------------------------------------------------------------


def button_of(element: Mapping[str, Any], block_id: str | None) -> Button:
    confirm = element.get("confirm")
    return Button(
        label=_plain(element.get("text")),
        action_id=str(element.get("action_id") or ""),
        value=str(element.get("value") or ""),
        block_id=block_id,
        url=element.get("url"),
        style=element.get("style"),
        confirm=Confirm(
            title=_plain(confirm.get("title")),
            text=" ".join(text_object(confirm.get("text"))),
            confirm=_plain(confirm.get("confirm")) or "Yes",
            deny=_plain(confirm.get("deny")) or "Cancel",
        )
        if isinstance(confirm, dict)
        else None,
    )


_MENUS = ("static_select", "overflow")


def options_of(element: Mapping[str, Any], block_id: str | None) -> list[Button]:
    """A menu's options as buttons: a click sends the option's value under the menu's id."""
    confirm = button_of(element, block_id).confirm
    return [
        Button(
            label=_plain(option.get("text")),
            action_id=str(element.get("action_id") or ""),
            value=str(option.get("value") or ""),
            block_id=block_id,
            confirm=confirm,
        )
        for option in element.get("options") or []
        if isinstance(option, dict)
    ]


def _element_label(element: Mapping[str, Any]) -> str:
    """A non-button interactive element, shown (not clickable in a terminal)."""
    kind = str(element.get("type", "element"))
    placeholder = _plain(element.get("placeholder"))
    return f"[{kind}{': ' + placeholder if placeholder else ''}]"


class _Layout:
    def __init__(self, names: Names, first_number: int) -> None:
        self.names = names
        self.next_number = first_number
        self.lines: list[str] = []
        self.buttons: list[Button] = []

    def button_row(self, elements: Sequence[Any], block_id: str | None) -> None:
        shown = []
        for element in elements:
            if not isinstance(element, dict):
                continue
            if element.get("type") == "button":
                shown.append(self._numbered(button_of(element, block_id)))
            elif element.get("type") in _MENUS and element.get("options"):
                # A menu's options become numbered choices after its placeholder.
                choices = [self._numbered(b) for b in options_of(element, block_id)]
                placeholder = _plain(element.get("placeholder"))
                joined = "  ".join(choices)
                shown.append(f"{placeholder}: {joined}" if placeholder else f"⋯ {joined}")
            else:
                shown.append(_element_label(element))
        if shown:
            self.lines.append("  ".join(shown))

    def _numbered(self, button: Button) -> str:
        self.buttons.append(button)
        self.next_number += 1
        return f"[{self.next_number - 1}] {button.label}"

    def block(self, block: Mapping[str, Any]) -> None:
        kind = block.get("type")
        block_id = block.get("block_id")
        if kind == "section":
            self.lines += text_object(block.get("text"), self.names)
            for item in block.get("fields") or []:
                self.lines += text_object(item, self.names)
            accessory = block.get("accessory")
            if isinstance(accessory, dict) and accessory.get("type") != "image":
                self.button_row([accessory], block_id)
        elif kind == "context":
            parts = []
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("type") == "image":
                    parts.append(f"[{element.get('alt_text', 'image')}]")
                else:
                    parts.append(" ".join(text_object(element, self.names)))
            self.lines.append("  ".join(part for part in parts if part))
        elif kind == "header":
            self.lines.append(_plain(block.get("text")).upper())
        elif kind == "divider":
            self.lines.append("─" * 24)
        elif kind == "actions":
            self.button_row(block.get("elements") or [], block_id)
        elif kind == "input":
            label = _plain(block.get("label"))
            optional = " (optional)" if block.get("optional") else ""
            self.lines.append(f"{label}{optional}: {_element_label(block.get('element') or {})}")
        elif kind == "image":
            self.lines.append(f"[image: {block.get('alt_text', '')}]")
        else:
            self.lines.append(f"[{kind} block]")


def render_blocks(
    blocks: Sequence[Mapping[str, Any]],
    *,
    fallback: str = "",
    names: Names | None = None,
    first_number: int = 1,
) -> Rendered:
    """A message (blocks, else its fallback text) as lines, with its buttons numbered."""
    layout = _Layout(names or Names(), first_number)
    if not blocks:
        return Rendered(mrkdwn_to_lines(fallback, layout.names), [])
    for block in blocks:
        if isinstance(block, Mapping):
            layout.block(block)
    return Rendered(layout.lines, layout.buttons)


def render_message(
    message: Mapping[str, Any], *, names: Names | None = None, first_number: int = 1
) -> Rendered:
    """`{"text", "blocks"}` as posted (e.g. `Message.to_dict()` or a `response_url` body)."""
    return render_blocks(
        message.get("blocks") or [],
        fallback=str(message.get("text") or ""),
        names=names,
        first_number=first_number,
    )
