"""The console's conversation: what a typed line does, and how Slack's changes are shown.

A line becomes what Slack would send (a signed slash command, a button click, a modal
submission); what the bot does in return arrives as stand-in events and is printed as text.
Each message keeps the button numbers it was first shown with (`bot.console.screen`), so
`click 2` still means the same button after the lifecycle card is updated.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from bot.clock import utcnow
from bot.console.help_text import CONSOLE_VERBS
from bot.console.modal import Modal, modal_fields
from bot.console.render import Button, Names, render_blocks, text_object
from bot.console.screen import Screen, Shown
from bot.console.sim_verbs import aged_backup, digest_now, simulator_command
from bot.console.stack import BOT_NAME, CHANNEL_NAME, PEOPLE, ConsoleStack
from bot.devtools.slack_standin import (
    EphemeralPosted,
    HomePublished,
    MessagePosted,
    MessageUpdated,
    PostedMessage,
    ResponsePosted,
    StandinEvent,
    ViewOpened,
    ViewUpdated,
)
from storage.repositories import AlertCursorRepository

log = logging.getLogger("bot.console")

PROMPT = "/skyvia "
INDENT = "  "
THREAD_INDENT = "      "
_TITLE_LIMIT = 60


@dataclass
class _Confirm:
    key: str
    button: Button


class ConsoleSession:
    """Turns lines into Slack requests and stand-in events into text for `show`."""

    def __init__(
        self, stack: ConsoleStack, show: Callable[[str], None], *, shift: timedelta = timedelta(0)
    ) -> None:
        self.stack = stack
        self.show = show
        self.names = Names(
            users={
                **{user_id: name for name, (user_id, _) in PEOPLE.items()},
                stack.slack.bot_user_id: BOT_NAME,
            },
            channels={stack.channel_id: CHANNEL_NAME},
            shift=shift,
        )
        self.user_id = stack.user_id
        """Who types and clicks: `as @member` / `as guest` changes it, to try the roles."""
        self._screen = Screen(self.names)
        self._response_sources: dict[str, str] = {}
        self._response_counts: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._confirm: _Confirm | None = None
        self._modal: Modal | None = None
        self._first_lines: dict[str, str] = {}
        """Each printed message's first line as last shown: a thread is named by what the
        reader has on screen, not by an edit of its parent that is yet to be printed."""

    # -- the prompt ----------------------------------------------------------------------------
    @property
    def prompt(self) -> str:
        if self._confirm is not None:
            return "confirm? [y/N] "
        if self._modal is not None:
            current = self._modal.current
            default = f" [{current.initial}]" if current.initial else ""
            optional = " (optional)" if current.optional else ""
            return f"{current.label}{optional}{default}: "
        return PROMPT

    def echo(self, line: str) -> str:
        """What was typed, for a transcript (piped input is not echoed by a terminal);
        answers to a token field are masked."""
        if self._modal is not None:
            shown = "•" * 8 if line and "token" in self._modal.current.label.lower() else line
            return f"{self.prompt}{shown}"
        if self._confirm is not None:
            return f"{self.prompt}{line}"
        return f"> {line}"

    # -- input ---------------------------------------------------------------------------------
    async def handle_line(self, line: str) -> bool:
        """Acts on one typed line; False when the person asked to leave."""
        text = line.strip()
        if text.lower() in ("quit", "exit", ":q"):
            return False
        if self._confirm is not None:
            await self._answer_confirm(text)
            return True
        if self._modal is not None:
            await self._answer_modal(text)
            return True
        if not text:
            return True
        words = text.split()
        head = words[0].lower()
        if head == "click" or (len(words) == 1 and head.isdigit()):
            await self._click_command(words)
        elif head == "home":
            await self._open_home()
        elif head == "as":
            self._act_as(words[1:])
        elif head == "sim":
            await self._simulator_command(words[1:])
        elif head.startswith("/"):
            if head != "/skyvia":
                self.show(f"Only /skyvia exists here (you typed {words[0]}).")
            else:
                await self.slash_command(text[len(words[0]) :].strip())
        else:
            if head == "help":
                self.show(CONSOLE_VERBS)
            await self.slash_command(text)
        return True

    async def slash_command(self, text: str) -> None:
        response_id = self._new_response_id("command")
        answer = await self._call(
            self.stack.send.slash_command(
                self.names.escape_command(text),
                user_id=self.user_id,
                channel_id=self.stack.channel_id,
                channel_name=CHANNEL_NAME,
                user_name=self.names.user(self.user_id),
                response_url=self.stack.slack.response_url(response_id),
            )
        )
        if answer is not None:
            self._show_ack_body(answer, response_id)

    # -- buttons -------------------------------------------------------------------------------
    async def _click_command(self, words: list[str]) -> None:
        if len(words) != 2 and words[0].lower() == "click":
            self.show("Usage: click N (the number in [N] next to a button), or just N.")
            return
        number_text = words[-1]
        found = self._screen.button(int(number_text)) if number_text.isdigit() else None
        if found is None:
            self.show(f"There is no button [{number_text}] on screen.")
            return
        key, button = found
        if button.url:
            self.show(f"{INDENT}(this button opens {button.url} in a browser)")
        if button.confirm is not None:
            confirm = button.confirm
            self.show(
                f"{INDENT}? {confirm.title} — {confirm.text}\n"
                f"{INDENT}  y: {confirm.confirm} · n: {confirm.deny}"
            )
            self._confirm = _Confirm(key, button)
            return
        await self.click(key, button)

    async def _answer_confirm(self, text: str) -> None:
        pending, self._confirm = self._confirm, None
        assert pending is not None
        if text.lower() in ("y", "yes"):
            await self.click(pending.key, pending.button)
        else:
            self.show(f"{INDENT}(cancelled)")

    async def click(self, key: str, button: Button) -> None:
        """What Slack sends when the person presses `button` on the message `key`."""
        shown = self._screen[key]
        response_id = self._new_response_id("action")
        self._response_sources[response_id] = key
        message = None
        container: dict[str, Any] | None = None
        if shown.kind == "channel" and shown.channel_id and shown.ts:
            message = self.stack.slack.message_payload(shown.channel_id, shown.ts)
        elif shown.kind == "home":
            container = {"type": "view", "view_id": shown.view_id}
        await self._call(
            self.stack.send.block_action(
                button.action_id,
                button.value,
                user_id=self.user_id,
                channel_id=shown.channel_id,
                message_ts=shown.ts,
                message=message,
                response_url=self.stack.slack.response_url(response_id),
                block_id=button.block_id,
                container=container,
            )
        )

    # -- modals --------------------------------------------------------------------------------
    def _start_modal(self, view: dict[str, Any]) -> None:
        fields, unsupported = modal_fields(view)
        for kind in unsupported:
            self.show(f"{INDENT}({kind} inputs are not supported here)")
        if fields:
            self.show(f"{INDENT}(answer each field; an empty line keeps the value in [ ]; cancel)")
            self._modal = Modal(view=view, fields=fields, ask=list(fields))

    async def _answer_modal(self, text: str) -> None:
        modal = self._modal
        assert modal is not None
        if text.lower() == "cancel":
            self._modal = None
            self.show(f"{INDENT}(modal closed)")
            return
        problem = modal.answer(text)
        if problem is not None:
            self.show(f"{INDENT}{problem}")
            return
        if not modal.complete:
            return
        self._modal = None
        await self._submit_modal(modal)

    async def _submit_modal(self, modal: Modal) -> None:
        view = modal.view
        answer = await self._call(
            self.stack.send.view_submission(
                str(view.get("callback_id") or ""),
                modal.values(),
                user_id=self.user_id,
                private_metadata=str(view.get("private_metadata") or ""),
                view_id=str(view.get("id") or ""),
                blocks=view.get("blocks") or [],
            )
        )
        body = _json(answer) if answer is not None else {}
        if body.get("response_action") == "errors":
            errors: dict[str, str] = body.get("errors") or {}
            for block_id, error in errors.items():
                self.show(f"{INDENT}⚠️ {modal.label(block_id)}: {error}")
            self._modal = modal.retry(errors)
        elif body.get("response_action") in ("update", "push") and isinstance(
            body.get("view"), dict
        ):
            self._show_view(body["view"], "modal")
        else:
            self.show(f"{INDENT}(modal submitted)")

    # -- home and the simulator ----------------------------------------------------------------
    async def _open_home(self) -> None:
        self.show(f"{INDENT}(opening the App Home tab…)")
        await self._call(self.stack.send.app_home_opened(self.user_id))

    async def _simulator_command(self, words: list[str]) -> None:
        """The verb acts on the simulator; what the bot cached of the runs it changed is
        dropped, so the bot sees the change on its next scan, as it would see time pass."""
        container = self.stack.container
        team_id, channel_id = self.stack.slack.team_id, self.stack.channel_id
        if words == ["digest"]:
            self.show(await digest_now(container.db, team_id, channel_id, utcnow()))
            return
        status = await container.bindings.status(team_id, channel_id)
        for line in simulator_command(self.stack.sim.state, words, status.binding):
            self.show(line)
        aged = aged_backup(self.stack.sim.state, words)
        if aged is not None:
            async with container.db.session() as session:
                await AlertCursorRepository(session).forget_runs(aged.workspace_id, aged.id)

    def _act_as(self, words: list[str]) -> None:
        name = words[0].lstrip("@").lower() if len(words) == 1 else ""
        if name not in PEOPLE:
            self.show(f"Usage: as @{' | @'.join(PEOPLE)} (who types and clicks from now on).")
            return
        self.user_id, role = PEOPLE[name]
        self.show(f"You are now @{name}, {role}, in #{CHANNEL_NAME}.")

    # -- output --------------------------------------------------------------------------------
    async def follow(self, events: asyncio.Queue[StandinEvent]) -> None:
        """Prints every change the stand-in reports, until cancelled."""
        while True:
            event = await events.get()
            try:
                self.show_event(event)
            except Exception:  # a rendering bug must not end the session
                log.exception("could not show %s", type(event).__name__)
                self.show(f"{INDENT}(could not show a {type(event).__name__}; see the log)")

    def show_event(self, event: StandinEvent) -> None:
        match event:
            case MessagePosted(message=message) | MessageUpdated(message=message):
                self._show_message(message, updated=isinstance(event, MessageUpdated))
            case EphemeralPosted(ephemeral=ephemeral):
                if ephemeral.user != self.user_id:
                    return
                key = f"ephemeral:{ephemeral.message_ts}"
                self._screen.put(
                    key, Shown("ephemeral", ephemeral.channel, ts=ephemeral.message_ts)
                )
                header = f"[#{self.names.channel(ephemeral.channel)}] {BOT_NAME} · only you"
                self._print(key, header, {"text": ephemeral.text, "blocks": ephemeral.blocks})
            case ResponsePosted(response=response):
                self._show_response(response.response_id, response.body)
            case ViewOpened(view=view) | ViewUpdated(view=view):
                self._show_view(view, "modal")
            case HomePublished(user_id=user_id, view=view):
                if user_id == self.user_id:
                    self._show_view(view, "home")

    def _show_message(self, message: PostedMessage, *, updated: bool) -> None:
        key = f"channel:{message.channel}:{message.ts}"
        self._screen.keep(key, Shown("channel", message.channel, ts=message.ts))
        where = f"#{self.names.channel(message.channel)}"
        if message.channel in self.names.users:  # a DM is posted to the person's user id
            to = (
                ""
                if message.channel == self.user_id
                else f" to @{self.names.user(message.channel)}"
            )
            where = f"DM{to} from {self.names.user(message.user)}"
        indent = INDENT
        if message.is_reply and message.thread_ts:
            where += f" › thread of “{self._title(message.channel, message.thread_ts)}”"
            indent = THREAD_INDENT
            if message.reply_broadcast:
                where += " (also sent to the channel)"
        sender = "" if where.startswith("DM") else f" {self.names.user(message.user)}"
        header = f"[{where}]{sender}" + (" (updated)" if updated else "")
        self._print(key, header, {"text": message.text, "blocks": message.blocks}, indent=indent)

    def _show_response(self, response_id: str, body: dict[str, Any]) -> None:
        source = self._response_sources.get(response_id)
        if source is not None and body.get("delete_original"):
            self._screen.forget(source)
            self.show(f"{INDENT}(message deleted)")
            return
        if source is not None and body.get("replace_original"):
            shown = self._screen[source]
            header = f"[#{self.names.channel(shown.channel_id or '')}] {BOT_NAME} (updated)"
            self._print(source, header, body)
            return
        count = self._response_counts.get(response_id, 0) + 1
        self._response_counts[response_id] = count
        key = f"response:{response_id}:{count}"
        channel = self.stack.channel_id
        # Slack gives a message posted through a response_url a `ts` of its own; so do we.
        self._screen.put(key, Shown("response", channel, ts=f"{time.time():.6f}"))
        visibility = "" if body.get("response_type") == "in_channel" else " · only you"
        self._print(key, f"[#{self.names.channel(channel)}] {BOT_NAME}{visibility}", body)

    def _show_view(self, view: dict[str, Any], kind: str) -> None:
        view_id = str(view.get("id") or "")
        key = f"{kind}:{view_id}"
        self._screen.keep(key, Shown(kind, None, view_id=view_id))
        title = " ".join(text_object(view.get("title"))) or BOT_NAME
        header = f"[{'App Home' if kind == 'home' else 'modal'}] {title}"
        self._print(key, header, {"text": title, "blocks": view.get("blocks") or []})
        if kind == "modal":
            self._start_modal(view)

    def _print(
        self, key: str, header: str, message: dict[str, Any], *, indent: str = INDENT
    ) -> None:
        rendered = self._screen.render(key, message)
        self._first_lines[key] = rendered.lines[0] if rendered.lines else ""
        body = "\n".join(indent + line for line in rendered.lines)
        self.show(f"{header}\n{body}" if body else header)

    def _title(self, channel: str, ts: str) -> str:
        title = self._first_lines.get(f"channel:{channel}:{ts}")
        if title is None:
            try:
                parent = self.stack.slack.message(channel, ts)
            except AssertionError:
                return "an earlier message"
            lines = render_blocks(parent.blocks, fallback=parent.text, names=self.names).lines
            title = lines[0] if lines else ""
        return title if len(title) <= _TITLE_LIMIT else title[: _TITLE_LIMIT - 1] + "…"

    # -- plumbing ------------------------------------------------------------------------------
    def _new_response_id(self, kind: str) -> str:
        return f"console-{kind}-{next(self._ids)}"

    def _show_ack_body(self, answer: httpx.Response, response_id: str) -> None:
        """A listener that answers in its `ack()` puts the message in the HTTP response."""
        body = _json(answer)
        if body.get("text") or body.get("blocks"):
            self._show_response(response_id, body)

    async def _call(self, request: Any) -> httpx.Response | None:
        try:
            answer: httpx.Response = await request
        except httpx.HTTPError as error:
            self.show(f"{INDENT}(could not reach the bot: {type(error).__name__})")
            return None
        if answer.status_code != 200:
            self.show(f"{INDENT}(the bot answered HTTP {answer.status_code})")
        return answer


def _json(answer: httpx.Response) -> dict[str, Any]:
    if not answer.content:
        return {}
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
