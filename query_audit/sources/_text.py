"""Reading a log as text, shared by the general and slow log readers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TypeVar

from query_audit.errors import SourceError

T = TypeVar("T")


def parse_text(source: str | Path | IO[str], parse: Callable[[IO[str]], Iterator[T]]) -> Iterator[T]:
    """`parse` over a file's lines (undecodable bytes replaced), or over an already open stream.

    A file that cannot be opened, or fails half-way, is one SourceError naming it.
    """
    if not isinstance(source, (str, Path)):
        yield from parse(source)
        return
    try:
        with open(source, encoding="utf-8", errors="replace") as handle:
            yield from parse(handle)
    except OSError as exc:
        raise SourceError(f"cannot read {source}: {exc.strerror}") from None
