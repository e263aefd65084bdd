"""Files that may hold captured statements (saved captures, reports) are created readable by the user
only (0600): statements carry data, and a redaction pattern can always miss a secret."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO


def open_private(path: str | Path) -> IO[str]:
    """Open `path` for writing text, created (or, if it is a regular file, reset) to mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):  # never chmod /dev/stdout or a FIFO the user named
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: str | Path, text: str) -> None:
    with open_private(path) as out:
        out.write(text)
