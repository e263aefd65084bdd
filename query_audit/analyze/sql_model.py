"""What one statement does: its tables, and each column's role, from sqlglot's MySQL dialect.

`describe(sql)` never raises. Columns are resolved through aliases and kept per SELECT scope
(`sqlglot.optimizer.scope`): the outermost query block is scope 0, subqueries, derived tables, CTE
bodies and UNION branches are numbered after it in the order they appear in the text.

Choices worth knowing when reading a model (roles are listed on `model.ColumnUse`):
- `detail` of eq/in/range/like_prefix is the type of the compared value: "number", "string",
  "placeholder" (a `?`), "null", "subquery" or "expression"; for a join it is the other side
  ("table.column"). The advisor compares it with the schema to find type mismatches.
- `IN` with one value is recorded as eq (MySQL treats it so); `IS NOT NULL` as a range ("not null").
- A bare boolean column (`WHERE active`) means `active <> 0`: not_sargable, reason "negation".
- Comparing two columns of the same table reference (`a = b`) is not_sargable, reason "column comparison".
- ORDER BY / GROUP BY of an expression records its columns with reason "function".
- Columns of derived tables and CTEs are not columns of any stored table, so they are left out;
  HAVING is left out (it filters after grouping, no index helps).
- REPLACE, CALL, LOCK... (an opaque sqlglot Command) and what sqlglot cannot parse (LOAD DATA, odd
  syntax, nesting too deep for its recursive parser) give `parsed=False`, an `error`, and the kind
  and tables a regular expression can find.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope, walk_in_scope

from query_audit import sql_text
from query_audit.analyze.fingerprint import literal_pieces
from query_audit.model import ColumnUse, Kind, StatementModel

_KINDS = {exp.Select: Kind.SELECT, exp.Insert: Kind.INSERT, exp.Update: Kind.UPDATE, exp.Delete: Kind.DELETE}
_RANGE_OPS = (exp.GT, exp.GTE, exp.LT, exp.LTE)
_EQ_OPS = (exp.EQ, exp.NullSafeEQ)
# A table that is not a table: MySQL's `FROM DUAL`.
_PSEUDO_TABLES = {"dual"}
MAX_PARSED_CHARS = 64 * 1024  # longer statements are not parsed (see oversize_reason)
SHOWN_CHARS = 4096  # how much of such a statement a report shows


def describe(sql: str) -> StatementModel:
    """The model of one statement; never raises, whatever the input.

    >>> describe("SELECT id FROM orders o WHERE o.status = 'paid'").uses("orders", "eq")
    (ColumnUse(table='orders', column='status', role='eq', scope=0, detail='string', reason=''),)
    """
    if isinstance(sql, (bytes, bytearray)):  # a MySQL 8 general_log argument is a BLOB
        sql = bytes(sql).decode("utf-8", errors="replace")
    if sql is not None and not isinstance(sql, str):
        return StatementModel(Kind.OTHER, parsed=False, error=f"not a statement ({type(sql).__name__})")
    text = (sql or "").strip().rstrip(";").strip()
    if not text:
        return StatementModel(Kind.OTHER, parsed=False, error="empty statement")
    too_large = oversize_reason(text)
    if too_large:  # kind and tables are in its head (INSERT INTO t ... VALUES, a thousand rows long)
        return _fallback(text[:MAX_PARSED_CHARS], too_large)
    from_first_row = _first_row_model(text)
    if from_first_row is not None:
        return from_first_row
    try:
        tree = parse_statement(text)
    except RecursionError:
        return _fallback(text, "nested too deeply for sqlglot's parser")
    except SqlglotError as exc:
        return _fallback(text, "sqlglot cannot parse it: " + _first_line(str(exc)))
    except Exception as exc:  # noqa: BLE001 - sqlglot bugs surface as assorted exceptions; a model is owed
        return _fallback(text, f"sqlglot failed on it ({type(exc).__name__})")
    if isinstance(tree, exp.Command):
        return _fallback(text, f"sqlglot reads {tree.name.upper()} as an opaque command")
    if isinstance(tree, exp.Block):
        return _fallback(text, "several statements in one")
    try:
        return _Describer(tree).model()
    except RecursionError:
        return _fallback(text, "nested too deeply to analyze")
    except Exception as exc:  # noqa: BLE001 - describe() never raises, whatever sqlglot hands back
        return _fallback(text, f"analysis failed ({type(exc).__name__})")


def oversize_reason(sql: str) -> str | None:
    """Why a statement is too large to parse and EXPLAIN, or None. sqlglot takes about 16 us and well over
    100 bytes of memory per byte of SQL (a 16 MB statement: 31 s and 2.7 GB), and a plan of a statement
    that size tells little the fingerprint does not: it is grouped and counted, not modelled."""
    if len(sql) <= MAX_PARSED_CHARS:
        return None
    return (f"a statement of {len(sql) // 1024} KB is over the {MAX_PARSED_CHARS // 1024} KB limit for parsing: "
            "it is fingerprinted and counted, not parsed or EXPLAINed")


def shortened(sql: str, keep: int = SHOWN_CHARS) -> str:
    """The head of a statement too large to parse, marked, for reports (its fingerprint is of all of it)."""
    if len(sql) <= MAX_PARSED_CHARS:
        return sql
    return f"{sql[:keep]} /* ... {len(sql) - keep} more characters not shown */"


def _untyped_calls(tree: exp.Expression, first_row: exp.Tuple | None = None, rows: int = 1) -> tuple[str, ...]:
    """Function calls sqlglot maps to no known function (exp.Anonymous), and qualified ones (`db.f`).

    With `first_row`, `tree` is a multi-row INSERT cut to the first of its `rows` alike rows of plain values
    (`_first_row_model`): that row's calls are listed once per row, as the whole statement's tree lists them.
    """
    # One walk of the tree (the second was a fifth of describing a shape), the two kinds in the order
    # two find_all walks gave them: every unknown call first, then every qualified known one.
    calls, qualified = [], []
    row_calls, row_calls_at = [], 0
    for node in tree.walk():
        if isinstance(node, exp.Anonymous):
            parent = node.parent
            qualifier = parent.this if isinstance(parent, exp.Dot) and parent.expression is node else None
            calls.append(f"{qualifier.sql(dialect='mysql')}.{node.name}" if qualifier is not None else str(node.name))
            if first_row is not None and parent is first_row:
                if not row_calls:
                    row_calls_at = len(calls) - 1
                row_calls.append(calls[-1])
        elif isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func) \
                and not isinstance(node.expression, exp.Anonymous):
            qualified.append(node.sql(dialect="mysql").split("(", 1)[0])
    if row_calls:
        # The walk is breadth first: the calls of one row (its items, all plain values) come one after
        # another, and those of the rows after it right behind them, row after row.
        calls[row_calls_at:row_calls_at + len(row_calls)] = row_calls * rows
    return tuple(calls + qualified)


# ---------------------------------------------------------------------------------------------
# Multi-row INSERTs of plain values, read from their first row
# ---------------------------------------------------------------------------------------------

# A VALUES row as `_alike_rows` sees it, each literal a NUL: literals (a sign before one too), NULL, TRUE,
# FALSE, DEFAULT and calls without arguments (NOW()), apart by commas and the whitespace sqlglot skips.
# Each part matches one way only (whitespace belongs to what follows a comma or a sign, never to an item's
# start), so a statement whose last row is not plain fails in time linear in its rows, not exponential.
_PLAIN_ITEM = r"(?:[-+][ \t\r\n]*)?(?:\x00|NULL|TRUE|FALSE|DEFAULT|[A-Za-z_][A-Za-z0-9_]*[ \t\r\n]*\([ \t\r\n]*\))"
_PLAIN_ROW = rf"\([ \t\r\n]*{_PLAIN_ITEM}(?:[ \t\r\n]*,[ \t\r\n]*{_PLAIN_ITEM})*[ \t\r\n]*\)"
_PLAIN_ROW_PATTERN = re.compile(_PLAIN_ROW, re.IGNORECASE)
# The first row, then the others, none left after them (a row that is not plain ends the match before it).
_PLAIN_ROWS = re.compile(rf"\bVALUES[ \t\r\n]*({_PLAIN_ROW})((?:[ \t\r\n]*,[ \t\r\n]*{_PLAIN_ROW})+)(?![ \t\r\n]*,)",
                         re.IGNORECASE)


def _first_row_model(text: str) -> StatementModel | None:
    """The model of a multi-row INSERT whose rows are alike and hold plain values, from the statement cut to
    its first row; None for any other statement (and when the cut one does not parse to such an INSERT).

    The model reads nothing in such a row but its calls (`untyped_calls`, once per row), and counts the rows;
    sqlglot's time grows with the text (a 20-row INSERT of the bench log: 1.5 ms, its first row: 0.3 ms).
    """
    alike = _alike_rows(text)
    if alike is None:
        return None
    first_row_only, rows = alike
    try:
        tree = _parse(first_row_only)
        values = tree.expression if isinstance(tree, exp.Insert) else None
        if not isinstance(values, exp.Values) or len(values.expressions) != 1 \
                or not all(_is_plain_value(item) for item in values.expressions[0].expressions):
            return None
        model = _Describer(tree).model()
    except Exception:  # noqa: BLE001 - the whole statement is parsed instead, and its errors reported
        return None
    return replace(model, insert_rows=rows, untyped_calls=_untyped_calls(tree, values.expressions[0], rows))


def _alike_rows(text: str) -> tuple[str, int] | None:
    """(the INSERT with only its first VALUES row, how many rows it has) when it has several rows that
    differ only in their literals and hold plain values (`_PLAIN_ITEM`); else None."""
    if text[:6].upper() != "INSERT" or "\x00" in text:
        return None
    pieces, literals = literal_pieces(text)
    masked = "\x00".join(pieces)
    found = _PLAIN_ROWS.search(masked)
    if found is None:
        return None
    head = masked[:found.start()]
    # The statement's own VALUES: outside comments, quoted names and parentheses.
    if "/*" in head or "--" in head or "#" in head or head.count("`") % 2 or head.count("(") != head.count(")"):
        return None
    first, others = found.group(1), [row.group() for row in _PLAIN_ROW_PATTERN.finditer(found.group(2))]
    if any(row != first for row in others):
        return None

    def in_text(position: int) -> int:  # `masked[position]`'s offset in `text` (outside a literal)
        markers = masked.count("\x00", 0, position)
        return position - markers + sum(map(len, literals[:markers]))

    return text[:in_text(found.end(1))] + text[in_text(found.end(2)):], 1 + len(others)


def _is_plain_value(node: exp.Expression) -> bool:
    """A literal, NULL, a boolean, DEFAULT, or a call without arguments: nothing the model reads but a call,
    and a call only as an item of the row (`_untyped_calls` repeats those)."""
    if isinstance(node, exp.Neg):  # `- 5`; not `- NOW()`, whose call is not an item of the row
        return isinstance(node.this, exp.Literal)
    if isinstance(node, (exp.Literal, exp.Null, exp.Boolean, exp.Var)):
        return True
    return isinstance(node, exp.Func) and next(node.iter_expressions(), None) is None


# ---------------------------------------------------------------------------------------------
# Parsing and the fallback for what sqlglot does not model
# ---------------------------------------------------------------------------------------------


@contextmanager
def _quiet_sqlglot():
    """sqlglot logs a warning for each statement it falls back to a Command for; we report that ourselves."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


