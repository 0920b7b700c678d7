"""What gets installed is what CI tested, and no allowed version has a published vulnerability.

pyproject's floors exclude the versions with known advisories; `requirements.lock` pins the
exact set CI installs (runtime and test extras), and every pin must satisfy pyproject, so the
lock cannot drift from what the package declares.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"

# For each package with a published advisory: the first version clear of all of them, and
# versions affected by one (e.g. aiohttp GHSA-w2fm-2cpv-w7v5 < 3.13.4, h11 CVE-2025-43859
# < 0.16, starlette GHSA-7f5h-v6xp-fcq8 < 0.49.1, cryptography CVE-2026-26007 < 46.0.5).
ADVISORIES = {
    "aiohttp": ("3.13.4", ["3.9.0", "3.12.13", "3.13.3"]),
    "h11": ("0.16.0", ["0.14.0", "0.15.0"]),
    "starlette": ("0.49.1", ["0.37.0", "0.47.1", "0.49.0"]),
    "cryptography": ("46.0.5", ["41.0.7", "42.0.0", "42.0.3", "46.0.4"]),
}


def _project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements(extra: str | None = None) -> dict[str, Requirement]:
    project = _project()
    raw = project["dependencies"] if extra is None else project["optional-dependencies"][extra]  # type: ignore[index]
    reqs = (Requirement(line) for line in raw)  # type: ignore[union-attr]
    return {canonicalize_name(r.name): r for r in reqs}


def _lock() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
        assert match, f"not an exact pin: {line!r}"
        pins[canonicalize_name(match.group(1).split("[")[0])] = Version(match.group(2))
    return pins


@pytest.mark.parametrize("name", list(ADVISORIES))
def test_no_allowed_version_has_a_published_vulnerability(name: str) -> None:
    requirement = _requirements().get(name)
    assert requirement is not None, f"{name} must be a declared dependency with a safe floor"
    fixed, affected = ADVISORIES[name]
    assert Version(fixed) in requirement.specifier, str(requirement)
    for version in affected:
        assert Version(version) not in requirement.specifier, f"{requirement} allows {version}"


def test_the_lock_pins_every_declared_dependency_within_its_range() -> None:
    pins = _lock()
    for extra in (None, "test"):
        for name, requirement in _requirements(extra).items():
            assert name in pins, f"{name} is not in requirements.lock"
            assert pins[name] in requirement.specifier, f"{name}=={pins[name]} vs {requirement}"


def test_ci_installs_the_lock_then_the_package_without_resolving_again() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -q -r requirements.lock" in ci
    assert "pip install -q --no-deps -e ." in ci
    assert "pip check" in ci
    assert ci.index("-r requirements.lock") < ci.index("--no-deps -e .")
