"""The saved-capture file (`capture --save FILE`), read back by `analyze FILE`.

    {"format": "query-audit-capture", "version": 1,
     "server": {"flavor": ..., "version": ..., "version_comment": ...} | null,
     "source": {"kind": "capture", "endpoints": [...], ...},
     "noise_dropped": N,
     "statements": [{"sql": ..., "thread_id": ..., "database": ..., "time": ..., "command": ...,
                     "request": ..., "user": ..., "placeholders": ..., "query_time": ..., ...}]}

It holds no password: the model has none, and nothing here adds connection settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO

from query_audit.errors import SourceError
from query_audit.model import ServerInfo, SourceInfo, Statement

FORMAT = "query-audit-capture"
VERSION = 1

_STATEMENT_FIELDS = tuple(f.name for f in fields(Statement))
_TIMINGS = ("query_time", "lock_time", "rows_sent", "rows_examined")
_TUPLE_FIELDS = ("endpoints", "files")


@dataclass(frozen=True)
class SavedCapture:
    statements: tuple[Statement, ...]
    server: ServerInfo | None
    source: SourceInfo
    noise_dropped: int = 0


def save_capture(path: str | Path, statements: Iterable[Statement], *, server: ServerInfo | None,
                 source: SourceInfo, noise_dropped: int) -> None:
    """Write a capture; timings that were not captured are left out rather than written as null."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "server": asdict(server) if server is not None else None,
        "source": asdict(source),
        "noise_dropped": noise_dropped,
        "statements": [_statement_record(statement) for statement in statements],
    }
    try:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=1, ensure_ascii=False)
            out.write("\n")
    except OSError as exc:
        raise SourceError(f"cannot write capture {path}: {exc.strerror}") from None


def load_capture(path: str | Path | IO[str]) -> SavedCapture:
    """Read a saved capture; a broken or foreign file raises SourceError with one line."""
    name = path if isinstance(path, (str, Path)) else getattr(path, "name", "capture")
    try:
        if isinstance(path, (str, Path)):
            with open(path, encoding="utf-8") as handle:
                document = json.load(handle)
        else:
            document = json.load(path)
    except OSError as exc:
        raise SourceError(f"cannot read capture {name}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"{name} is not a query-audit capture: invalid JSON ({_first_line(exc)})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SourceError(f"{name} is not a query-audit capture (no \"format\": \"{FORMAT}\")")
    if document.get("version") != VERSION:
        raise SourceError(f"{name}: capture format version {document.get('version')!r} is not supported "
                          f"(this query-audit reads version {VERSION})")
    try:
        return SavedCapture(
            statements=tuple(_statement(record) for record in document["statements"]),
            server=_known(ServerInfo, document["server"]) if document.get("server") else None,
            source=_source(document.get("source") or {"kind": "saved_capture"}),
            noise_dropped=int(document.get("noise_dropped") or 0),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SourceError(f"{name}: broken capture ({type(exc).__name__}: {_first_line(exc)})") from None


def _statement_record(statement: Statement) -> dict:
    record = {name: getattr(statement, name) for name in _STATEMENT_FIELDS}
    for name in _TIMINGS:
        if record[name] is None:
            del record[name]
    for name in ("server_flags", "truncated"):  # written only where a source sets them
        if not record[name]:
            del record[name]
    return record


def _statement(record: dict) -> Statement:
    if not isinstance(record, dict) or not isinstance(record.get("sql"), str):
        raise TypeError("a statement without its sql text")
    values = {name: record[name] for name in _STATEMENT_FIELDS if name in record}
    if "server_flags" in values:
        values["server_flags"] = tuple(values["server_flags"])
    return Statement(**values)


def _source(record: dict) -> SourceInfo:
    values = {name: tuple(value) if name in _TUPLE_FIELDS else value for name, value in record.items()}
    return _known(SourceInfo, values)


def _known(record_type, values: dict):
    """A record from the keys it knows: a newer writer may have added some."""
    return record_type(**{f.name: values[f.name] for f in fields(record_type) if f.name in values})


def _first_line(exc: Exception) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
