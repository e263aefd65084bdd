"""Turn a loop of statements into one statement, from the SQL the loop actually sent (via sqlglot).

The rewrites are suggestions shown to a developer, built from the samples' literal values:
`WHERE id = 1` x N  ->  `WHERE id IN (1, 2, ...)`; N single-row INSERTs -> one multi-row INSERT;
N UPDATEs with per-row values -> one UPDATE with CASE, or INSERT ... ON DUPLICATE KEY UPDATE.
Every function returns None when the samples do not have the expected shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp

from query_audit.analyze.fingerprint import literal_pieces, statement_kind
from query_audit.model import Kind

DIALECT = "mysql"
# How many distinct samples of a loop a rewrite reads: enough to find the column that changes and to
# show a few rows or values; the loop's size comes from its counts, not from its samples. Parsing is
# the advisor's main cost (about 1 ms a statement), so this bounds it per finding.
SAMPLE_LIMIT = 5


def _parse(sql: str) -> exp.Expression | None:
    """A fresh tree of `sql` (callers may change it), or None when sqlglot cannot parse it."""
    tree = _parsed(sql)
    return tree.copy() if tree is not None else None


@lru_cache(maxsize=64)  # a rule rereads one loop's samples right away; trees are big, so keep few
def _parsed(sql: str) -> exp.Expression | None:
    """Each distinct text is parsed once: the rules read the same samples again (loop_key, then the
    rewrite). The shared tree must not be changed: `_parse` hands out copies, `_trees` read-only ones."""
    try:
        return sqlglot.parse_one(sql, read=DIALECT)
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return None


def _trees(samples) -> list[exp.Expression | None]:
    """The shared, read-only trees of the first SAMPLE_LIMIT distinct samples (None where unparsable)."""
    return [_parsed(sql) for sql in list(dict.fromkeys(samples))[:SAMPLE_LIMIT]]


@lru_cache(maxsize=512)
def _literal(sql: str) -> exp.Expression:
    """A value or column reference written as SQL (`42`, `'a'`, `o.id`), parsed once."""
    return sqlglot.parse_one(sql, read=DIALECT)


def _is_value(node: exp.Expression) -> bool:
    if isinstance(node, exp.Neg):
        node = node.this
    return isinstance(node, (exp.Literal, exp.Null, exp.Boolean))


def _column_equalities(tree: exp.Expression) -> list[tuple[str, exp.EQ]]:
    """`column = literal` predicates of the WHERE, keyed by the column as written."""
    where = tree.args.get("where")
    if where is None:
        return []
    found = []
    for eq in where.find_all(exp.EQ):
        column, value = eq.this, eq.expression
        if isinstance(value, exp.Column) and _is_value(column):
            column, value = value, column
        if isinstance(column, exp.Column) and _is_value(value):
            found.append((column.sql(dialect=DIALECT), eq))
    return found


def _value_of(eq: exp.EQ) -> exp.Expression:
    return eq.expression if isinstance(eq.this, exp.Column) else eq.this


def _unique_values(values: list[exp.Expression]) -> list[exp.Expression]:
    seen: dict[str, exp.Expression] = {}
    for value in values:
        seen.setdefault(value.sql(dialect=DIALECT), value)
    return list(seen.values())


@dataclass(frozen=True)
class LoopKey:
    """The WHERE column whose value changes from one statement of the loop to the next."""

    column: str  # as written, e.g. `o.customer_id` or `id`
    name: str  # the bare column name
    values: tuple[str, ...]  # distinct values, as SQL literals


def loop_key(samples) -> LoopKey | None:
    """The first `column = literal` whose literal differs between the samples."""
    distinct = list(dict.fromkeys(samples))[:SAMPLE_LIMIT]
    if not any(_may_compare_a_value(sql) for sql in distinct):
        return None  # no `column = value` to parse for (a report query's ranges and IN lists)
    if statement_kind(distinct[0]) is Kind.UPDATE:
        # An UPDATE loop's rewrite reads every sample's SET values from their trees: parse them once now.
        return _loop_key_from_trees(distinct)
    found = _loop_key_by_position(distinct)
    return _loop_key_from_trees(distinct) if found is _UNRESOLVED else found


# `= value` or `value =` written in the text: without one (and without a comment, which may sit between
# them), no tree of the statement has a `column = literal` for `loop_key` to find.
_EQUALS_BEFORE = re.compile(r"(?<![<>!:])=\s*[-+]?\s*\Z")  # not `>=`, `<=`, `!=`, `:=`
_EQUALS_AFTER = re.compile(r"\s*=")
_EQUALS_CONSTANT = re.compile(r"=\s*(?:null|true|false)\b|\b(?:null|true|false)\s*=", re.IGNORECASE)  # wider


def _may_compare_a_value(sql: str) -> bool:
    """False only when `sql` surely has no `column = literal` (a cheap test that saves a parse)."""
    if "/*" in sql or "--" in sql or "#" in sql or _EQUALS_CONSTANT.search(sql):
        return True
    pieces, literals = literal_pieces(sql)
    return any(_EQUALS_BEFORE.search(before) or _EQUALS_AFTER.match(after)
               for before, after in zip(pieces, pieces[1:]))


def _loop_key_from_trees(samples: list[str]) -> LoopKey | None:
    """`loop_key` by parsing every sample: for samples that do not share one template."""
    trees = [tree for tree in _trees(samples) if tree is not None]
    if len(trees) < 2:
        return None
    values: dict[str, list[exp.Expression]] = {}
    names: dict[str, str] = {}
    for tree in trees:
        for column, eq in _column_equalities(tree):
            values.setdefault(column, []).append(_value_of(eq))
            names[column] = eq.find(exp.Column).name
    for column, found in values.items():
        distinct = _unique_values(found)
        if len(distinct) > 1:
            return LoopKey(column, names[column], tuple(v.sql(dialect=DIALECT) for v in distinct))
    return None


_UNRESOLVED = object()  # `_loop_key_by_position` cannot tell: parse every sample instead
_MARKER_BASE = 7_310_000_000  # numbers no real loop sample is written with (checked per statement)
# A literal glued to a word is a prefixed one (x'1F', _utf8mb4'a', N'a'): a marker there would change the
# statement's meaning, so such samples take the parsing path. So do hex and bit numbers, which sqlglot
# reads as something other than a plain literal.
_GLUED = re.compile(r"[\w$]\Z")
_HEX_OR_BIT = re.compile(r"[-+]?0[xXbB]")


def _loop_key_by_position(samples: list[str]):
    """`loop_key` with one parse instead of one per sample, or `_UNRESOLVED`.

    Samples of one loop usually share a template (the same text around their literals): then one
    copy of the first, its literals replaced by numbered markers, says which literal each `column =
    literal` holds, and every sample's value is read at that position without parsing the sample.
    """
    if len(samples) < 2:
        return None
    split = [literal_pieces(sql) for sql in samples]
    pieces, literals = split[0]
    if any(other != pieces for other, _ in split[1:]):
        return _UNRESOLVED
    if any(_GLUED.search(piece) for piece in pieces[:-1]) or any(_HEX_OR_BIT.match(lit) for lit in literals):
        return _UNRESOLVED
    markers = [f"'qa_marker_{i}'" if lit[0] in "'\"" else str(_MARKER_BASE + i) for i, lit in enumerate(literals)]
    if any(marker.strip("'") in piece for marker in markers for piece in pieces):
        return _UNRESOLVED
    marked = "".join(piece + marker for piece, marker in zip(pieces, markers)) + pieces[-1]
    tree = _parsed(marked)
    if tree is None:
        return _UNRESOLVED
    position = {marker.strip("'"): i for i, marker in enumerate(markers)}
    columns: dict[str, list[int | str]] = {}  # per column: a literal's position, or a constant's SQL
    names: dict[str, str] = {}
    for column, eq in _column_equalities(tree):
        value = _value_of(eq)
        if value.comments:
            return _UNRESOLVED  # sqlglot attached a comment to the value: each sample's value SQL shows it
        if isinstance(value, exp.Literal):
            if value.this not in position:
                return _UNRESOLVED
            columns.setdefault(column, []).append(position[value.this])
        elif isinstance(value, (exp.Null, exp.Boolean)):
            columns.setdefault(column, []).append(value.sql(dialect=DIALECT))
        else:
            return _UNRESOLVED  # a sign written apart from its number (`= - 5`)
        names[column] = eq.find(exp.Column).name
    for column, slots in columns.items():
        written = [(slot, lits[slot] if isinstance(slot, int) else slot) for _, lits in split for slot in slots]
        if len({text for _, text in written}) < 2:
            continue  # one text everywhere: one value
        distinct: dict[str, None] = {}  # in the order the samples wrote them, as SQL
        for slot, text in written:
            distinct[_literal(text).sql(dialect=DIALECT) if isinstance(slot, int) else text] = None
        if len(distinct) > 1:
            return LoopKey(column, names[column], tuple(distinct))
    return None


def as_in_list(sample: str, key: LoopKey) -> str | None:
    """The sample with `key = v` replaced by `key IN (v1, v2, ...)`; a SELECT also returns the key and
    loses a LIMIT (which would now cap all the keys together)."""
    tree = _parse(sample)
    if tree is None:
        return None
    for column, eq in _column_equalities(tree):
        if column == key.column:
            values = [_literal(value).copy() for value in key.values]
            eq.replace(exp.In(this=exp.column(key.name, table=eq.find(exp.Column).table or None),
                              expressions=values))
            break
    else:
        return None
    if isinstance(tree, exp.Select):
        tree.set("limit", None)
        selected = tree.expressions
        if not any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.name == "*") for e in selected) \
                and not any(e.alias_or_name.lower() == key.name.lower() for e in selected):
            tree.select(_literal(key.column).copy(), copy=False)
    return tree.sql(dialect=DIALECT)


def multi_row_insert(samples) -> tuple[str, int] | None:
    """One INSERT with every sample's VALUES rows, and how many rows it has."""
    trees = _trees(samples)
    if not trees or any(not isinstance(t, exp.Insert) or not isinstance(t.expression, exp.Values) for t in trees):
        return None
    template = trees[0].copy()
    rows = [row.copy() for tree in trees for row in tree.expression.expressions]
    template.set("expression", exp.Values(expressions=rows))
    return template.sql(dialect=DIALECT), len(rows)


