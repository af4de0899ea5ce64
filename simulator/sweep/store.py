"""The result store: one JSON-lines file per (scheme spec, data set[, channel]), one row per
(image, SNR, realisation), and the lock that keeps it to one writer.

Layout: ``<results_dir>/<dataset>/<slug>.jsonl`` where the slug is the scheme spec with
characters unsafe in file names replaced (``bpg-ldpc-1/2`` → ``bpg-ldpc-1_2``,
``ours:steps=2`` → ``ours_steps=2``).  The row fields and the resume rules are described
in ``docs/results-format.md``.

Crash safety: rows are appended with one ``os.write`` of complete lines followed by
``fsync``; a reader ignores a last line without its newline (a write cut short), and the
next append cuts that partial line off first.  Whole-file rewrites go through a temporary
file and ``os.replace``.

One writer: :func:`store_lock` takes an exclusive ``flock`` on ``.<file>.lock`` beside each
result file for the whole sweep; a second sweep of the same file stops at once with
:class:`StoreLockedError` naming the holder (the lock dies with its process, so a killed
sweep never leaves a stale lock).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import json
import os
import re
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

__all__ = [
    "ResultsError",
    "StoreLockedError",
    "ResultStore",
    "scheme_slug",
    "result_path",
    "config_hash",
    "point_key",
    "row_key",
    "row_version",
    "read_rows",
    "dedupe_rows",
    "latest_config_rows",
    "store_lock",
]


class ResultsError(RuntimeError):
    """A result file cannot be read (a corrupt line that is not the last one)."""


def scheme_slug(spec: str) -> str:
    """File-name-safe form of a scheme spec: ``bpg-ldpc-1/2`` → ``bpg-ldpc-1_2``."""
    slug = re.sub(r"[^A-Za-z0-9._=+-]", "_", spec.strip())
    if not slug.strip("._"):
        raise ValueError(f"scheme spec {spec!r} gives an empty file name")
    return slug


def result_path(results_dir: str | os.PathLike, dataset: str, spec: str) -> Path:
    """``<results_dir>/<dataset>/<slug>.jsonl``."""
    return Path(results_dir) / dataset / f"{scheme_slug(spec)}.jsonl"


def config_hash(config: dict[str, Any], checkpoint_hash: str | None, implementation_version: int = 1) -> str:
    """16 hex digits identifying a scheme's behaviour: its config, its weights and its code
    version (``Scheme.implementation_version``; version 1 leaves the hash as it was before
    versions existed, so rows stored then keep matching)."""
    payload: dict[str, Any] = {"config": config, "checkpoint_hash": checkpoint_hash}
    if implementation_version != 1:
        payload["implementation_version"] = int(implementation_version)
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def row_version(row: dict[str, Any]) -> int:
    """The scheme implementation version a row was made with (1 for rows without the field)."""
    return int(row.get("implementation_version", 1))


def point_key(image_id: str, snr_db: float, realization: int, seed: int) -> tuple[str, float, int, int]:
    """One Monte-Carlo point, independent of the scheme's configuration."""
    return (str(image_id), round(float(snr_db), 6), int(realization), int(seed))


def row_key(row: dict[str, Any]) -> tuple[str, float, int, int, str]:
    """Dedupe key of a row: (image_id, snr_db, realization, seed, config_hash)."""
    return (*point_key(row["image_id"], row["snr_db"], row["realization"], row["seed"]), row["config_hash"])


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete rows of a result file (``[]`` if it does not exist).

    A last line without a trailing newline (a write interrupted by a kill) is ignored.

    :raises ResultsError: naming the file and line of any other line that is not JSON.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    *complete, _partial = data.split(b"\n")
    rows = []
    for number, line in enumerate(complete, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ResultsError(f"{path}:{number}: not a JSON row ({exc}); fix or delete the line") from exc
        if not isinstance(row, dict):
            raise ResultsError(f"{path}:{number}: a row must be a JSON object")
        rows.append(row)
    return rows


def _encode_rows(rows: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row, default=str).encode() + b"\n" for row in rows)


class ResultStore:
    """Append-only JSON-lines file of result rows (single writer at a time)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def load(self) -> list[dict[str, Any]]:
        """The file's complete rows, see :func:`read_rows`."""
        return read_rows(self.path)

    def _cut_partial_line(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0:
            return
        with open(self.path, "rb+") as f:
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            f.seek(0)
            data = f.read()
            f.truncate(data.rfind(b"\n") + 1)
            f.flush()
            os.fsync(f.fileno())

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Append rows durably: one write of complete lines, then ``fsync``."""
        if not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cut_partial_line()
        data = memoryview(_encode_rows(rows))
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def rewrite(self, rows: list[dict[str, Any]]) -> None:
        """Replace the whole file atomically (temporary file + ``os.replace``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_encode_rows(rows))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def dedupe_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per :func:`row_key`, the last one written winning, in first-seen order."""
    by_key: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        by_key[row_key(row)] = row
    return list(by_key.values())


def latest_config_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scheme spec and data set, only the rows of the configuration written last
    (older weights or settings left in a file are not mixed into a curve)."""
    rows = list(rows)
    latest = {(r["spec"], r["dataset"]): r["config_hash"] for r in rows}
    return [r for r in rows if r["config_hash"] == latest[(r["spec"], r["dataset"])]]


class StoreLockedError(ResultsError):
    """Another process holds the lock of a result file (one line naming the holder)."""


def _lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


def _holder(lock: Path) -> str:
    try:
        info = json.loads(lock.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    return (f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')} "
            f"({info.get('command', '?')})")


def _acquire(path: Path) -> int:
    """An fd holding ``flock(LOCK_EX)`` on the lock file of ``path``, with the holder written in it."""
    lock = _lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLockedError(f"{path} is being written by {_holder(lock)}; wait for that sweep "
                                   "to end, or sweep other schemes") from None
        try:  # the holder may have removed the file between our open and flock: lock the new one
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    info = {"pid": os.getpid(), "host": socket.gethostname(),
            "since": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join([os.path.basename(sys.argv[0] or "python"), *sys.argv[1:]])[:200]}
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(info).encode())
    return fd


@contextlib.contextmanager
def store_lock(paths: Iterable[str | os.PathLike]) -> Iterator[None]:
    """Hold the write lock of every result file in ``paths`` (taken in sorted order, all or none).

    :raises StoreLockedError: one line naming the file and the process holding it.
    """
    held: list[tuple[Path, int]] = []
    try:
        for path in sorted({Path(p).resolve() for p in paths}):
            held.append((path, _acquire(path)))
        yield
    finally:
        for path, fd in reversed(held):
            with contextlib.suppress(FileNotFoundError):
                _lock_path(path).unlink()
            os.close(fd)
