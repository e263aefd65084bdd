"""Turn a loop of statements into one statement, from the SQL the loop actually sent (via sqlglot).

The rewrites are suggestions shown to a developer, built from the samples' literal values:
`WHERE id = 1` x N  ->  `WHERE id IN (1, 2, ...)`; N single-row INSERTs -> one multi-row INSERT;
N UPDATEs with per-row values -> one UPDATE with CASE, or INSERT ... ON DUPLICATE KEY UPDATE.
Every function returns None when the samples do not have the expected shape.

A loop's samples usually share a template (the same text around their literals): they are then read from
ONE parse of a copy whose literals are numbered markers, each sample's literal put where its marker stands
(`_Template`), instead of one parse per sample.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from query_audit import sql_text
from query_audit.analyze.attribution import without_tags
from query_audit.analyze.fingerprint import literal_pieces

# One instance for every parse and `.sql()`: a dialect named by a string is built anew for each call.
# (`.sql(copy=False)` below writes trees built for that one answer: by default sqlglot copies a tree before
# writing it, which is a third of the cost.)
DIALECT = Dialect.get_or_raise("mysql")
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


def _distinct(samples) -> tuple[str, ...]:
    """The samples a rewrite reads: the first SAMPLE_LIMIT distinct ones, without their trailing
    attribution comment (sqlglot would carry it into every value of a rewritten IN list)."""
    return tuple(dict.fromkeys(without_tags(sql) for sql in samples))[:SAMPLE_LIMIT]


def _trees(samples) -> list[exp.Expression | None]:
    """The shared, read-only trees of the first SAMPLE_LIMIT distinct samples (None where unparsable)."""
    return [_parsed(sql) for sql in _distinct(samples)]


def _first_tree(samples) -> exp.Expression | None:
    """A tree of the first sample the caller may change: rebuilt from the marked tree `loop_key` read
    when the samples' template vouches for it, else parsed."""
    distinct = _distinct(samples)
    template = _template(distinct)
    if template is not None and template.rebuildable:
        return template.rebuild(template.literals[0])
    return _parse(distinct[0])


@lru_cache(maxsize=512)
def _literal(sql: str) -> exp.Expression:
    """A value or column reference written as SQL (`42`, `'a'`, `o.id`), parsed once (shared, read-only)."""
    return sqlglot.parse_one(sql, read=DIALECT)


# Most literals of a loop are plain integers and strings (no quote, backslash or control character, which
# sqlglot would unescape or escape): sqlglot reads them as these nodes and writes them back unchanged.
# Building a node is ten times cheaper than copying a parsed one, and a hundred than parsing it.
_PLAIN_INTEGER = re.compile(r"\d+")
_PLAIN_STRING = re.compile(r"'[^'\\\x00-\x1f]*'")


def _new_literal(sql: str) -> exp.Expression:
    """A fresh node of `_literal(sql)`, for a caller to put in a tree."""
    if _PLAIN_INTEGER.fullmatch(sql):
        return exp.Literal.number(sql)
    if _PLAIN_STRING.fullmatch(sql):
        return exp.Literal.string(sql[1:-1])
    return _literal(sql).copy()


@lru_cache(maxsize=512)
def _literal_sql(sql: str) -> str:
    """A literal as sqlglot writes it (`"a"` -> `'a'`): the rewrites compare and show values this way."""
    if _PLAIN_INTEGER.fullmatch(sql) or _PLAIN_STRING.fullmatch(sql):
        return sql
    return _new_literal(sql).sql(dialect=DIALECT, copy=False)


def _is_value(node: exp.Expression) -> bool:
    if isinstance(node, exp.Neg):
        node = node.this
    return isinstance(node, (exp.Literal, exp.Null, exp.Boolean))


def _written(node: exp.Expression) -> str:
    """A column or a value (a literal, NULL, a boolean, a negated number) as SQL. The generator changes none
    of these, so they are written without the copy `.sql()` makes first (half its cost on a column)."""
    return node.sql(dialect=DIALECT, copy=False)


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
            found.append((_written(column), eq))
    return found


def _value_of(eq: exp.EQ) -> exp.Expression:
    return eq.expression if isinstance(eq.this, exp.Column) else eq.this


