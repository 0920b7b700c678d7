"""The `simulator` fixture: a live simulator on loopback for one test.

Other areas use it with `pytest_plugins = ["tests.simulator.fixtures"]` in the root conftest.
Speed 50 turns a default 23 s run into about half a second; tokens are fixed to the built-in one
so that an exported `SKYVIA_API_TOKEN` cannot change what a test sees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.simulator import DEFAULT_TOKEN, RunningSimulator, running_simulator

SIMULATOR_SPEED = 50.0


@pytest.fixture
async def simulator() -> AsyncIterator[RunningSimulator]:
    async with running_simulator(speed=SIMULATOR_SPEED, tokens=[DEFAULT_TOKEN]) as sim:
        yield sim
