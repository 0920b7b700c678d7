"""`skyvia-bot simulator`: serve the simulator until SIGTERM or Ctrl-C.

`add_arguments` and `run` are wired into the main CLI by `bot/cli.py`; `python -m bot.simulator`
runs the same thing standalone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from bot.simulator.server import running_simulator
from bot.simulator.state import DEFAULT_SCHEDULE_INTERVAL, SimulatorState


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port, 0 for any (default: 8081)")
    parser.add_argument(
        "--token",
        action="append",
        default=None,
        metavar="T",
        help="a valid access token (repeatable; default: $SKYVIA_API_TOKEN, else simulator-token)",
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="clock speed: 100 makes a 20 s run take 0.2 s"
    )
    parser.add_argument("--seed", metavar="FILE", help="JSON file of workspaces and backups")
    parser.add_argument(
        "--schedule-interval",
        type=float,
        default=DEFAULT_SCHEDULE_INTERVAL,
        metavar="SECONDS",
        help="simulated seconds between scheduled runs; 0 disables them (default: 3600)",
    )
    parser.add_argument(
        "--fail-next",
        type=int,
        action="append",
        default=[],
        metavar="BACKUP_ID",
        help="make the next snapshot of this backup fail (repeatable)",
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, metavar="SECONDS", help="delay every answer"
    )
    parser.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="answer --error-status to this fraction of API calls (default: 0)",
    )
    parser.add_argument(
        "--error-status", type=int, default=500, choices=(429, 500, 502, 503), help="(default 500)"
    )


def build_state(args: argparse.Namespace) -> SimulatorState:
    """The state the flags describe; raises ValueError on a bad seed or value."""
    state = SimulatorState(
        speed=args.speed,
        tokens=args.token,
        seed=args.seed,
        schedule_interval=args.schedule_interval or None,
        random_seed=None,
    )
    for backup_id in args.fail_next:
        state.fail_next(backup_id)
    if args.latency:
        state.add_latency(args.latency)
    if args.error_rate:
        state.inject_errors(args.error_status, rate=args.error_rate)
    return state


def _token_note(args: argparse.Namespace, token: str) -> str:
    """Echo a token from the command line or the built-in one, never one taken from the env."""
    if args.token is None and os.environ.get("SKYVIA_API_TOKEN", "").strip():
        return "the value of SKYVIA_API_TOKEN"
    return token


async def _serve(args: argparse.Namespace, state: SimulatorState) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running_simulator(host=args.host, port=args.port, state=state) as sim:
            print(f"Skyvia simulator serving {sim.base_url}", flush=True)
            print(f"Access token: {_token_note(args, sim.token)}", flush=True)
            print(f"Admin API: {sim.admin_url}  (Ctrl-C to stop)", flush=True)
            await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("Skyvia simulator stopped", flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; 0 on a clean stop, 2 on bad flags or a busy port."""
    try:
        state = build_state(args)
    except ValueError as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(args, state))
    except OSError as exc:
        print(
            f"simulator: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr
        )
        return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.simulator", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
