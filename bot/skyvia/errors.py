"""Typed Skyvia failures a caller can act on.

Each carries the endpoint and the ids involved so that a message or a log line can say what
failed; none ever carries the token (the client never passes it in).
"""

from __future__ import annotations


class SkyviaError(Exception):
    """Base class; `str()` is safe to log."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        workspace_id: int | None = None,
        backup_id: int | None = None,
        snapshot_id: int | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.workspace_id = workspace_id
        self.backup_id = backup_id
        self.snapshot_id = snapshot_id
        self.status = status

    def __str__(self) -> str:
        ids = ", ".join(
            f"{name}={value}"
            for name, value in (
                ("workspace", self.workspace_id),
                ("backup", self.backup_id),
                ("snapshot", self.snapshot_id),
                ("status", self.status),
            )
            if value is not None
        )
        where = f" [{self.endpoint}{'; ' + ids if ids else ''}]" if self.endpoint or ids else ""
        return f"{self.message}{where}"


class SkyviaAuthError(SkyviaError):
    """401/403: the token is bad, expired, or does not cover the workspace."""


class SkyviaNotFound(SkyviaError):
    """404: the workspace, backup or snapshot does not exist (for this token)."""


class SkyviaRateLimited(SkyviaError):
    """429 after retries; `retry_after` is Skyvia's hint in seconds, when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class SkyviaUnavailable(SkyviaError):
    """5xx, timeouts and connection errors after retries."""


class SkyviaBadResponse(SkyviaError):
    """A 2xx body that does not parse as the documented shape, or an unexpected status."""


def will_not_heal(exc: SkyviaError) -> bool:
    """A refusal of this snapshot that asking again will not change: 404, or another 4xx.

    401/403 (the token) and 429 (the load) are told apart before this is asked.
    """
    if isinstance(exc, SkyviaNotFound):
        return True
    return isinstance(exc, SkyviaBadResponse) and exc.status is not None and 400 <= exc.status < 500