PARSE_CACHE_SIZE = 256  # trees, not texts: a tree takes about 100 bytes of memory per byte of SQL


def parse_statement(sql: str) -> exp.Expression:
    """sqlglot's tree of one statement, parsed once per text: the model, the request trace and the
    estimates read the same tree. Read-only: a caller that rewrites a tree parses its own copy. Raises
    what sqlglot raises (SqlglotError, RecursionError, assorted bugs)."""
    tree, error = _parse_once(sql.strip().rstrip(";").strip())
    if error is not None:
        raise error.with_traceback(None)
    return tree


def forget_parsed() -> None:
    """Empty the cache of trees (a process whose trees no one will read again keeps none)."""
    _parse_once.cache_clear()


@lru_cache(maxsize=PARSE_CACHE_SIZE)
def _parse_once(text: str) -> tuple[exp.Expression | None, Exception | None]:
    try:
        return _parse(text), None
    except Exception as exc:  # noqa: BLE001 - kept, and raised again to each caller
        return None, exc


def _parse(text: str) -> exp.Expression:
    with _quiet_sqlglot():
        tree = sqlglot.parse_one(text, read="mysql")
    if tree is None:
        raise SqlglotError("no statement")
    return tree


_IDENT = r"(`[^`]+`|[\w$]+)(?:\s*\.\s*(`[^`]+`|[\w$]+))?"
_REPLACE_TARGET = re.compile(r"^REPLACE\s+(?:LOW_PRIORITY\s+|DELAYED\s+)?(?:INTO\s+)?" + _IDENT, re.IGNORECASE)
_TABLE_AFTER = re.compile(r"\b(?:INTO\s+TABLE|FROM|JOIN|INTO|UPDATE|TABLES|TABLE)\s+" + _IDENT, re.IGNORECASE)
_KEYWORD_AFTER_TABLE = {"table", "select", "values", "value", "set", "where", "read", "write", "local", "low_priority",
                        "ignore", "quick", "if", "partition"}


