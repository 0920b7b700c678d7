"""The load generator: signed slash commands at a fixed rate, from a process of its own.

Open loop: request *i* is sent at `start + i / rate` whether or not earlier ones were answered,
as Slack does, so a slow server shows up as latency instead of hiding it by sending less. The
time measured is the HTTP exchange as this client sees it (send to full response).

    python -m benchmarks.loadgen PLAN.json RESULT.json

PLAN: {"url", "signing_secret", "team_id", "rate", "warmup", "requests": [{"kind", "text",
"channel", "user", "response_url"}]}. RESULT: {"samples": [{"kind", "ms", "status"}]}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bot.devtools.slack_requests import SlackRequestSender

TIMEOUT = 10.0


async def run_plan(plan: dict[str, Any]) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(timeout=TIMEOUT, limits=limits) as http:
        sender = SlackRequestSender(
            plan["url"], plan["signing_secret"], team_id=plan["team_id"], http=http
        )
        requests = plan["requests"]
        for item in requests[: plan.get("warmup", 0)]:  # connections and caches, not counted
            await _send(sender, {**item, "kind": "warmup"})
        measured = requests[plan.get("warmup", 0) :]
        interval = 1.0 / float(plan["rate"])
        start = time.perf_counter() + 0.05

        async def timed(index: int, item: dict[str, Any]) -> dict[str, Any]:
            delay = start + index * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            return await _send(sender, item)

        return list(await asyncio.gather(*(timed(i, r) for i, r in enumerate(measured))))


async def _send(sender: SlackRequestSender, item: dict[str, Any]) -> dict[str, Any]:
    began = time.perf_counter()
    status: int | str
    try:
        response = await sender.slash_command(
            item["text"],
            user_id=item["user"],
            channel_id=item["channel"],
            response_url=item["response_url"],
        )
        status = response.status_code
    except httpx.HTTPError as exc:
        status = f"error: {type(exc).__name__}"
    return {"kind": item["kind"], "ms": (time.perf_counter() - began) * 1000, "status": status}


def main(argv: list[str]) -> int:
    plan = json.loads(Path(argv[0]).read_text())
    samples = asyncio.run(run_plan(plan))
    Path(argv[1]).write_text(json.dumps({"samples": samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
