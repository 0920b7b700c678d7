"""What the simulator holds at start: the default workspaces and backups, or a JSON seed file.

The defaults are the team's running example (workspace 123, backup 456 "Nightly CRM") plus names
that break naive Slack rendering (`<!channel> & co`, `*`, `_`, emoji), so every screen of the bot
meets them in a first try.

Seed file format (all keys but `id` optional)::

    {"workspaces": [{"id": 123, "name": "Operations", "isPersonal": false,
                     "backups": [{"id": 456, "name": "Nightly CRM", "scheduled": true,
                                  "runSeconds": 20, "history": 6, "failRate": 0.0}]}]}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field


class SeedBackup(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    name: str | None = None
    scheduled: bool = False
    run_seconds: float = Field(default=20.0, alias="runSeconds", gt=0)
    history: int = Field(default=0, ge=0, le=10_000)
    fail_rate: float = Field(default=0.0, alias="failRate", ge=0, le=1)


class SeedWorkspace(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    name: str | None = None
    is_personal: bool = Field(default=False, alias="isPersonal")
    backups: list[SeedBackup] = Field(default_factory=list)


class Seed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workspaces: list[SeedWorkspace] = Field(default_factory=list)


def load_seed(source: str | Path | dict[str, Any] | Seed) -> Seed:
    """A seed from a file path, a parsed mapping or a `Seed`; raises ValueError if malformed."""
    if isinstance(source, Seed):
        return source
    if isinstance(source, dict):
        return Seed.model_validate(source)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read seed file {source}: {exc.strerror}") from None
    try:
        return Seed.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ValueError(f"seed file {source} is not JSON: {exc}") from None


def bulk_seed(
    workspaces: int,
    backups_per_workspace: int,
    *,
    scheduled_every: int = 2,
    history: int = 0,
    name_prefix: str = "Bulk",
) -> Seed:
    """Many workspaces of many backups, for benchmarks; every `scheduled_every`-th backup is
    scheduled (0: none)."""
    if workspaces < 0 or backups_per_workspace < 0:
        raise ValueError("counts must not be negative")
    return Seed(
        workspaces=[
            SeedWorkspace(
                name=f"{name_prefix} workspace {w + 1}",
                backups=[
                    SeedBackup(
                        name=f"{name_prefix} backup {w + 1}.{b + 1}",
                        scheduled=bool(scheduled_every) and b % scheduled_every == 0,
                        history=history,
                    )
                    for b in range(backups_per_workspace)
                ],
            )
            for w in range(workspaces)
        ]
    )


class BulkOptions(TypedDict, total=False):
    """`bulk_seed`'s options, as `SimulatorState.add_bulk` passes them on."""

    scheduled_every: int
    history: int
    name_prefix: str


def _backup(
    id: int, name: str, *, scheduled: bool, history: int = 6, run: float = 20.0
) -> SeedBackup:
    return SeedBackup(id=id, name=name, scheduled=scheduled, history=history, runSeconds=run)


def default_seed() -> Seed:
    return Seed(
        workspaces=[
            SeedWorkspace(
                id=123,
                name="Operations",
                backups=[
                    _backup(456, "Nightly CRM", scheduled=True, history=8),
                    _backup(457, "Salesforce <EU> & Marketing", scheduled=True),
                    _backup(458, "<!channel> & co", scheduled=False, history=3),
                    _backup(459, "*Bold* _italic_ ~strike~", scheduled=False),
                    _backup(460, "HubSpot contacts 🚀", scheduled=True, run=45.0),
                    _backup(461, "Zendesk tickets", scheduled=False, history=0),
                    _backup(462, "Jira > Confluence", scheduled=True, history=4),
                    _backup(463, "Weekly archive (all objects)", scheduled=False, run=90.0),
                ],
            ),
            SeedWorkspace(
                id=124,
                name="Finance sandbox",
                backups=[
                    _backup(501, "Ledger (QuickBooks)", scheduled=True),
                    _backup(502, "payroll_2024 * draft", scheduled=False, history=2),
                    _backup(503, "Invoices 💸 & credit notes", scheduled=True),
                    _backup(504, "Budget <test>", scheduled=False, history=0),
                ],
            ),
            SeedWorkspace(
                id=125,
                name="Dana's personal workspace",
                isPersonal=True,
                backups=[_backup(601, "Scratch", scheduled=False, history=1)],
            ),
        ]
    )


PAGING_WORKSPACE = 126
_PAGING_SYSTEMS = ("Salesforce", "HubSpot", "Zendesk", "Jira", "NetSuite", "Shopify")
_PAGING_OBJECTS = ("accounts", "contacts", "deals", "tickets")


def paging_seed() -> Seed:
    """A workspace of 24 backups (`skyvia-bot console` adds it): enough to page through
    `backups` (10 a page) and `health` (20 a page). Kept out of `default_seed`, whose eight
    backups the tests and the README's transcripts count on."""
    names = [f"{system} {obj}" for system in _PAGING_SYSTEMS for obj in _PAGING_OBJECTS]
    return Seed(
        workspaces=[
            SeedWorkspace(
                id=PAGING_WORKSPACE,
                name="Many backups",
                backups=[
                    _backup(700 + i, name, scheduled=i % 3 != 0, history=3)
                    for i, name in enumerate(names, start=1)
                ],
            )
        ]
    )


FAILURE_LOGS = (
    "Error: INVALID_SESSION_ID on object Account\n"
    "Session expired or invalid\n"
    "  at Salesforce.Bulk.QueryJob (object Account, batch 3 of 12)\n"
    "Rows read before the failure: 1,204\n"
    "Snapshot aborted after 3 of 14 objects.",
    "Error: REQUEST_LIMIT_EXCEEDED on object Opportunity\n"
    "TotalRequests Limit exceeded.\n"
    "The 24-hour API request limit of the source was reached; retry after it resets.",
    "Error: Connection timed out while reading object Contact (batch 7 of 12)\n"
    "  at Skyvia.Replication.Reader.ReadBatch()\n"
    "  at Skyvia.Backup.SnapshotRunner.Run()\n"
    "Rows read before the failure: 8,311",
    "Error: INSUFFICIENT_ACCESS on object Invoice__c\n"
    "The user does not have read access to field Amount__c.\n"
    "Check the permissions of the connection's user.",
)


def success_log(objects: int, rows: int) -> str:
    return f"Backup completed successfully.\n{objects} objects, {rows:,} records backed up."