def _unique_values(values: list[exp.Expression]) -> list[exp.Expression]:
    seen: dict[str, exp.Expression] = {}
    for value in values:
        seen.setdefault(_written(value), value)
    return list(seen.values())


@dataclass(frozen=True)
class LoopKey:
    """The WHERE column whose value changes from one statement of the loop to the next."""

    column: str  # as written, e.g. `o.customer_id` or `id`
    name: str  # the bare column name
    values: tuple[str, ...]  # distinct values, as SQL literals


def loop_key(samples) -> LoopKey | None:
    """The first `column = literal` whose literal differs between the samples."""
    distinct = list(_distinct(samples))
    if not any(_may_compare_a_value(sql) for sql in distinct):
        return None  # no `column = value` to parse for (a report query's ranges and IN lists)
    found = _loop_key_by_position(distinct)
    return _loop_key_from_trees(distinct) if found is _UNRESOLVED else found


# `= value` or `value =` written in the text (comments aside): without one, no tree of the statement has a
# `column = literal` for `loop_key` to find.
_EQUALS_BEFORE = re.compile(r"(?<![<>!:])=\s*[-+]?\s*\Z")  # not `>=`, `<=`, `!=`, `:=`
_EQUALS_AFTER = re.compile(r"\s*=")
_EQUALS_CONSTANT = re.compile(r"=\s*(?:null|true|false)\b|\b(?:null|true|false)\s*=", re.IGNORECASE)  # wider


def _may_compare_a_value(sql: str) -> bool:
    """False only when `sql` surely has no `column = literal` (a cheap test that saves a parse)."""
    if "=" not in sql:
        return False
    pieces, _ = literal_pieces(sql)
    if "/*" in sql or "--" in sql or "#" in sql:  # a comment may sit between `=` and its value: drop them
        pieces = [sql_text.strip_comments(piece) for piece in pieces]  # each piece holds whole comments
    text = "?".join(pieces)
    lowered = text.lower()  # a quick look first: the regex below is slow on a long statement
    if ("null" in lowered or "true" in lowered or "false" in lowered) and _EQUALS_CONSTANT.search(text):
        return True
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
            return LoopKey(column, names[column], tuple(_written(v) for v in distinct))
    return None


_UNRESOLVED = object()  # `_loop_key_by_position` cannot tell: parse every sample instead
_MARKER_BASE = 7_310_000_000  # numbers no real loop sample is written with (checked per statement)
# A literal glued to a word is a prefixed one (x'1F', _utf8mb4'a', N'a'): a marker there would change the
# statement's meaning, so such samples take the parsing path. So do hex and bit numbers, which sqlglot
# reads as something other than a plain literal.
_GLUED = re.compile(r"[\w$]\Z")
_HEX_OR_BIT = re.compile(r"[-+]?0[xXbB]")
# Where sqlglot reads any literal the same way, whatever its value: a sample's tree is then the marked
# tree with the sample's literal in place of the marker. Elsewhere the value can change the tree
# (`INTERVAL '1 day'` becomes `INTERVAL '1' DAY`, DATE_FORMAT translates its format string).
_PLAIN_VALUE_PARENTS = (exp.EQ, exp.NEQ, exp.NullSafeEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.In,
                        exp.Between, exp.Tuple, exp.Limit, exp.Offset, exp.Add, exp.Sub, exp.Mul, exp.Div,
                        exp.Neg, exp.Paren)
# A sign is part of a literal only after an operator or a bracket: after an operand (`stock -1`) it is a
# minus, which the marked copy (`stock 7310000000`) does not show.
_SIGN_MAY_START_A_VALUE = re.compile(r"[=<>(,]\s*\Z")


