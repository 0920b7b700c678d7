"""The column types and the declarative base every table of `storage.models` shares.

Kept apart so the models module holds only tables; `storage.models` re-exports `Base`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names, so later migrations can address them on both dialects.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SlackId = String(32)
LeaseOwner = String(128)
# 64-bit ids for tables that grow with traffic; SQLite only autoincrements an INTEGER primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Skyvia's workspace, backup and snapshot ids: documented as int32, stored as 64-bit so a counter
# that outgrows int32 is a new row, not a refused insert (a lost reply or alert). SQLite's INTEGER
# is 64-bit already.
SkyviaId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
