"""A local, stateful Skyvia Backups API for tests, benchmarks and a first try.

What it serves and how to drive it: docs/reference/configuration.md#the-skyvia-simulator.
"""

from bot.simulator.server import RunningSimulator, running_simulator
from bot.simulator.state import SimulatorState
from bot.simulator.tokens import DEFAULT_TOKEN

__all__ = ["DEFAULT_TOKEN", "RunningSimulator", "SimulatorState", "running_simulator"]
