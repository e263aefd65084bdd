"""The saved-capture file (`capture --save FILE`), read back by `analyze FILE`.

    {"format": "query-audit-capture", "version": 1,
     "server": {"flavor": ..., "version": ..., "version_comment": ...} | null,
     "source": {"kind": "capture", "endpoints": [...], ...},
     "noise_dropped": N,
     "statements": [{"sql": ..., "thread_id": ..., "database": ..., "time": ..., "command": ...,
                     "request": ..., "user": ..., "placeholders": ..., "query_time": ..., ...}]}

It holds no connection password: the model has none, and nothing here adds connection settings; secrets
in the statements are redacted, and the file is created with mode 0600.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO

from query_audit.errors import SourceError
from query_audit.model import ReplicaLag, ServerInfo, ServerRole, SourceInfo, Statement
from query_audit.private_files import open_private_output
from query_audit.redact import Redactor

FORMAT = "query-audit-capture"
VERSION = 1

_STATEMENT_FIELDS = tuple(f.name for f in fields(Statement))
_TIMINGS = ("query_time", "lock_time", "rows_sent", "rows_examined", "server")  # left out when None
_TUPLE_FIELDS = ("endpoints", "files")


@dataclass(frozen=True)
class SavedCapture:
    statements: tuple[Statement, ...]
    server: ServerInfo | None
    source: SourceInfo
    noise_dropped: int = 0


def save_capture(path: str | Path, statements: Iterable[Statement], *, server: ServerInfo | None,
                 source: SourceInfo, noise_dropped: int, redactor: Redactor | None = None) -> None:
    """Write a capture, readable by the user only, with secrets redacted (`query_audit.redact`: the
    fingerprints stay the same); timings that were not captured are left out rather than written as null."""
    statements = (redactor or Redactor()).statements(statements)
    document = {
        "format": FORMAT,
        "version": VERSION,
        "server": asdict(server) if server is not None else None,
        "source": {name: value for name, value in asdict(source).items()
                   if name not in ("servers", "lag") or value},  # a replicated capture's only
        "noise_dropped": noise_dropped,
        "statements": [_statement_record(statement) for statement in statements],
    }
    try:
        with open_private_output(path) as out:
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
    except RecursionError:
        raise SourceError(f"{name} is not a query-audit capture: JSON nested too deeply") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SourceError(f"{name} is not a query-audit capture (no \"format\": \"{FORMAT}\")")
    if document.get("version") != VERSION:
        raise SourceError(f"{name}: capture format version {document.get('version')!r} is not supported "
                          f"(this query-audit reads version {VERSION})")
    try:
        statements = _typed(document, "statements", list, "a list", required=True)
        return SavedCapture(
            statements=tuple(_statement(record, number) for number, record in enumerate(statements, 1)),
            server=_server(document["server"]) if document.get("server") else None,
            source=_source(_checked(document.get("source") or {"kind": "saved_capture"}, "source")),
            noise_dropped=_typed(document, "noise_dropped", int, "a whole number") or 0,
        )
    except _BadField as exc:
        raise SourceError(f"{name}: broken capture: {exc}") from None


def _statement_record(statement: Statement) -> dict:
    record = {name: getattr(statement, name) for name in _STATEMENT_FIELDS}
    for name in _TIMINGS:
        if record[name] is None:
            del record[name]
    for name in ("server_flags", "truncated"):  # written only where a source sets them
        if not record[name]:
            del record[name]
    return record


class _BadField(ValueError):
    """A field of the wrong type or a missing key: which one, in a few words."""


_TEXTS = "list of text"  # a kind for _typed: a JSON list of strings
# What each field may hold. `bool` is an `int` to Python, and NaN a float: both are refused where wrong.
_STATEMENT_TYPES = {
    "sql": (str, "text"), "thread_id": (int, "a whole number"), "database": (str, "text"),
    "time": (str, "text"), "command": (str, "text"), "request": (int, "a whole number"), "user": (str, "text"),
    "placeholders": (bool, "true or false"), "query_time": (float, "a number of seconds"),
    "lock_time": (float, "a number of seconds"), "rows_sent": (int, "a whole number"),
    "rows_examined": (int, "a whole number"), "server": (str, "text"),
    "server_flags": (_TEXTS, "a list of text"), "truncated": (bool, "true or false"),
}
_SOURCE_TYPES = {"kind": (str, "text"), "endpoints": (_TEXTS, "a list of text"), "command": (str, "text"),
                 "files": (_TEXTS, "a list of text"), "window_start": (str, "text"), "window_end": (str, "text"),
                 "requests": (int, "a whole number")}
_SERVER_TYPES = {"flavor": (str, "text"), "version": (str, "text"), "version_comment": (str, "text"),
                 "address": (str, "text")}


def _typed(record: dict, key: str, kind: type, what: str, *, required: bool = False, where: str = ""):
    """record[key] if it is of `kind` (None when absent and not required); _BadField otherwise."""
    if key not in record or record[key] is None:
        if required:
            raise _BadField(f"{where}no {key!r}")
        return None
    value = record[key]
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is _TEXTS:
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise _BadField(f"{where}{key!r} must be {what}, not {type(value).__name__} {_preview(value)}")
    return value


def _checked(record, where: str, types: dict | None = None) -> dict:
    if not isinstance(record, dict):
        raise _BadField(f"{where} must be an object, not {type(record).__name__}")
    for key, (kind, what) in (types or {}).items():
        _typed(record, key, kind, what, where=f"{where}: ")
    return record


def _preview(value) -> str:
    text = repr(value) if isinstance(value, (str, int, float, bool)) else ""
    return text if len(text) <= 40 else text[:37] + "..."


def _statement(record, number: int) -> Statement:
    where = f"statement {number}"
    _checked(record, where, _STATEMENT_TYPES)
    _typed(record, "sql", str, "text", required=True, where=f"{where}: ")
    values = {name: record[name] for name in _STATEMENT_FIELDS if name in record and record[name] is not None}
    for name in ("query_time", "lock_time"):
        if name in values:
            values[name] = float(values[name])
    if "server_flags" in values:
        values["server_flags"] = tuple(values["server_flags"])
    return Statement(**values)


def _server(record) -> ServerInfo:
    _checked(record, "server", _SERVER_TYPES)
    for key in ("flavor", "version"):
        _typed(record, key, str, "text", required=True, where="server: ")
    return _known(ServerInfo, record)


def _source(record: dict) -> SourceInfo:
    _checked(record, "source", _SOURCE_TYPES)
    _typed(record, "kind", str, "text", required=True, where="source: ")
    values = {name: tuple(value) if name in _TUPLE_FIELDS else value for name, value in record.items()
              if value is not None or name in ("command", "window_start", "window_end")}
    values["servers"] = tuple(_known(ServerRole, role) for role in _objects(record, "servers"))
    values["lag"] = tuple(_known(ReplicaLag, sample) for sample in _objects(record, "lag"))
    return _known(SourceInfo, values)


def _objects(record: dict, key: str) -> list:
    """record[key] as a list of objects (a capture with --replica-dsn), [] when absent."""
    found = record.get(key) or []
    if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
        raise _BadField(f"source: {key!r} must be a list of objects")
    return found


def _known(record_type, values: dict):
    """A record from the keys it knows: a newer writer may have added some."""
    return record_type(**{f.name: values[f.name] for f in fields(record_type) if f.name in values})


def _first_line(exc: Exception) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
