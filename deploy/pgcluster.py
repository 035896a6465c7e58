"""A private PostgreSQL cluster run with the server's own ``initdb`` and ``pg_ctl``.

Used by the tests (a throw-away server in a temporary directory) and by
``python -m deploy.run_cluster`` (a local cluster kept under ``var/cluster``).
It needs nothing but the PostgreSQL server programs: on Debian
``apt-get install postgresql`` puts them in ``/usr/lib/postgresql/<version>/bin``
(not on PATH); Debian's own service cluster is neither needed nor touched.

PostgreSQL refuses to run as root: when this process is root, the programs run
as the ``postgres`` operating-system user (``runuser``, else ``su``), and the
directories they use are handed to that user.

The cluster listens on 127.0.0.1 only, with trust authentication (initdb
``--auth=trust``): fine for a test or a look at the province setup on one
machine, never for a real deployment (see docs/deployment.md).
"""
from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: the operating-system user the server runs as when we are root (Debian's package creates it)
SERVER_OS_USER = "postgres"
#: the database superuser initdb creates (the URL's user name)
SUPERUSER = "postgres"
#: unix socket paths longer than this do not fit in sockaddr_un (108 bytes with the file name)
_SOCKET_DIR_MAX = 80


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why in one line."""


def find_programs() -> tuple[Path, Path]:
    """(initdb, pg_ctl): from PATH, else the newest ``/usr/lib/postgresql/*/bin``."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb), Path(pg_ctl)

    def version(d: str) -> tuple:
        return tuple(int(x) for x in re.findall(r"\d+", Path(d).parent.name))

    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        i, p = Path(d, "initdb"), Path(d, "pg_ctl")
        if i.exists() and p.exists():
            return i, p
    raise ClusterUnavailable("PostgreSQL server programs (initdb, pg_ctl) not found on PATH or in "
                             "/usr/lib/postgresql/*/bin; install them with: apt-get install postgresql")


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def as_server_user(cmd: list[str]) -> list[str]:
    """``cmd`` run as the ``postgres`` OS user when we are root, else as it is."""
    if not is_root():
        return cmd
    try:
        import pwd

        pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        raise ClusterUnavailable(f"running as root and there is no '{SERVER_OS_USER}' OS user to run "
                                 "the server as (PostgreSQL refuses root)") from None
    if shutil.which("runuser"):
        return ["runuser", "-u", SERVER_OS_USER, "--", *cmd]
    return ["su", SERVER_OS_USER, "-s", "/bin/sh", "-c", shlex.join(cmd)]


def hand_to_server_user(path: Path) -> None:
    """When root: give ``path`` (recursively) to the ``postgres`` user and check it can reach it."""
    if not is_root():
        return
    import pwd

    pw = pwd.getpwnam(SERVER_OS_USER)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)
    probe = subprocess.run(as_server_user(["test", "-w", str(path)]), capture_output=True, cwd="/")
    if probe.returncode != 0:
        raise ClusterUnavailable(f"the '{SERVER_OS_USER}' OS user cannot reach {path} (a parent directory "
                                 "is closed to it); choose a directory it can enter")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], what: str, log: Path | None = None, timeout: float = 120) -> None:
    try:
        r = subprocess.run(as_server_user(cmd), capture_output=True, text=True, cwd="/", timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ClusterUnavailable(f"{what} did not finish within {timeout:.0f} s") from None
    if r.returncode != 0:
        detail = (r.stderr or r.stdout).strip().splitlines()
        if log is not None and log.exists():
            detail += log.read_text(errors="replace").strip().splitlines()[-3:]
        raise ClusterUnavailable(f"{what} failed: " + " | ".join(detail[-4:]))


@dataclass
class Cluster:
    """A cluster in ``data_dir``, listening on 127.0.0.1:``port``."""
    data_dir: Path
    port: int
    #: directory of the unix socket (None: TCP only)
    socket_dir: Path | None = None
    #: tests only: no fsync, no synchronous commit (a crash may lose the cluster)
    fast: bool = False

    def __post_init__(self):
        self.data_dir = Path(self.data_dir)
        self.initdb, self.pg_ctl = find_programs()

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def exists(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb: UTF-8, C collation (byte order, as DuckDB sorts), trust on loopback."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        hand_to_server_user(self.data_dir)
        cmd = [str(self.initdb), "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust",
               "--encoding=UTF8", "--locale=C"]
        if self.fast:
            cmd.append("--no-sync")
        _run(cmd, "initdb")

    def start(self, timeout: float = 60) -> None:
        """pg_ctl start -w: returns when the server accepts connections."""
        sock = ""
        if self.socket_dir is not None and len(str(self.socket_dir)) <= _SOCKET_DIR_MAX:
            sock = str(self.socket_dir)
            Path(sock).mkdir(parents=True, exist_ok=True)
            hand_to_server_user(Path(sock))
        opts = [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories='{sock}'"]
        if self.fast:
            opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self.log_file.touch()
        hand_to_server_user(self.log_file)
        _run([str(self.pg_ctl), "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", str(int(timeout)),
              "-o", " ".join(opts), "start"], "pg_ctl start", log=self.log_file, timeout=timeout + 10)

    def running(self) -> bool:
        r = subprocess.run(as_server_user([str(self.pg_ctl), "-D", str(self.data_dir), "status"]),
                           capture_output=True, cwd="/")
        return r.returncode == 0

    def stop_command(self) -> list[str]:
        """pg_ctl stop -m fast (open sessions are disconnected), as the server's user."""
        return as_server_user([str(self.pg_ctl), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])

    def stop(self) -> None:
        """Stop the server; quiet when it is not running."""
        if self.exists() and self.running():
            subprocess.run(self.stop_command(), capture_output=True, cwd="/", timeout=60)