def _fallback(text: str, error: str) -> StatementModel:
    """Kind and tables by regular expressions, for what sqlglot cannot model."""
    bare = sql_text.strip_comments(text)
    first = bare.split(None, 1)[0].upper() if bare else ""
    kind = {"SELECT": Kind.SELECT, "WITH": Kind.SELECT, "INSERT": Kind.INSERT, "UPDATE": Kind.UPDATE,
            "DELETE": Kind.DELETE, "REPLACE": Kind.REPLACE}.get(first, Kind.OTHER)
    if first == "LOAD" and re.match(r"LOAD\s+(DATA|XML)\b", bare, re.IGNORECASE):
        kind = Kind.INSERT  # LOAD DATA ... INTO TABLE t inserts rows into t
    tables = []
    for match in _TABLE_AFTER.finditer(bare):
        name = _regex_table(match)
        if name and name.lower() not in _KEYWORD_AFTER_TABLE and name not in tables:
            tables.append(name)
    target = None
    if kind == Kind.REPLACE:
        replace = _REPLACE_TARGET.match(bare)
        target = _regex_table(replace) if replace else None
    elif kind.is_write and tables:
        target = tables[0]
    if target and target not in tables:
        tables.insert(0, target)
    return StatementModel(kind=kind, tables=tuple(tables), target_table=target, parsed=False, error=error)


