"""Until the root conftest lists `tests.simulator.fixtures` as a plugin, import its fixture here."""

from tests.simulator.fixtures import simulator

__all__ = ["simulator"]
