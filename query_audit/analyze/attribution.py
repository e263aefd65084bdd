"""Where a statement came from in the application, read from its own SQL comment.

Two conventions put it there, and both reach the general log and performance_schema's SQL_TEXT
(fingerprints strip comments, so query ids do not change):

    SELECT ... /*action='index',controller='orders',file='app.js%3A42',route='%2Forders'*/   (sqlcommenter)
    SELECT ... /*application:Blog,controller:posts,action:index*/                           (Rails tags)

sqlcommenter sorts its keys and URL-encodes its values; Rails' query log tags are `key:value` pairs.
`file` may carry the line (`app.js:42`) or a separate `line` key may. Only the last comment of the
statement is read, where both write it; anything that does not parse is no origin, never an error.

>>> parse_origin("SELECT 1 /*controller='orders',file='app.js%3A42'*/")
Origin(route=None, controller='orders', action=None, file='app.js', line=42, application=None, framework=None)
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from query_audit import sql_text
from query_audit.model import Origin

_SQLCOMMENTER_PAIR = re.compile(r"\s*([A-Za-z_][\w.-]*)\s*=\s*'((?:[^'\\]|\\.)*)'\s*(?:,|$)")
_RAILS_PAIR = re.compile(r"\s*([A-Za-z_][\w.-]*):([^,]*)(?:,|$)")
# Keys that name the same thing under different integrations.
_ALIASES = {"controller": "controller", "action": "action", "route": "route", "application": "application",
            "framework": "framework", "file": "file", "line": "line", "source_file": "file",
            "source_line": "line", "code.filepath": "file", "code.lineno": "line", "source": "file"}
_FILE_LINE = re.compile(r"^(.*?):(\d+)(?::\d+)?$")
MAX_VALUE = 300  # a comment is hostile input like the rest: keep what is shown bounded


def without_tags(sql: str) -> str:
    """`sql` without its trailing sqlcommenter or Rails tag comment (other comments are kept)."""
    if not sql.endswith(("*/", "*/;")) or not parse_tags(sql):
        return sql
    return sql[:_trailing_comment(sql).start].rstrip()


def _trailing_comment(sql: str) -> sql_text.Token | None:
    """The statement's last `/* ... */` comment when only whitespace and `;` follow it (not an executable
    `/*! ... */` nor an optimizer hint `/*+ ... */`)."""
    if not sql.rstrip().rstrip(";").rstrip().endswith("*/"):
        return None  # the usual statement, answered without lexing it
    last = sql_text.last_comment(sql)
    if last is None or last.kind != "comment" or not last.text.startswith("/*") or not last.text.endswith("*/"):
        return None
    return last


def parse_tags(sql: str) -> dict[str, str]:
    """The key/value pairs of the statement's trailing sqlcommenter or Rails comment, decoded; {} if none."""
    comment = _trailing_comment(sql)
    if comment is None:
        return {}
    body = comment.text[2:-2].strip()
    pairs = _pairs(_SQLCOMMENTER_PAIR, body)
    if pairs is not None:
        return {key: unquote(value.replace("\\'", "'"))[:MAX_VALUE] for key, value in pairs}
    pairs = _pairs(_RAILS_PAIR, body)
    if pairs is not None:
        return {key: value.strip()[:MAX_VALUE] for key, value in pairs}
    return {}


def _pairs(pattern: re.Pattern, body: str) -> list[tuple[str, str]] | None:
    """Every pair of `body` when the whole comment is made of them, else None."""
    pairs, position = [], 0
    while position < len(body):
        match = pattern.match(body, position)
        if match is None or match.end() == position:
            return None
        pairs.append((match.group(1), match.group(2)))
        position = match.end()
    return pairs or None


def parse_origin(sql: str) -> Origin | None:
    """The statement's Origin, or None when its comment says nothing about where it came from."""
    tags = {}
    for key, value in parse_tags(sql).items():
        name = _ALIASES.get(key.lower())
        if name and value:
            tags.setdefault(name, value)
    if not tags:
        return None
    file, line = tags.get("file"), tags.get("line")
    if file:
        split = _FILE_LINE.match(file)
        if split:
            file, line = split.group(1), line or split.group(2)
    return Origin(route=tags.get("route"), controller=tags.get("controller"), action=tags.get("action"),
                  file=file or None, line=int(line) if line and line.isdigit() else None,
                  application=tags.get("application"), framework=tags.get("framework"))


def attach_origins(findings, queries) -> list:
    """Each finding with the origin of its query (the first of a merged finding's queries that has one)."""
    from dataclasses import replace

    origins = {query.group.id: query.origin for query in queries if query.origin is not None}
    attached = []
    for finding in findings:
        ids = (finding.query_id, *finding.query_ids)
        origin = next((origins[i] for i in ids if i in origins), None)
        attached.append(replace(finding, origin=origin) if origin is not None else finding)
    return attached