@dataclass(frozen=True, eq=False)
class _Template:
    """Samples that share one template (the same text around their literals), read from ONE parse of a
    copy of the first whose literals are numbered markers. A sample read from its own tree is a
    template without markers (`_Template.of`)."""

    tree: exp.Expression  # the marked copy's tree: shared, read-only
    position: dict[str, int]  # a marker's value -> the position of the literal it stands for
    literals: tuple[list[str], ...]  # each sample's literals as written
    rebuildable: bool  # every literal stands where its value cannot change the tree around it
    holding_markers: frozenset[int]  # ids of the markers and of every node above one (the tree keeps them)
    _shared_sql: dict[int, str] = field(default_factory=dict)  # by id: the SQL of nodes without markers

    @classmethod
    def of(cls, tree: exp.Expression) -> _Template:
        """One sample's own tree, as a template without markers."""
        return cls(tree, {}, ([],), True, frozenset())

    @cached_property
    def equalities(self) -> list[tuple[str, exp.EQ]]:
        return _column_equalities(self.tree)  # columns hold no literals: the same for every sample

    def rebuild(self, literals: list[str]) -> exp.Expression:
        """The tree of the sample with these literals, instead of a parse of the whole sample."""
        return self._substituted(self.tree.copy(), literals)

    def value(self, node: exp.Expression, literals: list[str]) -> exp.Expression:
        """`node` of the marked tree as the sample with these literals has it (read-only)."""
        if id(node) not in self.holding_markers:
            return node  # the same in every sample
        if isinstance(node, exp.Literal):  # a marker
            return _new_literal(literals[self.position[node.this]])
        return self._substituted(node.copy(), literals)

    def sql(self, node: exp.Expression, literals: list[str]) -> str:
        """The SQL of `node` as the sample with these literals has it."""
        if id(node) not in self.holding_markers:  # the same in every sample: written once
            if id(node) not in self._shared_sql:
                self._shared_sql[id(node)] = node.sql(dialect=DIALECT)
            return self._shared_sql[id(node)]
        if isinstance(node, exp.Literal):  # a marker
            return _literal_sql(literals[self.position[node.this]])
        return self._substituted(node.copy(), literals).sql(dialect=DIALECT, copy=False)

    def _substituted(self, copy: exp.Expression, literals: list[str]) -> exp.Expression:
        """A copy of marked nodes with each marker replaced by its literal (parsed once each)."""
        for node in list(copy.find_all(exp.Literal)):
            if node.this in self.position:
                replacement = _new_literal(literals[self.position[node.this]])
                if node is copy:
                    return replacement
                node.replace(replacement)
        return copy


@dataclass(frozen=True)
class _Sample:
    """One sample of a loop, read from its template's tree: where a marker stands, the sample's literal."""

    template: _Template
    literals: list[str]

    @property
    def tree(self) -> exp.Expression:
        return self.template.tree  # shared, read-only: read its nodes through `value` and `sql`

    def value(self, node: exp.Expression) -> exp.Expression:
        return self.template.value(node, self.literals)

    def sql(self, node: exp.Expression) -> str:
        return self.template.sql(node, self.literals)

    def fresh_tree(self) -> exp.Expression:
        return self.template.rebuild(self.literals)


def _samples(samples) -> list[_Sample]:
    """The first SAMPLE_LIMIT distinct samples: read by position from one parse when their template
    vouches for it, else each from its own parse (unparsable ones left out)."""
    distinct = _distinct(samples)
    template = _template(distinct)
    if template is not None and template.rebuildable:
        return [_Sample(template, literals) for literals in template.literals]
    return [_Sample(_Template.of(tree), []) for tree in map(_parsed, distinct) if tree is not None]


@lru_cache(maxsize=16)
def _template(samples: tuple[str, ...]) -> _Template | None:
    """The samples' shared template, or None when they do not share one the markers can stand in."""
    split = [literal_pieces(sql) for sql in samples]
    pieces, literals = split[0]
    if any(other != pieces for other, _ in split[1:]):
        return None
    if any(_GLUED.search(piece) for piece in pieces[:-1]) or any(_HEX_OR_BIT.match(lit) for lit in literals):
        return None
    markers = [f"'qa_marker_{i}'" if lit[0] in "'\"" else str(_MARKER_BASE + i) for i, lit in enumerate(literals)]
    if any(marker.strip("'") in piece for marker in markers for piece in pieces):
        return None
    marked = "".join(piece + marker for piece, marker in zip(pieces, markers)) + pieces[-1]
    tree = _parsed(marked)
    if tree is None:
        return None
    position = {marker.strip("'"): i for i, marker in enumerate(markers)}
    found = [node for node in tree.find_all(exp.Literal) if node.this in position]
    holding_markers = {id(ancestor) for node in found for ancestor in _and_above(node)}
    rebuildable = (
        sorted(position[node.this] for node in found) == list(range(len(markers)))  # each marker once, as a value
        and all(isinstance(node.parent, _PLAIN_VALUE_PARENTS) and not node.comments for node in found)
        and all(_SIGN_MAY_START_A_VALUE.search(piece)
                for _, lits in split for piece, lit in zip(pieces, lits) if lit[0] in "+-"))
    return _Template(tree, position, tuple(lits for _, lits in split), rebuildable, frozenset(holding_markers))


