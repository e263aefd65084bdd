"""Files the tool keeps between runs (capture state, --verify's index journal, the sandbox record), and the
files it writes for the user that may hold captured statements (saved captures, reports).

They decide what the tool later does to a server or a process, so a file someone else planted must never
be followed: the directory is created 0700, each file 0600 through a fresh temporary (O_EXCL) renamed
into place, and a read refuses a symbolic link (O_NOFOLLOW), anything but a regular file, and a file or
directory that another user owns or may write.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from query_audit.errors import QueryAuditError


class UnsafeFile(QueryAuditError):
    """A state or record file that someone else could have planted: refused, never followed."""


def _check_owned(info: os.stat_result, path: Path, what: str) -> None:
    if info.st_uid != os.geteuid():
        raise UnsafeFile(f"{path} is owned by uid {info.st_uid}, not by you: refusing to use this {what}; "
                         "remove it (or point QUERY_AUDIT_STATE_DIR at a directory of your own)")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeFile(f"{path} can be written by other users: refusing to use this {what}; "
                         "remove it (or chmod go-w it)")


def private_dir(path: Path) -> Path:
    """Create `path` (0700) if needed; refuse a symlink or a directory that is not the user's alone."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise UnsafeFile(f"{path} is not a plain directory (a symbolic link?): refusing to keep state in it")
    if info.st_uid != os.geteuid():
        _check_owned(info, path, "directory")
    if stat.S_IMODE(info.st_mode) & 0o077:  # ours, made by an older version or by hand: ours alone now
        os.chmod(path, 0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, 0600; a symlink already at `path` is replaced, never followed."""
    private_dir(path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")  # O_EXCL, 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)  # rename: replaces a planted link itself, not its target
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_private(path: Path, what: str = "state file") -> str | None:
    """The text of `path`, None if there is none; UnsafeFile if it is not a regular file of the user's."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFile(f"{path} is a symbolic link: refusing to follow this {what}; remove it") from None
        raise QueryAuditError(f"cannot read {what} {path}: {exc.strerror}") from None
    with os.fdopen(handle, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{path} is not a regular file: refusing to use this {what}; remove it")
        _check_owned(info, path, what)
        return source.read().decode("utf-8", errors="replace")


def open_private_output(path: str | Path) -> IO[str]:
    """Open a file the user named (a saved capture, a report) for writing text, created (or, if it is a
    regular file, reset) to mode 0600: statements carry data, and a redaction pattern can always miss a
    secret. Unlike state files, its directory is the user's business and left as it is."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):  # never chmod /dev/stdout or a FIFO the user named
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def write_private_output(path: str | Path, parts: Iterable[str]) -> None:
    """`parts` one after the other (a report's, made as they are written) in a file `open_private_output`.
    If making them fails half-way, the half-written file is removed: a report file is whole or absent (a
    FIFO or a device the user named is left as it is)."""
    out = open_private_output(path)
    regular = stat.S_ISREG(os.fstat(out.fileno()).st_mode)
    try:
        with out:
            out.writelines(parts)
    except BaseException:
        if regular:
            Path(path).unlink(missing_ok=True)
        raise
