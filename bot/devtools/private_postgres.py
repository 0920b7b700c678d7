"""A PostgreSQL server of a test's own, which the test may stop and start at will.

Fault tests stop the database mid-traffic; doing that to a shared server would break every
other test using it. So this makes a throwaway cluster: `initdb` into a temporary directory,
then `pg_ctl` on a free loopback port with its socket in that directory. Nothing outside the
directory is touched, and `remove()` deletes it.

PostgreSQL refuses to run as root, so under root (CI) the server runs as the `postgres`
system user, through `runuser` (or `su`), and the directory is handed to that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bot.devtools.ports import free_port

SERVER_USER = "postgres"
START_TIMEOUT = 30


def find_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's `bin` with `initdb` and `pg_ctl`, or None."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def unavailable_reason() -> str | None:
    """Why a private cluster cannot be made here (for a skip), or None when it can."""
    if find_bin_dir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL"
        if not (shutil.which("runuser") or shutil.which("su")):
            return "running as root and neither runuser nor su is available"
    return None


@dataclass
class PrivatePostgres:
    bin_dir: Path
    root: Path
    port: int
    _frozen: list[int] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def create(cls) -> PrivatePostgres:
        """A new, initialised cluster (not started yet) in a new temporary directory."""
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server binaries")
        root = Path(tempfile.mkdtemp(prefix="skyvia-pg-"))
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(root, user.pw_uid, user.pw_gid)
        cluster = cls(bin_dir, root, free_port())
        try:
            cluster._run(
                "initdb",
                "-D",
                str(cluster.data_dir),
                "-U",
                SERVER_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            )
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cluster

    def start(self) -> None:
        """Starts the server and waits until it accepts connections."""
        # No fsync: the machine does not crash, the server does, and what a COMMIT wrote is in
        # the kernel's cache by then. `synchronous_commit` stays on: without it an immediate
        # stop loses transactions the client was told had committed.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            str(START_TIMEOUT),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stops the server: `fast` (disconnects clients) or `immediate` (as in a crash)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def freeze(self) -> None:
        """SIGSTOP to the server and every backend: a hung server, as behind a dead network.

        Connections still open at the TCP level and queries still go out, but nothing answers:
        only the clients' own timeouts end the wait. `thaw()` undoes it.
        """
        self._frozen = self._server_pids()
        for pid in self._frozen:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._frozen = []

    def _server_pids(self) -> list[int]:
        """The postmaster (from `postmaster.pid`) and its children (from /proc)."""
        postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        pids = [postmaster]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                # "pid (comm) state ppid ...": comm may hold spaces, so split after ")".
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    pids.append(int(stat.parent.name))
        return pids

    def is_running(self) -> bool:
        status = self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False)
        return status.returncode == 0

    def remove(self) -> None:
        """Stops the server if it runs and deletes the cluster's directory."""
        self.thaw()
        if self.data_dir.exists() and self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _run(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            if shutil.which("runuser"):
                command = ["runuser", "-u", SERVER_USER, "--", *command]
            else:
                command = ["su", SERVER_USER, "-c", shlex.join(command)]
        result = subprocess.run(  # noqa: S603 - our own PostgreSQL binaries
            command, capture_output=True, text=True, timeout=START_TIMEOUT + 30, check=False
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({result.returncode}): {result.stderr or result.stdout}\n"
                f"{self.log_tail()}"
            )
        return result