def _and_above(node: exp.Expression):
    while node is not None:
        yield node
        node = node.parent


def _loop_key_by_position(samples: list[str]):
    """`loop_key` with one parse instead of one per sample, or `_UNRESOLVED`.

    Samples of one loop usually share a template: then its marked tree says which literal each `column =
    literal` holds, and every sample's value is read at that position without parsing the sample.
    """
    if len(samples) < 2:
        return None
    template = _template(tuple(samples))
    if template is None:
        return _UNRESOLVED
    columns: dict[str, list[int | str]] = {}  # per column: a literal's position, or a constant's SQL
    names: dict[str, str] = {}
    for column, eq in template.equalities:
        value = _value_of(eq)
        if value.comments:
            return _UNRESOLVED  # sqlglot attached a comment to the value: each sample's value SQL shows it
        if isinstance(value, exp.Literal):
            if value.this not in template.position:
                return _UNRESOLVED
            columns.setdefault(column, []).append(template.position[value.this])
        elif isinstance(value, (exp.Null, exp.Boolean)):
            columns.setdefault(column, []).append(_written(value))
        else:
            return _UNRESOLVED  # a sign written apart from its number (`= - 5`)
        names[column] = eq.find(exp.Column).name
    for column, slots in columns.items():
        written = [(slot, lits[slot] if isinstance(slot, int) else slot)
                   for lits in template.literals for slot in slots]
        if len({text for _, text in written}) < 2:
            continue  # one text everywhere: one value
        distinct: dict[str, None] = {}  # in the order the samples wrote them, as SQL
        for slot, text in written:
            distinct[_literal_sql(text) if isinstance(slot, int) else text] = None
        if len(distinct) > 1:
            return LoopKey(column, names[column], tuple(distinct))
    return None


def as_in_list(samples, key: LoopKey) -> str | None:
    """The first sample with `key = v` replaced by `key IN (v1, v2, ...)`; a SELECT also returns the key
    and loses a LIMIT (which would now cap all the keys together)."""
    tree = _with_in_list(_first_tree(samples), key)
    return tree.sql(dialect=DIALECT, copy=False) if tree is not None else None


def _with_in_list(tree: exp.Expression | None, key: LoopKey) -> exp.Expression | None:
    """`as_in_list` on a tree it may change (the same tree, or None)."""
    if tree is None:
        return None
    for column, eq in _column_equalities(tree):
        if column == key.column:
            values = [_new_literal(value) for value in key.values]
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
            tree.select(_new_literal(key.column), copy=False)
        if is_aggregate(tree):
            # One group per key, as the loop had one answer per key (valid under ONLY_FULL_GROUP_BY).
            tree.group_by(_new_literal(key.column), copy=False)
    return tree


def is_aggregate(tree: exp.Expression | None) -> bool:
    """A SELECT whose answer is grouped: an aggregate in its select list, or a GROUP BY."""
    if not isinstance(tree, exp.Select):
        return False
    return bool(tree.args.get("group")) or any(
        isinstance(node, exp.AggFunc) for e in tree.expressions for node in e.walk())


def loop_is_aggregate(samples) -> bool:
    """Whether the loop's statement is an aggregate, read from the tree the rewrite already parsed."""
    distinct = _distinct(samples)
    template = _template(distinct)
    return is_aggregate(template.tree if template is not None else _parsed(distinct[0]))


