"""Predicates no B-tree index can serve as written, why, and the rewrite that lets an index serve them.

The statement model (`analyze.sql_model`) already marks such columns `not_sargable` with a reason, and the
index advisor adds string columns compared with numbers; this module finds the predicate itself in the
sample's WHERE (its top-level AND terms) and rewrites it:

    DATE(c) = '2023-03-05'      ->  c >= '2023-03-05' AND c < '2023-03-05' + INTERVAL 1 DAY
    YEAR(c) = 2023              ->  c >= '2023-01-01' AND c < '2024-01-01'
    title LIKE '%garden%'       ->  MATCH(title) AGAINST('garden*' IN BOOLEAN MODE), with a FULLTEXT index
    text_column = 100041        ->  text_column = '100041'
    a = 1 OR b = 2              ->  ... WHERE a = 1 UNION ALL ... WHERE b = 2 AND NOT (a = 1) IS TRUE

CAST/arithmetic on a column, other functions, `<>`/NOT IN/NOT LIKE and column-to-column comparisons get
the reason and what to do in words: there is no exact rewrite to print for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from query_audit.advise.plan_facts import bare_name, qualified, quote_identifier
from query_audit.advise.rewrite import DIALECT
from query_audit.model import TableSchema

_COMPARISONS = (exp.EQ, exp.NullSafeEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_FULLTEXT_WORD = re.compile(r"\w{3,}")  # InnoDB's innodb_ft_min_token_size is 3 by default
_FULLTEXT_TYPES = ("char", "varchar", "tinytext", "text", "mediumtext", "longtext")


@dataclass(frozen=True)
class Unservable:
    """One predicate of a statement that no B-tree index can seek, with the reason and the fix."""

    column: str
    reason: str  # leading wildcard, function, cast, implicit conversion, negation, or, column comparison
    predicate: str  # as the statement wrote it (sqlglot's spelling)
    why: str
    fix: str
    rewritten: str | None = None  # the predicate rewritten, where a rewrite is exact or nearly so
    ddl: str | None = None  # the FULLTEXT index a MATCH ... AGAINST needs


@dataclass(frozen=True)
class PredicateAdvice:
    predicates: tuple[Unservable, ...]
    rewritten_sql: str | None  # the whole statement with every rewritable predicate rewritten


def _conjuncts(node: exp.Expression | None):
    if node is None:
        return
    node = node.unnest() if isinstance(node, exp.Paren) else node
    if isinstance(node, exp.And):
        yield from _conjuncts(node.this)
        yield from _conjuncts(node.expression)
    else:
        yield node


def _parse(sql: str) -> exp.Expression | None:
    try:
        return sqlglot.parse_one(sql, read=DIALECT)
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, RecursionError):
        return None


def _sql(node: exp.Expression) -> str:
    return node.sql(dialect=DIALECT)


def _own_columns(node: exp.Expression, names: set[str], aliases: set[str]) -> list[exp.Column]:
    return [column for column in node.find_all(exp.Column)
            if column.name.lower() in names and (not column.table or column.table.lower() in aliases)]


def _value(node: exp.Expression) -> bool:
    node = node.this if isinstance(node, exp.Neg) else node
    return isinstance(node, (exp.Literal, exp.Placeholder))


def advise_predicates(sql: str, table: str, schema: TableSchema | None, columns: dict[str, str]) -> PredicateAdvice:
    """The predicates of `sql`'s WHERE on `table` that no index can serve; `columns` maps each such column
    (bare name, lower case) to the reason the statement model or the advisor gave."""
    tree = _parse(sql)
    where = tree.args.get("where") if tree is not None else None
    if where is None:
        return PredicateAdvice((), None)
    aliases = {t.alias_or_name.lower() for t in tree.find_all(exp.Table) if t.name.lower() == bare_name(table)}
    names = set(columns)
    found: list[tuple[exp.Expression, Unservable, exp.Expression | None]] = []
    for term in _conjuncts(where.this):
        own = _own_columns(term, names, aliases)
        if own and _unservable(term, own, columns):
            found.append(_classify(term, own[0], schema, columns[own[0].name.lower()]))
    if not found:
        return PredicateAdvice((), None)
    return PredicateAdvice(tuple(item for _, item, _ in found), _rewrite_statement(tree, found))


def _unservable(term: exp.Expression, own: list[exp.Column], columns: dict[str, str]) -> bool:
    """Whether this AND term is the one the model's reason is about (not a sargable term on the same column)."""
    if isinstance(term, (exp.Or, exp.Xor, exp.Not, exp.NEQ, exp.Column)):
        return True
    sides = [term.this, term.expression] if isinstance(term, _COMPARISONS + (exp.Like,)) else [term.this]
    bare = [side for side in sides if isinstance(side, exp.Column) and side in own]
    if not bare:
        return True  # the column sits inside a function or an expression
    reason = columns[bare[0].name.lower()]
    if isinstance(term, exp.Like):
        return reason == "leading wildcard"
    others = [side for side in sides if side is not bare[0]]
    if others and isinstance(others[0], exp.Column):
        return reason == "column comparison"
    return reason.startswith("string column compared with a number")


