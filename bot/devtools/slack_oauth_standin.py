"""The OAuth half of the Slack stand-in: `oauth.v2.access` for installs and token rotation.

A test plays the user who approves the install on slack.com: `approve()` returns the code Slack
would put in the redirect to `/slack/oauth_redirect`, and the bot then exchanges it here, through
`SLACK_API_URL`, for a bot token that the stand-in knows from then on. With token rotation on,
the tokens expire and come with refresh tokens, which `oauth.v2.access` (grant_type
`refresh_token`) exchanges for new ones, as Slack does.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

BOT_SCOPES = "commands,chat:write"


class OAuthFailure(Exception):
    """An `{"ok": false, "error": ...}` answer of `oauth.v2.access`."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class IssuedToken:
    """A bot token the stand-in handed out, and for which installation."""

    token: str = field(repr=False)
    team_id: str | None
    enterprise_id: str | None
    is_enterprise_install: bool
    bot_user_id: str
    bot_id: str
    expires_at: float | None = None


@dataclass(frozen=True)
class _Grant:
    team_id: str | None
    team_name: str | None
    enterprise_id: str | None
    enterprise_name: str | None
    is_enterprise_install: bool
    installer: str
    bot_user_id: str
    bot_id: str


RegisterToken = Callable[[IssuedToken], None]


class OAuthStandin:
    """Codes, tokens and refresh tokens of one app (`client_id`/`client_secret`)."""

    def __init__(self, register: RegisterToken, *, app_id: str) -> None:
        self._register = register
        self._app_id = app_id
        self.client_id: str | None = None
        self._client_secret: str | None = None
        self.token_rotation = False
        self.expires_in = 43_200
        self._codes: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._serial = itertools.count(1)
        self.issued: list[IssuedToken] = []
        """Every bot token issued, in order (installs and rotations)."""

    def configure(
        self,
        client_id: str,
        client_secret: str,
        *,
        token_rotation: bool = False,
        expires_in: int = 43_200,
    ) -> None:
        """The app's credentials; with `token_rotation`, tokens last `expires_in` seconds."""
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_rotation = token_rotation
        self.expires_in = expires_in

    def approve(
        self,
        team_id: str | None,
        *,
        installer: str,
        team_name: str | None = None,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        is_enterprise_install: bool = False,
    ) -> str:
        """A user approves the install on slack.com; returns the code for the redirect."""
        serial = next(self._serial)
        code = f"code-{serial}"
        self._codes[code] = _Grant(
            team_id=None if is_enterprise_install else team_id,
            team_name=team_name or (team_id and team_id.lower()),
            enterprise_id=enterprise_id,
            enterprise_name=enterprise_name or (enterprise_id and enterprise_id.lower()),
            is_enterprise_install=is_enterprise_install,
            installer=installer,
            bot_user_id=f"UBOT{serial}",
            bot_id=f"BBOT{serial}",
        )
        return code

    def tokens_for(self, team_id: str | None, enterprise_id: str | None = None) -> list[str]:
        """Every bot token issued to an installation, oldest first."""
        return [
            t.token
            for t in self.issued
            if t.team_id == team_id and (enterprise_id is None or t.enterprise_id == enterprise_id)
        ]

    def access(self, args: dict[str, Any], authorization: str | None) -> dict[str, Any]:
        """`oauth.v2.access`: a code (install) or a refresh token (rotation) for a bot token."""
        client_id, client_secret = _basic(authorization) or (
            args.get("client_id"),
            args.get("client_secret"),
        )
        if self.client_id is None or client_id != self.client_id:
            raise OAuthFailure("invalid_client_id")
        if client_secret != self._client_secret:
            raise OAuthFailure("bad_client_secret")
        if args.get("grant_type") == "refresh_token":
            grant = self._refresh.get(str(args.get("refresh_token")))
            if grant is None:
                raise OAuthFailure("invalid_refresh_token")
            return self._token_answer(grant, install=False)
        grant = self._codes.pop(str(args.get("code")), None)  # a code is good once
        if grant is None:
            raise OAuthFailure("invalid_code")
        return self._token_answer(grant, install=True)

    def _token_answer(self, grant: _Grant, *, install: bool) -> dict[str, Any]:
        serial = next(self._serial)
        owner = grant.team_id or grant.enterprise_id
        prefix = "xoxe.xoxb-1" if self.token_rotation else "xoxb"
        issued = IssuedToken(
            token=f"{prefix}-{owner}-{serial}-standin",
            team_id=grant.team_id,
            enterprise_id=grant.enterprise_id,
            is_enterprise_install=grant.is_enterprise_install,
            bot_user_id=grant.bot_user_id,
            bot_id=grant.bot_id,
            expires_at=time.time() + self.expires_in if self.token_rotation else None,
        )
        self.issued.append(issued)
        self._register(issued)
        answer: dict[str, Any] = {"access_token": issued.token, "token_type": "bot"}
        if self.token_rotation:
            refresh = f"xoxe-1-{owner}-{serial}-refresh"
            self._refresh[refresh] = grant
            answer.update(refresh_token=refresh, expires_in=self.expires_in)
        if not install:
            return answer
        return {
            **answer,
            "scope": BOT_SCOPES,
            "bot_user_id": grant.bot_user_id,
            "app_id": self._app_id,
            "team": {"id": grant.team_id, "name": grant.team_name} if grant.team_id else None,
            "enterprise": (
                {"id": grant.enterprise_id, "name": grant.enterprise_name}
                if grant.enterprise_id
                else None
            ),
            "is_enterprise_install": grant.is_enterprise_install,
            "authed_user": {"id": grant.installer},
        }


def _basic(header: str | None) -> tuple[str, str] | None:
    """The client id and secret of an `Authorization: Basic` header (how slack_sdk sends them)."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except ValueError:
        return None
    client_id, _, client_secret = decoded.partition(":")
    return client_id, client_secret