def multi_row_insert(samples) -> tuple[str, int] | None:
    """One INSERT with every sample's VALUES rows, and how many rows it has."""
    trees = _trees(samples)
    if not trees or any(not isinstance(t, exp.Insert) or not isinstance(t.expression, exp.Values) for t in trees):
        return None
    template = trees[0].copy()
    rows = [row.copy() for tree in trees for row in tree.expression.expressions]
    template.set("expression", exp.Values(expressions=rows))
    return template.sql(dialect=DIALECT, copy=False), len(rows)


def _updates(samples) -> list[_Sample]:
    return [sample for sample in _samples(samples) if isinstance(sample.tree, exp.Update)]


def _assignments(sample: _Sample) -> list[tuple[str, exp.Expression]]:
    """The SET clause: each column as written, and its value as a node of the sample's tree."""
    return [(sample.sql(eq.this), eq.expression) for eq in sample.tree.expressions if isinstance(eq, exp.EQ)]


def set_values_vary(samples) -> bool:
    """True when the UPDATE samples write different SET values (not only different keys)."""
    seen = {tuple((column, sample.sql(value)) for column, value in _assignments(sample))
            for sample in _updates(samples)}
    return len(seen) > 1


def update_with_case(samples, key: LoopKey) -> str | None:
    """One UPDATE: `SET col = CASE key WHEN k1 THEN v1 ... END WHERE key IN (k1, ...)`."""
    updates = _updates(samples)
    if len(updates) < 2:
        return None
    rewritten = _with_in_list(updates[0].fresh_tree(), key)
    if not isinstance(rewritten, exp.Update):
        return None
    per_key: dict[str, dict[str, exp.Expression]] = {}
    for sample in updates:
        value = next((_value_of(eq) for column, eq in sample.template.equalities if column == key.column), None)
        if value is not None:
            per_key.setdefault(sample.sql(value),
                               {column: sample.value(assigned) for column, assigned in _assignments(sample)})
    new_set = []
    for column, _ in _assignments(updates[0]):
        case = exp.Case(this=_new_literal(key.column), ifs=[
            exp.If(this=_new_literal(k), true=values[column].copy())
            for k, values in per_key.items() if column in values])
        new_set.append(exp.EQ(this=_new_literal(column), expression=case))
    rewritten.set("expressions", new_set)
    return rewritten.sql(dialect=DIALECT, copy=False)


