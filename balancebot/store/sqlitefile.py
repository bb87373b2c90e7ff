"""The SQLite file as a thing on disk: private permissions, one daemon at a time, and
noticing when it is deleted or replaced under a running daemon (which would otherwise
keep writing to an unlinked inode and lose everything at the next restart)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import StoreError

PRIVATE = 0o600
SIDE_FILES = ("-wal", "-shm", "-journal")


def prepare(path: Path) -> None:
    """Refuse paths SQLite would only answer vaguely about; create the file 0600, so its
    -wal and -shm files (SQLite gives them the database's mode) are private too."""
    if path.is_dir():
        raise StoreError(f"cannot open the store: {path} is a directory, not a database file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = path.parent
        raise StoreError(f"cannot create the store's directory {where}: {exc.strerror}") from exc
    if not path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        raise StoreError(f"cannot create the store in {path.parent}: permission denied")
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE))
    except OSError as exc:
        raise StoreError(f"cannot open the store file {path}: {exc.strerror}") from exc
    for name in ("", *SIDE_FILES):
        private(Path(f"{path}{name}"))


def private(path: Path) -> None:
    """Owner-only, for state files made before balancebot created them 0600."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(PRIVATE)
    except OSError:  # missing, or not ours: nothing to tighten
        pass


class DatabaseFile:
    """The file's identity at open, checked before every write batch; optionally the
    exclusive lock that keeps a second daemon off the same file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        stat = path.stat()
        self._identity = (stat.st_dev, stat.st_ino)
        self._lock: int | None = None

    def lock(self) -> None:
        lock_path = Path(f"{self.path}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, PRIVATE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(
                f"another balancebot is already running on {self.path} "
                f"(it holds {lock_path}); stop it first, or give this one its own store"
            ) from None
        private(lock_path)
        self._lock = fd

    @property
    def locked(self) -> bool:
        return self._lock is not None

    def unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing releases the flock
            self._lock = None

    def check(self) -> None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise StoreError(f"the database file {self.path} was deleted while running") from None
        if (stat.st_dev, stat.st_ino) != self._identity:
            raise StoreError(f"the database file {self.path} was replaced while running")
