"""Sends the bot exactly what Slack sends to `/slack/events`, signed with the app's signing secret.

The console uses it to turn what a person types or clicks into real Slack requests, and the
end-to-end tests use it to act as Slack.

The payload shapes follow Slack's (and what Bolt parses): slash commands and interactivity arrive
form-encoded (interactivity as one `payload=<json>` field), events as a JSON envelope. Signatures
come from slack_sdk's own `SignatureVerifier`, so a bot that accepts these accepts Slack's.
"""

from __future__ import annotations

import enum
import hmac
import itertools
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

STALE_AFTER_SECONDS = 5 * 60

__all__ = ["STALE_AFTER_SECONDS", "Signing", "SlackRequestSender"]


class Signing(enum.Enum):
    """How a request is signed; everything but VALID must get a 401 and cause nothing."""

    VALID = "valid"
    BAD = "bad"  # signed with another secret
    STALE = "stale"  # correctly signed, but timestamped more than 5 minutes ago
    MISSING = "missing"  # no X-Slack-Signature / X-Slack-Request-Timestamp headers


class SlackRequestSender:
    """Posts signed Slack requests to `{base_url}/slack/events` and returns the bot's answer.

    `response_url_for(id)` mints response URLs when a call does not pass one (give it
    `fake_slack.response_url`); the id used last is kept in `last_response_id`.
    """

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        *,
        team_id: str = "T0TEST",
        team_domain: str = "skyvia-test",
        api_app_id: str = "A0TEST",
        bot_user_id: str = "U0BOT",
        enterprise_id: str | None = None,
        is_enterprise_install: bool = False,
        http: httpx.AsyncClient | None = None,
        response_url_for: Callable[[str], str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/slack/events"
        self.team_id = team_id
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.enterprise_id = enterprise_id
        """The team's Grid org; `is_enterprise_install`: the app is installed org-wide."""
        self.is_enterprise_install = is_enterprise_install
        self.last_response_id: str | None = None
        self.user_teams: dict[str, str] = {}
        """Users of another team (Slack Connect): their payloads carry that `user.team_id`."""
        self._verifier = SignatureVerifier(signing_secret)
        self._http = http or httpx.AsyncClient(timeout=30.0)
        self._owns_http = http is None
        self._response_url_for = response_url_for
        self._clock = clock
        self._ids = itertools.count(1)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> SlackRequestSender:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    # ----- what Slack sends --------------------------------------------------------------------

    async def slash_command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        command: str = "/skyvia",
        response_url: str | None = None,
        trigger_id: str | None = None,
        channel_name: str | None = None,
        user_name: str | None = None,
        signing: Signing = Signing.VALID,
    ) -> httpx.Response:
        fields = {
            "token": "verification-token-unused",
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name or channel_id.lower(),
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
            "is_enterprise_install": str(self.is_enterprise_install).lower(),
            "response_url": response_url or self._mint_response_url("command"),
            "trigger_id": trigger_id or self._trigger_id(),
        }
        return await self._post_form(urlencode(fields), signing)

    async def block_action(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str,
        channel_id: str | None,
        message_ts: str | None = None,
        message: dict[str, Any] | None = None,
        response_url: str | None = None,
        block_id: str | None = None,
        container: dict[str, Any] | None = None,
        trigger_id: str | None = None,
        signing: Signing = Signing.VALID,
        selected_option: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """A button click. Pass the clicked `message` (as Slack stores it) to mirror a real click:
        `block_id` and the button's text are then taken from the button with `action_id`.

        With `selected_option` it is a choice in an overflow menu instead: Slack then sends the
        option (its `value` is `value`) and no `value` of the element itself."""
        button = _find_element(message, action_id) if message else None
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id or (button or {}).get("block_id") or f"b{next(self._ids)}",
            "action_ts": f"{self._clock():.6f}",
            **_clicked(button, value),
        }
        if selected_option is not None:  # a choice the caller names (no message to find it in)
            action.pop("value", None)
            action.pop("text", None)
            action["type"] = "overflow"
            action["selected_option"] = {**selected_option, "value": value}
        if container is None:
            container = _message_container(message, message_ts, channel_id)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": "verification-token-unused",
            "container": container,
            "trigger_id": trigger_id or self._trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": self._enterprise(),
            "is_enterprise_install": self.is_enterprise_install,
            "state": {"values": {}},
            "response_url": response_url or self._mint_response_url("action"),
            "actions": [action],
        }
        if channel_id is not None:
            payload["channel"] = {"id": channel_id, "name": channel_id.lower()}
        if message is not None:
            payload["message"] = message
        return await self._post_payload(payload, signing)

    async def view_submission(
        self,
        callback_id: str,
        values: dict[str, dict[str, Any]],
        *,
        user_id: str,
        private_metadata: str = "",
        view_id: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        signing: Signing = Signing.VALID,
    ) -> httpx.Response:
        """A modal submitted. `values` is `{block_id: {action_id: value}}`; a plain string value
        becomes a `plain_text_input` state, a dict is sent as given (other element types)."""
        payload = self.view_submission_payload(
            callback_id,
            values,
            user_id=user_id,
            private_metadata=private_metadata,
            view_id=view_id,
            blocks=blocks,
        )
        return await self._post_payload(payload, signing)

    def view_submission_payload(
        self,
        callback_id: str,
        values: dict[str, dict[str, Any]],
        *,
        user_id: str,
        private_metadata: str = "",
        view_id: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The payload of `view_submission`, for sending another way (a Socket Mode envelope)."""
        view_id = view_id or f"V{next(self._ids):08d}"
        state = {
            block_id: {
                action_id: (
                    value
                    if isinstance(value, dict)
                    else {"type": "plain_text_input", "value": value}
                )
                for action_id, value in actions.items()
            }
            for block_id, actions in values.items()
        }
        payload: dict[str, Any] = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": "verification-token-unused",
            "trigger_id": self._trigger_id(),
            "view": {
                "id": view_id,
                "team_id": self.team_id,
                "type": "modal",
                "blocks": blocks or [],
                "private_metadata": private_metadata,
                "callback_id": callback_id,
                "state": {"values": state},
                "hash": f"{int(self._clock())}.abc",
                "title": {"type": "plain_text", "text": "Skyvia"},
                "close": {"type": "plain_text", "text": "Cancel"},
                "submit": {"type": "plain_text", "text": "Save"},
                "previous_view_id": None,
                "root_view_id": view_id,
                "app_id": self.api_app_id,
                "external_id": "",
                "app_installed_team_id": self.team_id,
                "bot_id": "B0BOT",
            },
            "response_urls": [],
            "is_enterprise_install": self.is_enterprise_install,
            "enterprise": self._enterprise(),
        }
        return payload

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        signing: Signing = Signing.VALID,
    ) -> httpx.Response:
        """An Events API delivery. Resend with the same `event_id` and a `retry_num` to act out
        Slack's retries."""
        now = int(self._clock())
        envelope = {
            "token": "verification-token-unused",
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": {"event_ts": f"{self._clock():.6f}", **event},
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": now,
            "authorizations": [
                {
                    "enterprise_id": self.enterprise_id,
                    "team_id": None if self.is_enterprise_install else self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": self.is_enterprise_install,
                }
            ],
            "is_ext_shared_channel": False,
        }
        headers = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return await self._post(json.dumps(envelope), "application/json", signing, headers)

    async def function_executed(
        self,
        callback_id: str,
        inputs: dict[str, Any],
        *,
        execution_id: str,
        bot_access_token: str,
        title: str | None = None,
        event_id: str | None = None,
        retry_num: int | None = None,
    ) -> httpx.Response:
        """A Workflow Builder step of this app runs (`function_executed`, Slack's shape): the
        step's definition, its inputs, the execution's id and its own short-lived token."""
        event = {
            "type": "function_executed",
            "function": {
                "id": f"Fn{callback_id.upper()[:10]}",
                "callback_id": callback_id,
                "title": title or callback_id,
                "type": "app",
                "app_id": self.api_app_id,
                "input_parameters": [],
                "output_parameters": [],
                "date_created": int(self._clock()),
                "date_updated": int(self._clock()),
                "date_deleted": 0,
            },
            "inputs": inputs,
            "function_execution_id": execution_id,
            "workflow_execution_id": f"Wx{execution_id}",
            "bot_access_token": bot_access_token,
        }
        return await self.event(event, event_id=event_id, retry_num=retry_num)

    async def app_home_opened(
        self, user_id: str, *, tab: str = "home", signing: Signing = Signing.VALID
    ) -> httpx.Response:
        return await self.event(
            {"type": "app_home_opened", "user": user_id, "channel": f"D{user_id}", "tab": tab},
            signing=signing,
        )

    async def url_verification(self, challenge: str) -> httpx.Response:
        body = {"token": "verification-token-unused", "challenge": challenge}
        return await self._post(
            json.dumps({**body, "type": "url_verification"}), "application/json", Signing.VALID
        )

    # ----- signing and transport ---------------------------------------------------------------

    def signed_headers(self, body: str | bytes, signing: Signing = Signing.VALID) -> dict[str, str]:
        """The two headers Slack adds, or a broken variant of them.

        Slack signs the raw bytes, so a body that is not UTF-8 gets a valid signature too.
        """
        if signing is Signing.MISSING:
            return {}
        now = int(self._clock())
        timestamp = str(now - STALE_AFTER_SECONDS - 60 if signing is Signing.STALE else now)
        verifier = self._verifier
        if signing is Signing.BAD:
            verifier = SignatureVerifier("not-the-signing-secret")
        raw = body.encode() if isinstance(body, str) else body
        digest = hmac.new(
            verifier.signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, "sha256"
        ).hexdigest()
        return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}

    async def raw(
        self, body: bytes, content_type: str, signing: Signing = Signing.VALID
    ) -> httpx.Response:
        """Posts any bytes, signed as Slack would sign them: for requests Slack would never send
        (malformed, oversized) that the bot must still answer cleanly."""
        headers = {"Content-Type": content_type, **self.signed_headers(body, signing)}
        return await self._http.post(self.url, content=body, headers=headers)

    async def _post_payload(self, payload: dict[str, Any], signing: Signing) -> httpx.Response:
        return await self._post_form(urlencode({"payload": json.dumps(payload)}), signing)

    async def _post_form(self, body: str, signing: Signing) -> httpx.Response:
        return await self._post(body, "application/x-www-form-urlencoded", signing)

    async def _post(
        self,
        body: str,
        content_type: str,
        signing: Signing,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **self.signed_headers(body, signing),
            **(extra_headers or {}),
        }
        return await self._http.post(self.url, content=body.encode(), headers=headers)

    def _user(self, user_id: str) -> dict[str, str]:
        return {
            "id": user_id,
            "username": user_id.lower(),
            "name": user_id.lower(),
            "team_id": self.user_teams.get(user_id, self.team_id),
        }

    def _enterprise(self) -> dict[str, str] | None:
        return (
            {"id": self.enterprise_id, "name": self.enterprise_id.lower()}
            if self.enterprise_id
            else None
        )

    def _trigger_id(self) -> str:
        return f"{next(self._ids)}.{int(self._clock())}.0123456789abcdef"

    def _mint_response_url(self, kind: str) -> str:
        """A response URL on the fake when one is wired, else one that refuses connections fast."""
        response_id = f"{kind}-{next(self._ids)}"
        self.last_response_id = response_id
        if self._response_url_for is not None:
            return self._response_url_for(response_id)
        return f"http://127.0.0.1:9/response/{response_id}"


def _find_element(message: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    """The interactive element with `action_id` in a message's blocks, tagged with its block_id."""
    for block in message.get("blocks", []):
        candidates = list(block.get("elements", []))
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id")}
    return None


def _clicked(element: dict[str, Any] | None, value: str) -> dict[str, Any]:
    """A button's value and text; a menu (overflow, static_select) sends its chosen option."""
    if element and element.get("type") in ("overflow", "static_select"):
        chosen = [o for o in element.get("options", []) if o.get("value") == value]
        return {"type": element["type"], "selected_option": (chosen or [{"value": value}])[0]}
    text = {"text": element["text"]} if element and "text" in element else {}
    return {"value": value, "type": "button", **text}


def _message_container(
    message: dict[str, Any] | None, message_ts: str | None, channel_id: str | None
) -> dict[str, Any]:
    """Where a click happened, as Slack names it (a click on a thread reply names its thread)."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts or (message or {}).get("ts"),
        "channel_id": channel_id,
        "is_ephemeral": message is None,
    }
    if message and message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    return container