def _assignments(tree: exp.Update) -> list[tuple[str, exp.Expression]]:
    return [(eq.this.sql(dialect=DIALECT), eq.expression) for eq in tree.expressions if isinstance(eq, exp.EQ)]


def set_values_vary(samples) -> bool:
    """True when the UPDATE samples write different SET values (not only different keys)."""
    trees = [t for t in _trees(samples) if isinstance(t, exp.Update)]
    seen = {tuple((c, v.sql(dialect=DIALECT)) for c, v in _assignments(tree)) for tree in trees}
    return len(seen) > 1


def update_with_case(samples, key: LoopKey) -> str | None:
    """One UPDATE: `SET col = CASE key WHEN k1 THEN v1 ... END WHERE key IN (k1, ...)`."""
    trees = [t for t in _trees(samples) if isinstance(t, exp.Update)]
    if len(trees) < 2:
        return None
    rewritten = _parse(as_in_list(trees[0].sql(dialect=DIALECT), key) or "")
    if not isinstance(rewritten, exp.Update):
        return None
    per_key: dict[str, dict[str, exp.Expression]] = {}
    for tree in trees:
        value = next((_value_of(eq) for column, eq in _column_equalities(tree) if column == key.column), None)
        if value is not None:
            per_key.setdefault(value.sql(dialect=DIALECT), dict(_assignments(tree)))
    key_column = _literal(key.column)
    new_set = []
    for column, _ in _assignments(trees[0]):
        case = exp.Case(this=key_column.copy(), ifs=[
            exp.If(this=_literal(k).copy(), true=values[column].copy())
            for k, values in per_key.items() if column in values])
        new_set.append(exp.EQ(this=_literal(column).copy(), expression=case))
    rewritten.set("expressions", new_set)
    return rewritten.sql(dialect=DIALECT)