def upsert(samples, key: LoopKey) -> str | None:
    """`INSERT INTO t (key, cols) VALUES ... ON DUPLICATE KEY UPDATE col = VALUES(col)`, for UPDATEs whose
    WHERE is exactly `key = literal` (anything else in the WHERE cannot be expressed this way)."""
    updates = _updates(samples)
    if len(updates) < 2 or any(not isinstance(u.tree.args.get("where").this if u.tree.args.get("where") else None,
                                              exp.EQ) for u in updates):
        return None
    columns = [column for column, _ in _assignments(updates[0])]
    rows, seen = [], set()
    for sample in updates:
        assigned = dict(_assignments(sample))
        if any(column not in assigned or not _is_value(sample.value(assigned[column])) for column in columns):
            return None  # `stock = stock - 1` cannot become a VALUES row
        key_value = sample.sql(_value_of(sample.tree.args["where"].this))
        if key_value in seen:
            continue
        seen.add(key_value)
        rows.append("(" + ", ".join([key_value] + [sample.sql(assigned[c]) for c in columns]) + ")")
    table = updates[0].sql(updates[0].tree.this)
    names = ", ".join([key.name] + [c.split(".")[-1] for c in columns])
    updates_sql = ", ".join(f"{c.split('.')[-1]} = VALUES({c.split('.')[-1]})" for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES {', '.join(rows)} ON DUPLICATE KEY UPDATE {updates_sql}"


def join_rewrite(parent_sql: str, parent_table: str, parent_column: str, samples, key: LoopKey) -> str | None:
    """The loop and the query that fetched its keys as one SELECT: the loop's columns, from the parent's rows
    joined to the loop's table on `loop.key = parent.parent_column`, under the parent's WHERE. It returns what
    the loop returned, a loop statement's rows once per parent row. A parent with a LIMIT is read as a
    derived table named like the parent, so its LIMIT still picks the same parent rows.

    None where that would not hold or cannot be written: an aggregate or LIMITed loop (its answer is per
    key), a loop or parent reading more than one table, a parent with DISTINCT, GROUP BY or UNION."""
    # The parent's attribution comment names its own line: it does not belong on the rewrite.
    parent, loop = _parse(without_tags(parent_sql)), _first_tree(samples)
    if not isinstance(parent, exp.Select) or not isinstance(loop, exp.Select) or is_aggregate(loop):
        return None
    if loop.args.get("limit") or loop.args.get("joins") or parent.args.get("joins") or any(
            parent.args.get(name) for name in ("distinct", "group", "having", "with_", "with")):
        return None
    parent_ref = _single_table(parent, parent_table)
    child = loop.args.get("from_") or loop.args.get("from")
    child_table = child.this if child is not None else None
    if parent_ref is None or not isinstance(child_table, exp.Table):
        return None
    child_ref = child_table.alias_or_name
    where = _without_key(loop, key)
    if where is False:
        return None
    parent.set("operation_modifiers", None)  # SQL_CALC_FOUND_ROWS belongs to the parent's own answer
    for node in (loop, where, parent):
        _qualify(node, child_ref if node is not parent else parent_ref)
    joined = exp.select(*[e.copy() for e in loop.expressions]).from_(_parent_source(parent, parent_ref,
                                                                                      parent_column), copy=False)
    joined.join(child_table.copy(), on=exp.EQ(this=exp.column(key.name, child_ref),
                                              expression=exp.column(parent_column, parent_ref)), copy=False)
    conditions = [c for c in (None if parent.args.get("limit") else _where_of(parent), where) if c is not None]
    if conditions:
        joined.where(exp.and_(*conditions), copy=False)
    order = parent.args.get("order") if not parent.args.get("limit") else None
    if order is not None:
        joined.set("order", order.copy())
    return joined.sql(dialect=DIALECT, copy=False)


def _single_table(tree: exp.Select, table: str) -> str | None:
    """The name the SELECT's only table goes by (its alias, or its name), when it is `table`."""
    source = tree.args.get("from_") or tree.args.get("from")
    if source is None or not isinstance(source.this, exp.Table):
        return None
    if source.this.name.lower() != table.replace("`", "").split(".")[-1].lower():
        return None
    return source.this.alias_or_name


def _where_of(tree: exp.Select) -> exp.Expression | None:
    where = tree.args.get("where")
    return where.this.copy() if where is not None else None


def _without_key(loop: exp.Select, key: LoopKey):
    """The loop's WHERE without its `key = value` (None when nothing else remains; False when the key's
    equality is not one of its AND terms, so it cannot be taken out)."""
    where = loop.args.get("where")
    terms = list(where.this.flatten()) if where is not None and isinstance(where.this, exp.And) else \
        ([where.this] if where is not None else [])
    keyed = [t for t in terms if isinstance(t, exp.EQ) and any(
        column == key.column for column, eq in _column_equalities(exp.select("1").where(t.copy())))]
    if len(keyed) != 1:
        return False
    rest = [t.copy() for t in terms if t is not keyed[0]]
    return exp.and_(*rest) if rest else None


def _qualify(node: exp.Expression | None, name: str) -> None:
    """Give every column without a table this table's name (in place): two tables now share the scope."""
    if node is None:
        return
    for column in node.find_all(exp.Column):
        if not column.table:
            column.set("table", exp.to_identifier(name))
    if isinstance(node, exp.Select):
        for index, expression in enumerate(node.expressions):
            if isinstance(expression, exp.Star):
                node.expressions[index] = exp.Column(this=exp.Star(), table=exp.to_identifier(name))


def _parent_source(parent: exp.Select, parent_ref: str, parent_column: str) -> exp.Expression:
    """The parent's table, or with a LIMIT the parent's rows as a derived table named like the table."""
    if not parent.args.get("limit"):
        source = parent.args.get("from_") or parent.args.get("from")
        return source.this.copy()
    derived = parent.copy()
    derived.set("expressions", [exp.column(parent_column, parent_ref)])
    return exp.Subquery(this=derived, alias=exp.TableAlias(this=exp.to_identifier(parent_ref)))
