"""One Skyvia API call: what it sends, and what its answer means.

`Call` names the endpoint and the ids a failure should carry; `interpret` maps a response to a
parsed result or to the typed error of `bot.skyvia.errors` that its status means (401/403 auth,
404 not found, 429 rate limited with Retry-After, 5xx unavailable). The client decides about
sending and retrying; this module only reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from bot.clock import utcnow
from bot.skyvia.errors import (
    SkyviaAuthError,
    SkyviaBadResponse,
    SkyviaError,
    SkyviaNotFound,
    SkyviaRateLimited,
    SkyviaUnavailable,
)

M = TypeVar("M")


@dataclass(frozen=True)
class Call:
    """One logical API call: what to send, and what to put in an error if it fails."""

    method: str
    template: str
    workspace_id: int | None = None
    backup_id: int | None = None
    snapshot_id: int | None = None
    params: Mapping[str, str | int] | None = None
    json_body: Any = None

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.template}"

    def path(self) -> str:
        return self.template.format(
            workspaceId=self.workspace_id, backupId=self.backup_id, snapshotId=self.snapshot_id
        )

    def error(self, cls: type[SkyviaError], message: str, status: int | None = None) -> SkyviaError:
        return cls(
            message,
            endpoint=self.endpoint,
            workspace_id=self.workspace_id,
            backup_id=self.backup_id,
            snapshot_id=self.snapshot_id,
            status=status,
        )


def interpret(
    token: str,
    call: Call,
    response: httpx.Response,
    parse: Callable[[Any], M],
    none_if_missing: bool,
) -> M:
    """Maps one response to a parsed result or to the typed error its status means."""
    status = response.status_code
    if none_if_missing and status in (204, 404):
        return parse(None)
    if 200 <= status < 300:
        try:
            body = response.json() if response.content.strip() else None
            return parse(body)
        except (ValueError, ValidationError, TypeError) as exc:
            raise call.error(
                SkyviaBadResponse,
                f"Skyvia answered {status} with an unexpected body ({type(exc).__name__})",
                status,
            ) from None
    detail = _error_detail(response, token)
    if status in (401, 403):
        raise call.error(SkyviaAuthError, f"Skyvia rejected the access token{detail}", status)
    if status == 404:
        raise call.error(SkyviaNotFound, f"Not found in Skyvia{detail}", status)
    if status == 429:
        retry_after = _parse_retry_after(response.headers.get("Retry-After"))
        raise SkyviaRateLimited(
            f"Skyvia rate limit{detail}",
            retry_after=retry_after,
            endpoint=call.endpoint,
            workspace_id=call.workspace_id,
            backup_id=call.backup_id,
            snapshot_id=call.snapshot_id,
            status=status,
        )
    if status >= 500:
        raise call.error(SkyviaUnavailable, f"Skyvia server error{detail}", status)
    raise call.error(SkyviaBadResponse, f"Skyvia answered {status}{detail}", status)


def _error_detail(response: httpx.Response, token: str) -> str:
    """Skyvia's own error message, short, with the token scrubbed should it ever be echoed."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message.strip():
        return ""
    message = " ".join(message.split())[:200]
    if token:
        message = message.replace(token, "***")
    return f": {message}"


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date; anything else is ignored."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utcnow()).total_seconds())