def upsert(samples, key: LoopKey) -> str | None:
    """`INSERT INTO t (key, cols) VALUES ... ON DUPLICATE KEY UPDATE col = VALUES(col)`, for UPDATEs whose
    WHERE is exactly `key = literal` (anything else in the WHERE cannot be expressed this way)."""
    trees = [t for t in _trees(samples) if isinstance(t, exp.Update)]
    if len(trees) < 2 or any(not isinstance(t.args.get("where").this if t.args.get("where") else None, exp.EQ)
                             for t in trees):
        return None
    columns = [column for column, _ in _assignments(trees[0])]
    rows, seen = [], set()
    for tree in trees:
        assigned = dict(_assignments(tree))
        if any(not _is_value(assigned.get(column, exp.Column())) for column in columns):
            return None  # `stock = stock - 1` cannot become a VALUES row
        key_value = _value_of(tree.args["where"].this)
        if key_value.sql(dialect=DIALECT) in seen:
            continue
        seen.add(key_value.sql(dialect=DIALECT))
        rows.append("(" + ", ".join([key_value.sql(dialect=DIALECT)] +
                                    [assigned[c].sql(dialect=DIALECT) for c in columns]) + ")")
    table = trees[0].this.sql(dialect=DIALECT)
    names = ", ".join([key.name] + [c.split(".")[-1] for c in columns])
    updates = ", ".join(f"{c.split('.')[-1]} = VALUES({c.split('.')[-1]})" for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES {', '.join(rows)} ON DUPLICATE KEY UPDATE {updates}"
