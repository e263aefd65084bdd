"""Each captured request as the ordered statements it sent: what the routing and deferrable-write rules read.

The query groups say how often a shape ran; these say in which order, on which server and connection,
inside which transaction, and with which key values, which a group cannot. Built only for a live
capture (every statement knows its request).

A connection's transaction runs from START TRANSACTION / BEGIN to COMMIT / ROLLBACK (or a statement
that commits implicitly); `transaction_writes` says whether any statement of it writes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from query_audit.analyze.fingerprint import fingerprint, query_id, statement_kind
from query_audit.analyze.transactions import control_kind
from query_audit.model import Kind, ReplicaLag, Statement, StatementModel

_LOCKING = re.compile(r"\bFOR\s+UPDATE\b|\bLOCK\s+IN\s+SHARE\s+MODE\b|\bFOR\s+SHARE\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class TracedStatement:
    statement: Statement
    query_id: str
    kind: Kind
    tables: tuple[str, ...]  # every table it touches, as the model names them
    target_table: str | None  # the table a write changes
    in_transaction: bool
    transaction_writes: bool  # the transaction it runs in writes somewhere
    locking: bool  # SELECT ... FOR UPDATE / LOCK IN SHARE MODE / FOR SHARE

    @property
    def server(self) -> str | None:
        return self.statement.server

    @property
    def keys(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(column, values) it fixes: WHERE col = / IN, INSERT values. Parsed when first asked (only the
        replica routing rules ask), not for every statement of every capture."""
        return key_values(self.statement.sql) if self.kind is not Kind.OTHER else ()

    def key_values(self) -> dict[str, set[str]]:
        return {column: set(values) for column, values in self.keys}


@dataclass(frozen=True, slots=True)
class RequestTrace:
    request: int
    endpoint: str | None
    statements: tuple[TracedStatement, ...]
    lag: tuple[ReplicaLag, ...] = ()  # each replica's position right after the request


def build_traces(statements: Sequence[Statement], models: dict[str, StatementModel],
                 endpoints: Sequence[str] = (), lag: Sequence[ReplicaLag] = (),
                 command: str | None = None) -> tuple[RequestTrace, ...]:
    """One trace per request, statements in the order they ran. `models` maps query ids to models.

    A `--run` command's statements have no request: the whole command is one trace (request 1)."""
    if command is not None:
        statements = [replace(s, request=1) for s in statements]
        endpoints = (command,)
    ordered = sorted((s for s in statements if s.request is not None), key=lambda s: (s.request, s.time or ""))
    controls = [control_kind(statement.sql) for statement in ordered]
    transactions = _transactions(ordered, controls)
    by_request: dict[int, list[TracedStatement]] = defaultdict(list)
    for index, statement in enumerate(ordered):
        if controls[index]:  # BEGIN, COMMIT...: they place the others in transactions, and are no query
            continue
        qid = query_id(fingerprint(statement.sql))
        model = models.get(qid)
        kind = model.kind if model is not None else statement_kind(statement.sql)
        in_transaction, writes = transactions[index]
        by_request[statement.request].append(TracedStatement(
            statement=statement, query_id=qid, kind=kind,
            tables=model.tables if model is not None else (),
            target_table=model.target_table if model is not None else None,
            in_transaction=in_transaction, transaction_writes=writes,
            locking=kind is Kind.SELECT and bool(_LOCKING.search(statement.sql)),
        ))
    return tuple(RequestTrace(request, _endpoint(request, endpoints), tuple(found),
                              tuple(sample for sample in lag if sample.request == request))
                 for request, found in sorted(by_request.items()))


def _endpoint(request: int, endpoints: Sequence[str]) -> str | None:
    """The replay sends every endpoint once per round, in order (capture/control.py's replay_in_windows)."""
    return endpoints[(request - 1) % len(endpoints)] if endpoints else None


