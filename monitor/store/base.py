"""The connection, its transactions and the migrations."""

from __future__ import annotations

import sqlite3
import tempfile
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Sequence

from monitor.errors import StoreError
from monitor.store.schema import MIGRATIONS

BUSY_TIMEOUT = 30.0   # seconds a writer waits for another process's transaction


def _folder_fault(path: Path) -> str | None:
    """Why SQLite could not open ``path``, when the cause is its folder (SQLite says only
    "unable to open database file")."""
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return (f"the folder {folder} is not writable by this user: monitor needs to write the database "
                "and its -wal and -shm files there")
    return None


def copy_database(source: Path, dest: Path) -> None:
    """Copy the database at ``source`` (if there is one) to ``dest``, consistent even while another
    process writes to it; ``source`` itself is only read (``check --dry-run`` works on the copy)."""
    if not source.exists():
        return
    try:
        with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)) as src, \
                closing(sqlite3.connect(dest)) as out:
            src.backup(out)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read database {source}: {exc}") from None


def ts(moment: datetime) -> float:
    return moment.timestamp()


class Database:
    def __init__(self, path: Path | str, *, create: bool = True):
        """``create=False``: a missing file is an error (a mistyped path), not a new, empty database."""
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(f"no database at {self.path}: monitor check or monitor run creates it; "
                             "is the path right?")
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()   # with foreign keys off: a migration may rebuild a referenced table
            self._db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {_folder_fault(self.path) or exc}") from None

    def close(self) -> None:
        self._db.close()

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path}: {exc}") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: other writers wait for it, readers never do."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path}: {exc}") from None
        try:
            yield self._db
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(f"database {self.path}: {exc}") from exc
        except BaseException:
            self._rollback()
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(f"database {self.path}: {exc}") from None

    def _rollback(self) -> None:
        """After a failed statement or COMMIT: SQLite may have rolled back already (a disk I/O error
        does), and a ROLLBACK then would raise past the StoreError that says what went wrong."""
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _migrate(self) -> None:
        latest = MIGRATIONS[-1][0]
        with self._write() as db:
            current = db.execute("PRAGMA user_version").fetchone()[0]
            if current > latest:
                raise StoreError(
                    f"database {self.path} has schema version {current}; this monitor knows up to {latest}"
                )
            for version, _name, migrate in MIGRATIONS:
                if version > current:
                    migrate(db)
                    db.execute(f"PRAGMA user_version = {version:d}")
            if current < latest and db.execute("PRAGMA foreign_key_check").fetchone():
                raise StoreError(f"database {self.path}: migration left dangling references")

