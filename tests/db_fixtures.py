"""Database fixtures (owned by storage; filled in by the storage work)."""