def _transactions(ordered: Sequence[Statement], controls: Sequence) -> list[tuple[bool, bool]]:
    """(inside a transaction, that transaction writes) for each statement, per server and connection.

    A transaction runs from BEGIN (or the first statement after `SET autocommit = 0`) to COMMIT/ROLLBACK;
    `controls` holds each statement's `control_kind` (analyze/transactions.py, the one reader of them)."""
    result: list[tuple[bool, bool]] = [(False, False)] * len(ordered)
    open_members: dict[tuple, list[int]] = {}
    writes: dict[tuple, bool] = {}
    manual: set[tuple] = set()  # connections with autocommit off
    for index, statement in enumerate(ordered):
        connection = (statement.server, statement.thread_id)
        control = controls[index]
        kind = control[0] if control else None
        if kind in ("end", "chain") or (kind == "autocommit" and control[1] == "on"):
            if connection in open_members:
                _close(result, open_members.pop(connection), writes.pop(connection))
            if kind == "autocommit":
                manual.discard(connection)
        if kind == "autocommit" and control[1] == "off":
            manual.add(connection)
        if kind in ("begin", "chain") or (kind is None and connection in manual and connection not in open_members):
            open_members[connection] = []
            writes[connection] = False
        if kind is None and connection in open_members:
            open_members[connection].append(index)
            writes[connection] = writes[connection] or statement_kind(statement.sql).is_write
    for connection, members in open_members.items():
        _close(result, members, writes[connection])
    return result


def _close(result: list, members: list[int], writes: bool) -> None:
    for index in members:
        result[index] = (True, writes)


@lru_cache(maxsize=4096)
def key_values(sql: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The columns a statement fixes to literal values: WHERE col = v / col IN (...), and INSERT rows."""
    from sqlglot import exp

    from query_audit.analyze.sql_model import parse_statement

    try:
        tree = parse_statement(sql)  # the group's sample: the tree its model was built from
    except Exception:  # noqa: BLE001 (unparsable: no keys known, the rules then judge by table alone)
        return ()
    found: dict[str, set[str]] = defaultdict(set)
    if isinstance(tree, exp.Insert) and isinstance(tree.this, exp.Schema) and isinstance(tree.expression, exp.Values):
        columns = [c.name.lower() for c in tree.this.expressions]
        for row in tree.expression.expressions:
            for column, value in zip(columns, row.expressions):
                if isinstance(value, exp.Literal):
                    found[column].add(value.this)
    where = tree.args.get("where") if hasattr(tree, "args") else None
    if where is not None:
        for node in where.find_all(exp.EQ, exp.In):
            column = node.this if isinstance(node.this, exp.Column) else None
            if isinstance(node, exp.EQ):
                if column is None and isinstance(node.expression, exp.Column):
                    column, values = node.expression, [node.this]
                else:
                    values = [node.expression]
            else:
                values = list(node.expressions)
            if column is not None and values and all(isinstance(v, exp.Literal) for v in values):
                found[column.name.lower()].update(v.this for v in values)
    return tuple((column, tuple(sorted(values))) for column, values in sorted(found.items()))


def same_rows_possible(write: TracedStatement, read: TracedStatement) -> bool:
    """False only when both fix a common column to values that cannot meet; True when the values say
    nothing (no common column), because then the read may well see the written rows."""
    written, wanted = write.key_values(), read.key_values()
    common = set(written) & set(wanted)
    return not common or any(written[column] & wanted[column] for column in common)


def writes_table(write: TracedStatement, table: str) -> bool:
    return write.kind.is_write and (write.target_table == table or (write.target_table is None
                                                                    and table in write.tables))


def replica_safe(trace: RequestTrace, index: int) -> bool:
    """A read a replica could serve: a plain SELECT of tables, outside any transaction that writes, not
    locking, and no earlier statement of the request wrote a table it reads."""
    read = trace.statements[index]
    if read.kind is not Kind.SELECT or read.locking or not read.tables:
        return False
    if read.in_transaction and read.transaction_writes:
        return False
    return not any(writes_table(before, table) for before in trace.statements[:index] for table in read.tables)
