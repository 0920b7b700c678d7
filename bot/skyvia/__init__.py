"""The Skyvia Backups API client: httpx with retries, pydantic models and typed errors.

It imports nothing of ours but the clock and the log context: every layer above may use it.
"""