def _regex_table(match: re.Match) -> str:
    parts = [part.strip("`") for part in match.groups() if part]
    return ".".join(parts)


def _first_line(message: str) -> str:
    return (message.strip().splitlines() or [""])[0][:200]


# ---------------------------------------------------------------------------------------------
# Query blocks: a sqlglot scope, or the statement itself for UPDATE/DELETE/INSERT
# ---------------------------------------------------------------------------------------------


@dataclass
class _Block:
    """One query block: its number, the tables it reads by alias, and the block around it."""

    number: int
    expression: exp.Expression
    # alias -> the table as written (`orders`, `shop.orders`); None for a derived table or CTE.
    sources: dict[str, str | None]
    parent: _Block | None = None
    select_aliases: dict[str, exp.Expression] = field(default_factory=dict)

    def lookup(self, alias: str) -> tuple[bool, str | None]:
        """(found, table) for a qualifier, searching outward for correlated references."""
        block: _Block | None = self
        while block is not None:
            if alias in block.sources:
                return True, block.sources[alias]
            for name, table in block.sources.items():
                if name.lower() == alias.lower():
                    return True, table
            block = block.parent
        return False, None


def _table_name(table: exp.Table) -> str:
    return f"{table.db}.{table.name}" if table.db else table.name


def _is_real_table(node) -> bool:
    return isinstance(node, exp.Table) and bool(node.name) and node.name.lower() not in _PSEUDO_TABLES


def _local_columns(node: exp.Expression | None) -> list[exp.Column]:
    if node is None:
        return []
    return [n for n in walk_in_scope(node) if isinstance(n, exp.Column) and not isinstance(n.this, exp.Star)]


def _unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _conjuncts(condition: exp.Expression | None) -> list[exp.Expression]:
    """The AND-ed parts of a condition, without recursion (long AND chains are common)."""
    parts, stack = [], [condition] if condition is not None else []
    while stack:
        node = _unwrap(stack.pop())
        if isinstance(node, exp.And):
            stack.append(node.expression)
            stack.append(node.this)
        else:
            parts.append(node)
    return parts


def _disjuncts(condition: exp.Expression) -> list[exp.Expression]:
    parts, stack = [], [condition]
    while stack:
        node = _unwrap(stack.pop())
        if isinstance(node, (exp.Or, exp.Xor)):
            stack.append(node.expression)
            stack.append(node.this)
        else:
            parts.append(node)
    return parts