_Classified = tuple[exp.Expression, Unservable, exp.Expression | None]


def _classify(term, column: exp.Column, schema, reason: str) -> _Classified:
    """(the predicate node, what is wrong with it and the fix, its replacement node or None)."""
    name = column.name
    predicate = _sql(term)
    if isinstance(term, (exp.Or, exp.Xor)):
        return term, Unservable(name, "or", predicate,
                                "an OR across columns: one index can seek only one side, so the server reads "
                                "every row unless each column has an index it can merge (index_merge)",
                                "split it into a UNION ALL of one SELECT per side (each then seeks its own "
                                "index), or index each column so the optimizer can merge them"), None
    if isinstance(term, exp.Like) and reason == "leading wildcard":
        return _leading_wildcard(term, column, schema)
    if reason.startswith("string column compared with a number") and column.parent is term:
        return _implicit_conversion(term, column)
    if isinstance(term, (exp.Not, exp.NEQ, exp.Column)):
        return term, Unservable(name, "negation", predicate,
                                "a negation (<>, NOT IN, NOT LIKE, a bare flag) matches everything but some "
                                "values: an index can only seek values it is given",
                                "name the values wanted instead (`IN (...)` of the few that remain, or `= 1` "
                                "for a flag); a negation that keeps most rows is cheapest as the scan it is"), None
    if reason == "column comparison":
        return term, Unservable(name, "column comparison", predicate,
                                "two columns of the same row compared: no index orders rows by that relation",
                                "store the comparison's result in a (generated) column and index that"), None
    return _function(term, column)


def _leading_wildcard(term: exp.Like, column: exp.Column, schema) -> tuple:
    name = column.name
    found = schema.column(name) if schema is not None else None
    ddl = None
    if found is not None and found.data_type.lower() in _FULLTEXT_TYPES:
        ddl = (f"ALTER TABLE {qualified(schema)} ADD FULLTEXT INDEX "
               f"{quote_identifier(_fulltext_name(schema, name))} ({quote_identifier(name)})")
    pattern = term.expression
    text = pattern.this if isinstance(pattern, exp.Literal) and pattern.is_string else ""
    word = text[1:-1] if len(text) > 2 and text[0] == text[-1] == "%" else ""
    replacement, note = None, ""
    if _FULLTEXT_WORD.fullmatch(word) and not term.args.get("escape"):
        replacement = exp.MatchAgainst(this=exp.Literal.string(f"{word}*"), expressions=[column.copy()],
                                       modifier="IN BOOLEAN MODE")
        note = (f" (MATCH finds the words that start with '{word}', where LIKE also matched it inside a word; "
                "words shorter than innodb_ft_min_token_size, 3 by default, and stopwords are not indexed)")
    unservable = Unservable(
        name, "leading wildcard", _sql(term),
        "a pattern that starts with a wildcard gives a B-tree index no prefix to seek, so every row is read",
        "search words with a FULLTEXT index and MATCH ... AGAINST" + note,
        _sql(replacement) if replacement is not None else None, ddl)
    return term, unservable, replacement


def _fulltext_name(schema: TableSchema, column: str) -> str:
    base = re.sub(r"[^0-9a-z_]", "_", f"ft_{schema.name}_{column}".lower())[:64]
    taken = {index.name.lower() for index in schema.indexes}
    return base if base not in taken else base[:60] + "_ft2"


def _implicit_conversion(term, column: exp.Column) -> tuple:
    replacement = term.copy()
    for literal in replacement.find_all(exp.Literal):
        if not literal.is_string:
            literal.replace(exp.Literal.string(literal.this))
    return term, Unservable(
        column.name, "implicit conversion", _sql(term),
        "a string column compared with a number: the server converts every row's text to a number to compare "
        "(MySQL's comparison rules), so no index on the column can seek it",
        "quote the value so the column is compared as the text it is (`= '100041'` matches the text exactly, "
        "where the number also matched '0100041' or '100041.0'); in the application, pass the value as a "
        "string", _sql(replacement), None), replacement


