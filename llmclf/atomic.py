"""Atomic file writes: a reader sees the old file or the whole new one, never a half-written one."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_writer", "check_writable", "is_read_only", "refuse_to_replace"]

STALE_SECONDS = 3600  # a temp file of an unknown writer this old is left over from a crash


@contextmanager
def atomic_writer(path: str | os.PathLike[str], follow: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through: a temporary file beside it, synced and renamed over it at the end.

    What :func:`check_writable` finds unwritable (a folder, a file nobody may write to, a folder that is a file) is
    refused before anything is written, and an error making the temporary file names ``path``, not that file.
    On any error the temporary file is removed and whatever was at ``path`` stays;
    OSErrors surface to the caller. The new file keeps the old one's permission
    bits, or for a new file gets what the umask allows (``mkstemp`` alone gives 0600).
    Temporary files that a killed writer left beside ``path`` are removed first.

    A path the user named (``follow``) is written where it leads: a symlink's file is replaced and the link kept,
    and a pipe or a terminal (``/dev/stdout``, ``>(gzip > x.gz)``) is sent the whole file once it is written,
    never replaced (``--output /dev/stdout`` replaced the machine's /dev/stdout link with a file). A file llmclf
    keeps for itself (``follow=False``) is replaced whatever stands in its place.
    """
    path = check_writable(path, follow)
    if follow and _is_stream(_mode(path)):
        with tempfile.TemporaryFile() as fh:  # w+b: a writer may check what it wrote, as below
            yield fh
            fh.seek(0)
            with open(path, "wb") as out:
                shutil.copyfileobj(fh, out)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # it named the temporary file, which the user never asked for
        raise OSError(exc.errno, f"{exc.strerror} (making a file in {path.parent})", str(path)) from None
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "w+b") as fh:  # readable too: a writer may check what it wrote before the rename
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode(path: Path) -> int:
    """The mode of what ``path`` leads to (through links); 0 where there is nothing to stat."""
    try:
        return os.stat(path).st_mode
    except OSError:
        return 0


def _is_stream(mode: int) -> bool:
    """A pipe or a character device (a terminal, /dev/null): written to, not replaced."""
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def check_writable(path: str | os.PathLike[str], follow: bool = True) -> Path:
    """Where :func:`atomic_writer` will write ``path``, unless it is plain that it cannot: an OSError naming
    ``path`` then. With ``follow``, through a symlink to its file, or ``path`` itself for a pipe or a terminal.

    A folder, a read-only file, a block device or socket, or a file where one of its folders should be
    (``out.csv/x.parquet``) is refused here, so a caller can ask before the work rather than fail after it."""
    path = Path(path)
    if path.is_dir():  # else the work is done first, and the rename fails naming the temporary file
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    if follow:
        mode = _mode(path)
        if _is_stream(mode):
            return path
        if stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
            raise OSError(errno.EINVAL, "is a device or a socket, not a file", str(path))
        if path.is_symlink():
            path = Path(os.path.realpath(path))
    if is_read_only(path):  # a rename replaces it whatever its mode, as root too
        raise PermissionError(errno.EACCES, "is read-only (no write permission for anyone): not replaced", str(path))
    folder = next((p for p in path.parents if p.exists()), None)
    if folder is not None and not folder.is_dir():  # mkdir said "File exists"
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is a file, not a folder", str(path))
    if folder is not None and not os.access(folder, os.W_OK | os.X_OK):  # a read-only folder or file system
        raise PermissionError(errno.EACCES, f"no permission to make files in {folder}", str(path))
    return path


def refuse_to_replace(path: Path, ours: Callable[[Path], bool], what: str, flag: str) -> None:
    """An OSError unless ``path`` is free for a writer of ``what``: nothing there, an empty file, or a file
    ``ours`` takes for one this writer made (which it may replace). `examples export --output llmclf.db`
    replaced the run log itself with JSON Lines; any other file is the user's and stays."""
    check_writable(path)  # a read-only file or a folder is said so first
    try:
        if not path.is_file() or path.stat().st_size == 0 or ours(path):
            return
    except (OSError, ValueError, RecursionError):  # unreadable, or not what ``ours`` reads: the user's
        pass
    raise FileExistsError(
        errno.EEXIST, f"exists and is not {what}: not overwritten (choose another {flag} path, or remove it)", str(path)
    )


def is_read_only(path: Path) -> bool:
    """Whether ``path`` is a file whose mode gives nobody write permission: someone made it so to keep it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove_stale(path: Path) -> None:
    """Delete ``.<name>.<pid>.*.tmp`` files whose writer is gone (or, without a pid, that are an hour old)."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(?:(\d+)\.)?[^/]*\.tmp$")
    with contextlib.suppress(OSError):
        for candidate in path.parent.iterdir():
            match = pattern.match(candidate.name)
            if not match:
                continue
            pid = int(match[1]) if match[1] else None
            if pid is not None and pid != os.getpid() and _alive(pid):
                continue
            if pid is None and time.time() - candidate.stat().st_mtime < STALE_SECONDS:
                continue
            if pid == os.getpid():
                continue  # our own, in use by another thread of this process
            candidate.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