def _value_type(node: exp.Expression | None) -> str:
    """How a compared value is typed, for the advisor's type-mismatch check."""
    node = _unwrap(node) if node is not None else None
    if isinstance(node, exp.Neg):
        node = _unwrap(node.this)
    if isinstance(node, exp.Literal):
        return "string" if node.is_string else "number"
    if isinstance(node, exp.Boolean):
        return "number"  # TRUE and FALSE are 1 and 0 in MySQL
    if isinstance(node, exp.Placeholder):
        return "placeholder"
    if isinstance(node, exp.Null):
        return "null"
    if isinstance(node, (exp.Subquery, exp.Query)):
        return "subquery"
    return "expression"


# ---------------------------------------------------------------------------------------------
# The describer
# ---------------------------------------------------------------------------------------------


class _Describer:
    def __init__(self, tree: exp.Expression):
        self.tree = tree
        self.uses: list[ColumnUse] = []

    @cached_property
    def order(self) -> dict[int, int]:
        """Each node's place in the text (a walk of the whole tree): needed only to order several scopes."""
        return {id(node): position for position, node in enumerate(self.tree.walk(bfs=False))}

    # -- the statement -------------------------------------------------------------------------

    def model(self) -> StatementModel:
        tree = self.tree
        kind = next((k for cls, k in _KINDS.items() if isinstance(tree, cls)), Kind.OTHER)
        if isinstance(tree, exp.SetOperation):
            kind = Kind.SELECT
        statement_block = None
        target = None
        insert_rows = 0
        if isinstance(tree, (exp.Update, exp.Delete, exp.Insert)):
            statement_block = self._statement_block()
        blocks = self._scope_blocks(statement_block)
        for block in blocks:
            self._describe_block(block)
        if isinstance(tree, exp.Insert):
            target, insert_rows = self._describe_insert(statement_block)
        elif isinstance(tree, (exp.Update, exp.Delete)):
            target = self._describe_write(statement_block)
        tables = self._tables(([statement_block] if statement_block else []) + blocks)
        if target and target in tables:
            tables.remove(target)
        if target:
            tables.insert(0, target)
        where = tree.args.get("where")
        return StatementModel(
            kind=kind,
            tables=tuple(tables),
            aliases=self._aliases(([statement_block] if statement_block else []) + blocks),
            target_table=target,
            columns=tuple(dict.fromkeys(self.uses)),
            limit=self._limit(tree),
            insert_rows=insert_rows,
            has_where=where is not None,
            untyped_calls=_untyped_calls(tree),
        )

    def _tables(self, blocks: list[_Block]) -> list[str]:
        found = []
        for block in blocks:
            for table in block.sources.values():
                if table and table not in found:
                    found.append(table)
        return found

    @staticmethod
    def _aliases(blocks: list[_Block]) -> tuple[tuple[str, str], ...]:
        """(alias, table) of every stored table of every block: what a plan row's table name resolves by."""
        return tuple(dict.fromkeys((alias, table) for block in blocks for alias, table in block.sources.items()
                                   if table is not None))

    @staticmethod
    def _limit(tree: exp.Expression) -> int | None:
        limit = tree.args.get("limit")
        value = limit.args.get("expression") if isinstance(limit, exp.Limit) else None
        if isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit():
            return int(value.this)
        return None

    # -- blocks ----------------------------------------------------------------------------------

    def _statement_block(self) -> _Block:
        """UPDATE/DELETE/INSERT as block 0: sqlglot's scopes cover only the SELECTs inside them."""
        sources: dict[str, str | None] = {}
        for node in walk_in_scope(self.tree):
            if _is_real_table(node):
                sources.setdefault(node.alias_or_name, _table_name(node))
        return _Block(0, self.tree, sources)

    def _scope_blocks(self, statement_block: _Block | None) -> list[_Block]:
        scopes = traverse_scope(self.tree)
        # The root first, then the others in the order they appear in the text.
        ordered = scopes if len(scopes) < 2 else \
            sorted(scopes, key=lambda s: (not s.is_root, self.order.get(id(s.expression), 0)))
        numbers: dict[int, int] = {}
        next_number = 1
        for scope in ordered:
            numbers[id(scope)] = 0 if scope.is_root else next_number
            next_number += 0 if scope.is_root else 1
        blocks: dict[int, _Block] = {}
        for scope in ordered:
            blocks[id(scope)] = _Block(numbers[id(scope)], scope.expression, self._scope_sources(scope))
        for scope in ordered:
            parent = blocks.get(id(scope.parent)) if scope.parent is not None else None
            blocks[id(scope)].parent = parent or (statement_block if numbers[id(scope)] else None)
        return [blocks[id(scope)] for scope in ordered]

    @staticmethod
    def _scope_sources(scope: Scope) -> dict[str, str | None]:
        sources: dict[str, str | None] = {}
        for alias, (_node, source) in scope.selected_sources.items():
            if isinstance(source, exp.Table):
                sources[alias] = _table_name(source) if _is_real_table(source) else None
            else:
                sources[alias] = None
        return sources

    # -- resolving columns -------------------------------------------------------------------------

    def _resolve(self, column: exp.Column, block: _Block) -> tuple[str, str] | None:
        """(qualifier, table) of a column; table "" when unknown; None when not a stored table's."""
        qualifier = column.table
        if qualifier:
            found, table = block.lookup(qualifier)
            if not found:
                return qualifier, ""
            return (qualifier, table) if table is not None else None
        if len(block.sources) == 1:
            alias, table = next(iter(block.sources.items()))
            return (alias, table) if table is not None else None
        if not block.sources:
            return None
        return "", ""

    def _add(self, column: exp.Column, block: _Block, role: str, detail: str = "", reason: str = "") -> None:
        resolved = self._resolve(column, block)
        if resolved is not None:
            self.uses.append(ColumnUse(resolved[1], column.name, role, block.number, detail, reason))

    def _name(self, column: exp.Column, block: _Block) -> str:
        """`table.column` as a join's detail names the other side."""
        resolved = self._resolve(column, block)
        table = resolved[1] if resolved else column.table
        return f"{table}.{column.name}" if table else column.name

    # -- one block ---------------------------------------------------------------------------------

    def _describe_block(self, block: _Block) -> None:
        node = block.expression
        if not isinstance(node, exp.Select):
            self._describe_order(node.args.get("order"), block)  # a UNION's ORDER BY
            return
        for item in node.expressions:
            if isinstance(item, exp.Alias):
                block.select_aliases[item.alias] = item.this
        self._describe_select_list(node, block)
        for join in node.args.get("joins") or []:
            self._describe_join(join, block)
        where = node.args.get("where")
        self._describe_condition(where.this if where else None, block)
        group = node.args.get("group")
        for item in (group.expressions if group else []):
            self._describe_sort_key(item, "group", "asc", block)
        self._describe_order(node.args.get("order"), block)

    def _describe_select_list(self, select: exp.Select, block: _Block) -> None:
        for item in select.expressions:
            target = _unwrap(item.this if isinstance(item, exp.Alias) else item)
            if isinstance(target, exp.Star):
                for table in block.sources.values():
                    if table:
                        self.uses.append(ColumnUse(table, "*", "select", block.number))
            elif isinstance(target, exp.Column) and isinstance(target.this, exp.Star):
                _, table = block.lookup(target.table)
                if table:
                    self.uses.append(ColumnUse(table, "*", "select", block.number))
            else:
                for column in _local_columns(target):
                    self._add(column, block, "select")

    def _describe_join(self, join: exp.Join, block: _Block) -> None:
        self._describe_condition(join.args.get("on"), block)
        using = join.args.get("using") or []
        if not using:
            return
        right = join.this.alias_or_name if isinstance(join.this, exp.Table) else ""
        others = [alias for alias in block.sources if alias != right]
        left = others[0] if len(others) == 1 else ""
        for identifier in using:
            name = identifier.name
            left_table = (block.sources.get(left) or "") if left else ""
            right_table = block.sources.get(right) or ""
            self.uses.append(ColumnUse(left_table, name, "join", block.number, f"{right_table}.{name}"))
            self.uses.append(ColumnUse(right_table, name, "join", block.number, f"{left_table}.{name}"))

    def _describe_order(self, order: exp.Order | None, block: _Block) -> None:
        for item in (order.expressions if order else []):
            direction = "desc" if item.args.get("desc") else "asc"
            self._describe_sort_key(item.this, "order", direction, block)

    def _describe_sort_key(self, key: exp.Expression, role: str, direction: str, block: _Block) -> None:
        key = _unwrap(key)
        select = block.expression
        if isinstance(key, exp.Literal) and not key.is_string and key.this.isdigit() and isinstance(select, exp.Select):
            position = int(key.this) - 1  # ORDER BY 2: the second selected expression
            if 0 <= position < len(select.expressions):
                item = select.expressions[position]
                key = _unwrap(item.this if isinstance(item, exp.Alias) else item)
        elif isinstance(key, exp.Column) and not key.table and key.name in block.select_aliases:
            key = _unwrap(block.select_aliases[key.name])
        if isinstance(key, exp.Column):
            self._add(key, block, role, direction)
            return
        columns = list(_local_columns(key))
        if not columns:
            # ORDER BY COUNT(*) (or a constant): no column to index, but the sort is real, and no index
            # serves it. Recorded with no table, so nothing takes it for one table's sort.
            self.uses.append(ColumnUse("", key.sql(dialect="mysql"), role, block.number, direction, "function"))
            return
        for column in columns:
            self._add(column, block, role, direction, "function")

    # -- conditions -------------------------------------------------------------------------------

    def _describe_condition(self, condition: exp.Expression | None, block: _Block) -> None:
        for part in _conjuncts(condition):
            if isinstance(part, (exp.Or, exp.Xor)):
                self._describe_or(part, block)
            else:
                self._describe_predicate(part, block)

    def _describe_or(self, node: exp.Expression, block: _Block) -> None:
        """An OR over one column is like IN; over several columns no single index seeks it."""
        columns = _local_columns(node)
        names = {(self._resolve(c, block), c.name.lower()) for c in columns}
        if len(names) <= 1:
            for part in _disjuncts(node):
                self._describe_condition(part, block)
            return
        for column in columns:
            self._add(column, block, "not_sargable", reason="or")

    def _describe_predicate(self, node: exp.Expression, block: _Block) -> None:
        negated = False
        if isinstance(node, exp.Not):
            negated, node = True, _unwrap(node.this)
        if isinstance(node, exp.Like) and node.args.get("negate"):
            negated = True
        if isinstance(node, exp.Is) and isinstance(_unwrap(node.expression), exp.Null):
            self._compare_to_value(node.this, block, "range" if negated else "is_null", "not null" if negated else "")
        elif negated:
            self._not_sargable_all(node, block, "negation")
        elif isinstance(node, _EQ_OPS + _RANGE_OPS):
            self._describe_comparison(node, block)
        elif isinstance(node, exp.NEQ):
            self._not_sargable_all(node, block, "negation")
        elif isinstance(node, exp.In):
            self._describe_in(node, block)
        elif isinstance(node, exp.Between):
            self._compare_to_value(node.this, block, "range", _value_type(node.args.get("low")))
        elif isinstance(node, exp.Like):
            self._describe_like(node, block)
        elif isinstance(node, exp.Column):
            self._add(node, block, "not_sargable", reason="negation")  # WHERE flag means flag <> 0
        elif isinstance(node, (exp.Exists, exp.Boolean, exp.Literal)):
            return  # a subquery describes itself; a constant has no columns
        else:
            self._not_sargable_all(node, block, "function")

    def _not_sargable_all(self, node: exp.Expression, block: _Block, reason: str) -> None:
        for column in _local_columns(node):
            self._add(column, block, "not_sargable", reason=reason)

    def _compare_to_value(self, side: exp.Expression, block: _Block, role: str, detail: str) -> None:
        side = _unwrap(side)
        if isinstance(side, exp.Column):
            self._add(side, block, role, detail)
        else:
            self._not_sargable_all(side, block, "function")

    def _describe_comparison(self, node: exp.Expression, block: _Block) -> None:
        role = "eq" if isinstance(node, _EQ_OPS) else "range"
        left, right = _unwrap(node.this), _unwrap(node.expression)
        left_column = isinstance(left, exp.Column) and not isinstance(left.this, exp.Star)
        right_column = isinstance(right, exp.Column) and not isinstance(right.this, exp.Star)
        if left_column and right_column:
            self._describe_column_pair(left, right, role, block)
            return
        for side, other, is_column in ((left, right, left_column), (right, left, right_column)):
            if is_column:
                other_columns = _local_columns(other)
                detail = "expression" if other_columns else _value_type(other)
                self._add(side, block, role, detail)
            else:
                self._not_sargable_all(side, block, "function")

    def _describe_column_pair(self, left: exp.Column, right: exp.Column, role: str, block: _Block) -> None:
        left_ref, right_ref = self._resolve(left, block), self._resolve(right, block)
        same_reference = left_ref is not None and left_ref == right_ref and left_ref[0] != ""
        if same_reference or (left_ref == ("", "") and right_ref == ("", "") and not left.table):
            for column in (left, right):
                self._add(column, block, "not_sargable", reason="column comparison")
            return
        join_role = "join" if role == "eq" else role
        self._add(left, block, join_role, self._name(right, block))
        self._add(right, block, join_role, self._name(left, block))

    def _describe_in(self, node: exp.In, block: _Block) -> None:
        query = node.args.get("query")
        values = node.expressions
        if query is not None:
            role, detail = "in", "subquery"
        else:
            role = "eq" if len(values) == 1 else "in"
            detail = _value_type(values[0]) if values else "expression"
        subject = _unwrap(node.this)
        if isinstance(subject, exp.Tuple):  # (a, b) IN ((1, 2), (3, 4))
            for item in subject.expressions:
                self._compare_to_value(item, block, "in", "expression")
        else:
            self._compare_to_value(subject, block, role, detail)

    def _describe_like(self, node: exp.Like, block: _Block) -> None:
        pattern = _unwrap(node.expression)
        if isinstance(pattern, (exp.Concat, exp.Anonymous)) and pattern.expressions:
            pattern = _unwrap(pattern.expressions[0])  # CONCAT('%', ?) starts with what its first part does
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            leading = pattern.this[:1] in ("%", "_")
            if leading:
                role, detail, reason = "not_sargable", "", "leading wildcard"
            else:
                role, detail, reason = "like_prefix", "string", ""
        else:
            role, detail, reason = "like_prefix", _value_type(pattern), ""
        subject = _unwrap(node.this)
        if isinstance(subject, exp.Column):
            self._add(subject, block, role, detail, reason)
        else:
            self._not_sargable_all(subject, block, "function")

    # -- writes --------------------------------------------------------------------------------------

    def _describe_write(self, block: _Block) -> str | None:
        """UPDATE/DELETE: SET columns, WHERE, ORDER BY; returns the table written."""
        tree = self.tree
        # Multi-table forms keep their joins on the first table: UPDATE a JOIN b ..., DELETE ... USING a JOIN b.
        for table in [tree.this, *(tree.args.get("using") or [])]:
            for join in (table.args.get("joins") or []) if isinstance(table, exp.Table) else []:
                self._describe_join(join, block)
        targets = []
        for assignment in tree.expressions if isinstance(tree, exp.Update) else []:
            column = _unwrap(assignment.this)
            if isinstance(column, exp.Column):
                self._add(column, block, "set")
                resolved = self._resolve(column, block)
                if resolved and resolved[1]:
                    targets.append(resolved[1])
            for read in _local_columns(assignment.expression):
                self._add(read, block, "select")
        if isinstance(tree, exp.Delete) and tree.args.get("tables"):
            first = tree.args["tables"][0]
            found, table = block.lookup(first.alias_or_name)
            targets.append(table if found and table else _table_name(first))
        where = tree.args.get("where")
        self._describe_condition(where.this if where else None, block)
        self._describe_order(tree.args.get("order"), block)
        if targets:
            return targets[0]
        return _table_name(tree.this) if _is_real_table(tree.this) else None

    def _describe_insert(self, block: _Block) -> tuple[str | None, int]:
        """INSERT: the column list and ON DUPLICATE KEY UPDATE columns are set; rows of VALUES."""
        tree = self.tree
        schema = tree.this
        table = schema.this if isinstance(schema, exp.Schema) else schema
        target = _table_name(table) if _is_real_table(table) else None
        if isinstance(schema, exp.Schema) and target:
            for identifier in schema.expressions:
                self.uses.append(ColumnUse(target, identifier.name, "set", 0))
        conflict = tree.args.get("conflict")
        if conflict is not None and target:
            target_block = _Block(0, tree, {table.alias_or_name: target})
            for assignment in conflict.expressions:
                column = _unwrap(assignment.this) if isinstance(assignment, exp.EQ) else None
                if isinstance(column, exp.Column):
                    self._add(column, target_block, "set", "on duplicate key")
        values = tree.expression
        rows = len(values.expressions) if isinstance(values, exp.Values) else 0
        return target, rows