def _function(term, column: exp.Column) -> tuple:
    name = column.name
    sides = [term.this, term.expression] if isinstance(term, _COMPARISONS) else [term.this]
    side = next((side for side in sides if column in side.find_all(exp.Column)), term)
    expression = _sql(side)
    wrapper = column.parent
    while isinstance(wrapper, exp.Paren):
        wrapper = wrapper.parent
    date_range = _date_range(term, column)
    if date_range is not None:
        return term, Unservable(
            name, "function", _sql(term),
            f"a function around {name} ({expression}) hides it from any index on {name}: the server computes "
            "it for every row",
            f"compare the bare column with a range of the same dates; where the function cannot be moved to "
            f"the value side, index the expression (MySQL 8.0.13+: `INDEX (({expression}))`; MariaDB: an "
            f"indexed generated column `AS ({expression}) VIRTUAL`)", _sql(date_range)), date_range
    arithmetic = isinstance(wrapper, (exp.Add, exp.Sub, exp.Mul, exp.Div)) and any(
        isinstance(other, exp.Literal) and not other.is_string for other in (wrapper.this, wrapper.expression))
    if isinstance(wrapper, (exp.Cast, exp.TryCast)) or arithmetic:
        return term, Unservable(
            name, "cast", _sql(term),
            f"{name} is converted ({expression}) for every row before the comparison: no index on the stored "
            "text can seek a converted value",
            f"keep values compared as numbers in a numeric column: a typed column (or lookup table) written with "
            f"the row, or an indexed generated column `AS ({expression})`; MySQL 8.0.13+ can index the "
            f"expression itself (`INDEX (({expression}))`)"), None
    return term, Unservable(
        name, "function", _sql(term),
        f"a function around {name} ({expression}) hides it from any index on {name}: the server computes it "
        "for every row",
        f"move the function to the value side so the bare column is compared; otherwise index the expression "
        f"(MySQL 8.0.13+: `INDEX (({expression}))`; MariaDB: an indexed generated column `AS ({expression})`)"), None


def _date_range(term, column: exp.Column) -> exp.Expression | None:
    """`DATE(c) = v` or `YEAR(c) = 2023` as a range on the bare column; None for anything else."""
    if not isinstance(term, exp.EQ):
        return None
    function, value = term.this, term.expression
    if _value(function):
        function, value = value, function
    if not _value(value):
        return None
    bare = _sql(column)
    if isinstance(function, exp.Year):
        inner = function.this.this if isinstance(function.this, exp.TsOrDsToDate) else function.this
        if inner is not column or not (isinstance(value, exp.Literal) and value.this.isdigit()):
            return None
        year = int(value.this)
        text = f"{bare} >= '{year:04d}-01-01' AND {bare} < '{year + 1:04d}-01-01'"
    elif isinstance(function, (exp.TsOrDsToDate, exp.Date)) and function.this is column \
            and not function.args.get("format"):
        shown = _sql(value)
        text = f"{bare} >= {shown} AND {bare} < {shown} + INTERVAL 1 DAY"
    else:
        return None
    return _condition(text)


def _condition(text: str) -> exp.Expression:
    return sqlglot.parse_one(f"SELECT 1 WHERE {text}", read=DIALECT).args["where"].this


def _rewrite_statement(tree: exp.Expression, found) -> str | None:
    """The statement with every predicate that has a replacement replaced, and an OR split into a UNION ALL."""
    replacements = [(node, new) for node, _, new in found if new is not None]
    ors = [node for node, item, _ in found if item.reason == "or"]
    if not replacements and not ors:
        return None
    copy = tree.copy()
    # Nodes of the copy in the same walk order as the original's: match them by position.
    originals = list(tree.walk())
    copies = list(copy.walk())
    where_of = {id(original): twin for original, twin in zip(originals, copies)}
    for node, new in replacements:
        twin = where_of[id(node)]
        twin.replace(new if isinstance(twin.parent, (exp.Where, exp.And, exp.Paren)) else exp.Paren(this=new))
    if not ors:
        return _sql(copy)
    if len(ors) > 1:
        return None
    return _union_all(copy, where_of[id(ors[0])])


def _union_all(tree: exp.Expression, disjunction: exp.Expression) -> str | None:
    """One SELECT per side of the OR; each later side excludes the rows of the earlier ones, so the UNION ALL
    returns exactly the rows (and duplicates) the OR did. Only for a plain SELECT: grouping, DISTINCT,
    ORDER BY and LIMIT would apply to each branch instead of the whole."""
    if not isinstance(tree, exp.Select) or any(tree.args.get(key) for key in (
            "group", "having", "order", "limit", "offset", "distinct", "joins")):
        return None
    if any(isinstance(e.unalias(), exp.AggFunc) for e in tree.expressions):
        return None
    sides = []
    node = disjunction.unnest() if isinstance(disjunction, exp.Paren) else disjunction
    while isinstance(node, exp.Or):
        sides.insert(0, node.expression)
        node = node.this.unnest() if isinstance(node.this, exp.Paren) else node.this
    sides.insert(0, node)
    branches = []
    for number, side in enumerate(sides):
        branch = tree.copy()
        target = next(n for n in branch.walk() if n == disjunction)
        excluded = [exp.not_(exp.Is(this=exp.Paren(this=earlier.copy()), expression=exp.true()))
                    for earlier in sides[:number]]
        condition = exp.and_(side.copy(), *excluded) if excluded else side.copy()
        bare = isinstance(target.parent, (exp.Where, exp.And, exp.Paren))
        target.replace(condition if bare else exp.Paren(this=condition))
        branches.append(_sql(branch))
    return " UNION ALL ".join(branches)
