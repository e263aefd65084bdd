"""The EXPLAIN guard: only statements that cannot run code are EXPLAINed.

EXPLAIN is not inert (DOMAIN.md, seen on MariaDB 10.11): while the plan is built the server executes
derived tables, CTEs and subqueries, and with them every function they call. A stored function with
MyISAM writes, a sequence's NEXTVAL/SETVAL, SLEEP, GET_LOCK, or an `SQL SECURITY INVOKER` function
running with the tool's privileges would all take effect, and a ROLLBACK undoes none of them. Every
captured statement and log line is hostile input, so the rule is an allow-list:

- Every function call in the text must be a known built-in without side effects (`BUILTIN_FUNCTIONS`),
  written unquoted, unqualified and directly followed by `(`. The server resolves `count (1)` (a
  space), `` `abs`(1) `` (quoted) and `db.abs(1)` (qualified) to *stored* functions: verified on
  MariaDB 10.11. Anything else followed by `(` is refused, except reserved words (which no unquoted
  function can be named) and a few places where a name before `(` is not a call (`INSERT INTO t (a)`,
  `AS DECIMAL(10,2)`, a CTE's column list, `) OVER (`, `MATCH (...) AGAINST (`).
- Sequences are refused however they are written: `NEXT VALUE FOR s`, `PREVIOUS VALUE FOR s`,
  `NEXTVAL(s)`, `s.nextval`, ... (any NEXTVAL/LASTVAL/SETVAL/CURRVAL word).
- The text is read the way the server lexes it (not the way sqlglot does): `/*! ... */` bodies are code,
  `--x` without a space is two minus signs, strings take backslash escapes. `harden_session` sets the
  EXPLAIN connection's sql_mode so that this holds (no ANSI_QUOTES, no NO_BACKSLASH_ESCAPES).
- sqlglot's tree is checked as well (a second opinion, from the parse `sql_model.describe` already
  made): a call it cannot type (`Anonymous`) must be an allowed built-in, and none may be qualified. A
  statement sqlglot cannot parse (or reads as an opaque Command, like REPLACE) is EXPLAINed only if it
  has no call at all.
- Views run their own definitions: a statement naming a view is EXPLAINed only if the view's
  definition passes the same guard (`ViewCatalog`).

Defence in depth on the connection (`harden_session`, `bounded`): lock-wait limits, a per-statement
time limit, and the read-only transaction of `explain._run_explain`.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import pymysql

from query_audit import sql_text
from query_audit.driver import is_connection_lost
from query_audit.errors import ConnectionFailed
from query_audit.identifiers import quote_identifier as _quote
from query_audit.model import StatementModel


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Built-in functions of MySQL 5.7/8 and MariaDB 10.x that only compute a value from their arguments
# (or read the session/clock). Deliberately absent: SLEEP, BENCHMARK, GET_LOCK, RELEASE_LOCK,
# RELEASE_ALL_LOCKS, IS_FREE_LOCK, IS_USED_LOCK, LOAD_FILE, MASTER_POS_WAIT, SOURCE_POS_WAIT,
# MASTER_GTID_WAIT, WAIT_FOR_EXECUTED_GTID_SET, NEXTVAL, LASTVAL, SETVAL, LAST_INSERT_ID(expr) (sets
# state), PASSWORD/ENCRYPT: waits, locks, files, sequences, state. Unknown names are refused.
BUILTIN_FUNCTIONS = _words("""
ABS ACOS ADDDATE ADDTIME ADD_MONTHS AES_DECRYPT AES_ENCRYPT ANY_VALUE ASCII ASIN ATAN ATAN2 AVG
BIN BINARY BIN_TO_UUID BIT_AND BIT_COUNT BIT_LENGTH BIT_OR BIT_XOR
CAST CEIL CEILING CHAR CHARACTER_LENGTH CHARSET CHAR_LENGTH CHR COALESCE COERCIBILITY COLLATION
COLUMN_ADD COLUMN_CHECK COLUMN_CREATE COLUMN_DELETE COLUMN_EXISTS COLUMN_GET COLUMN_JSON COLUMN_LIST
COMPRESS CONCAT CONCAT_WS CONNECTION_ID CONV CONVERT CONVERT_TZ COS COT COUNT CRC32 CRC32C CUME_DIST
CURDATE CURRENT_DATE CURRENT_ROLE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURTIME
DATABASE DATE DATEDIFF DATE_ADD DATE_FORMAT DATE_SUB DAY DAYNAME DAYOFMONTH DAYOFWEEK DAYOFYEAR
DEFAULT DEGREES DENSE_RANK ELT EXP EXPORT_SET EXTRACT EXTRACTVALUE
FIELD FIND_IN_SET FIRST_VALUE FLOOR FORMAT FORMAT_BYTES FORMAT_PICO_TIME FOUND_ROWS FROM_BASE64
FROM_DAYS FROM_UNIXTIME GET_FORMAT GREATEST GROUPING GROUP_CONCAT HEX HOUR
IF IFNULL INET6_ATON INET6_NTOA INET_ATON INET_NTOA INSERT INSTR INTERVAL ISNULL IS_IPV4
IS_IPV4_COMPAT IS_IPV4_MAPPED IS_IPV6 IS_UUID
JSON_ARRAY JSON_ARRAYAGG JSON_ARRAY_APPEND JSON_ARRAY_INSERT JSON_COMPACT JSON_CONTAINS
JSON_CONTAINS_PATH JSON_DEPTH JSON_DETAILED JSON_EQUALS JSON_EXISTS JSON_EXTRACT JSON_INSERT JSON_KEYS
JSON_LENGTH JSON_LOOSE JSON_MERGE JSON_MERGE_PATCH JSON_MERGE_PRESERVE JSON_NORMALIZE JSON_OBJECT
JSON_OBJECTAGG JSON_OVERLAPS JSON_PRETTY JSON_QUERY JSON_QUOTE JSON_REMOVE JSON_REPLACE
JSON_SCHEMA_VALID JSON_SEARCH JSON_SET JSON_STORAGE_FREE JSON_STORAGE_SIZE JSON_TYPE JSON_UNQUOTE
JSON_VALID JSON_VALUE
LAG LAST_DAY LAST_VALUE LCASE LEAD LEAST LEFT LENGTH LENGTHB LN LOCALTIME LOCALTIMESTAMP LOCATE LOG
LOG10 LOG2 LOWER LPAD LTRIM MAKEDATE MAKETIME MAKE_SET MATCH MAX MD5 MEDIAN MICROSECOND MID MIN
MINUTE MOD MONTH MONTHNAME NAME_CONST NATURAL_SORT_KEY NOW NTH_VALUE NTILE NULLIF NVL NVL2
OCT OCTET_LENGTH ORD PERCENTILE_CONT PERCENTILE_DISC PERCENT_RANK PERIOD_ADD PERIOD_DIFF PI POSITION
POW POWER QUARTER QUOTE RADIANS RAND RANDOM_BYTES RANK REGEXP_INSTR REGEXP_LIKE REGEXP_REPLACE
REGEXP_SUBSTR REPEAT REPLACE REVERSE RIGHT ROUND ROW_COUNT ROW_NUMBER RPAD RTRIM
SCHEMA SECOND SEC_TO_TIME SESSION_USER SFORMAT SHA SHA1 SHA2 SIGN SIN SOUNDEX SPACE SQRT STD STDDEV
STDDEV_POP STDDEV_SAMP STRCMP STR_TO_DATE SUBDATE SUBSTR SUBSTRING SUBSTRING_INDEX SUBTIME SUM
SYSDATE SYSTEM_USER SYS_GUID TAN TIME TIMEDIFF TIMESTAMP TIMESTAMPADD TIMESTAMPDIFF TIME_FORMAT
TIME_TO_SEC TO_BASE64 TO_CHAR TO_DAYS TO_SECONDS TRIM TRUNCATE UCASE UNCOMPRESS UNCOMPRESSED_LENGTH
UNHEX UNIX_TIMESTAMP UPPER USER UTC_DATE UTC_TIME UTC_TIMESTAMP UUID UUID_SHORT UUID_TO_BIN
VALUES VARIANCE VAR_POP VAR_SAMP VERSION WEEK WEEKDAY WEEKOFYEAR WEIGHT_STRING YEAR YEARWEEK
POINT LINESTRING POLYGON MULTIPOINT MULTILINESTRING MULTIPOLYGON GEOMETRYCOLLECTION
MBRCONTAINS MBRCOVEREDBY MBRCOVERS MBRDISJOINT MBREQUALS MBRINTERSECTS MBROVERLAPS MBRTOUCHES MBRWITHIN
ST_AREA ST_ASBINARY ST_ASGEOJSON ST_ASTEXT ST_ASWKB ST_ASWKT ST_BUFFER ST_CENTROID ST_CONTAINS
ST_CROSSES ST_DIFFERENCE ST_DIMENSION ST_DISJOINT ST_DISTANCE ST_DISTANCE_SPHERE ST_ENDPOINT
ST_ENVELOPE ST_EQUALS ST_GEOMETRYTYPE ST_GEOMFROMGEOJSON ST_GEOMFROMTEXT ST_GEOMFROMWKB ST_INTERSECTION
ST_INTERSECTS ST_ISCLOSED ST_ISEMPTY ST_ISVALID ST_LATITUDE ST_LENGTH ST_LONGITUDE ST_NUMPOINTS
ST_OVERLAPS ST_POINTFROMTEXT ST_POINTN ST_SRID ST_STARTPOINT ST_TOUCHES ST_UNION ST_WITHIN ST_X ST_Y
""")

# Named in the refusal, so the reader knows this one is not a mere gap in the list.
SIDE_EFFECT_FUNCTIONS = _words("""
SLEEP BENCHMARK GET_LOCK RELEASE_LOCK RELEASE_ALL_LOCKS IS_FREE_LOCK IS_USED_LOCK LOAD_FILE
MASTER_POS_WAIT SOURCE_POS_WAIT MASTER_GTID_WAIT WAIT_FOR_EXECUTED_GTID_SET
WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS NEXTVAL LASTVAL SETVAL LAST_INSERT_ID
""")

_SEQUENCE_WORDS = frozenset({"NEXTVAL", "LASTVAL", "SETVAL", "CURRVAL"})

# Words reserved in MySQL 5.7, 8 and MariaDB 10.11, so never the unquoted name of a stored function:
# `IN (`, `VALUES (`, `AS (` are syntax there, not calls (each checked on MariaDB 10.11: a stored
# function call answers "FUNCTION db.x does not exist", these a syntax error). Not here on purpose,
# because some server lets a stored function be called by them: LATERAL (MariaDB), OVER (MySQL
# 5.7), ANY, SOME, VALUE, ROW, ROWS, EXCEPT, INTERSECT, COLUMNS, ESCAPE, OF, AGAINST.
_RESERVED_BEFORE_PAREN = _words("""
ALL AND AS BETWEEN BINARY BY CASE CHAR COLLATE CONVERT CURRENT_USER DATABASE DECIMAL DEFAULT DISTINCT
DIV DOUBLE ELSE EXISTS FLOAT FOR FROM HAVING IF IGNORE IN INDEX INSERT INT INTEGER INTERVAL INTO IS
JOIN KEY LEFT LIKE LIMIT MATCH MOD NOT NUMERIC ON OR PARTITION REGEXP REPEAT REPLACE RIGHT RLIKE
SCHEMA SELECT SEPARATOR SET STRAIGHT_JOIN THEN UNION UNSIGNED UPDATE USING VALUES VARBINARY VARCHAR
WHEN WHERE WITH XOR
""")

_INSERT_PREFIX = frozenset({"INSERT", "REPLACE", "IGNORE", "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY"})


# ---------------------------------------------------------------------------------------------
# Reading the text as the server does
# ---------------------------------------------------------------------------------------------


class Token(NamedTuple):
    kind: str  # "word", "quoted" (a `backquoted` identifier), "string", or "punct"
    text: str  # the word (as written), the identifier's name, or the punctuation character
    start: int
    end: int  # offset just after the token in the original text


# The guard reads `placeholder` tokens as punctuation: it only cares about words, names, strings and calls.
_GUARD_KIND = {"quoted": "quoted", "string": "string", "word": "word"}


def tokenize(sql: str) -> list[Token]:
    """The tokens of `sql` as MySQL/MariaDB lex them under the sql_mode `harden_session` sets.

    Comments are dropped, but the bodies of executable comments (`/*!...*/`, `/*M!...*/`) are code,
    as on the server. Unterminated strings and comments run to the end (the server refuses those).
    Only ASCII whitespace separates: the server reads any character from U+0080 as part of a name.
    """
    tokens: list[Token] = []
    for lexed in sql_text.code_tokens(sql):
        kind, text = _GUARD_KIND.get(lexed.kind, "punct"), lexed.text
        if kind == "quoted":
            text = text[1:-1 if len(text) > 1 and text.endswith("`") else None].replace("``", "`")
        elif kind == "string":
            closed = len(text) > 1 and text[-1] == text[0]
            text = text[1:-1] if closed else text[1:]
        tokens.append(Token(kind, text, lexed.start, lexed.end))
    return tokens


# ---------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------


def refusal(sql: str, model: StatementModel | None = None, views: ViewCatalog | None = None, conn=None,
            database: str | None = None) -> str | None:
    """Why EXPLAIN of `sql` could run code, or None when every call in it is an inert built-in.

    `model` is sqlglot's view of it (`describe(sql)` when not given). With `views` and `conn`, the views
    it may name (in `database` or qualified) are checked too.
    """
    tokens = tokenize(sql)
    reason = _sequence_refusal(tokens) or _call_refusal(sql, tokens)
    if reason:
        return reason
    from query_audit.analyze.sql_model import describe

    if model is None:
        model = describe(sql)
    if not model.parsed and tokens and tokens[0].text.upper() == "REPLACE":
        model = describe("INSERT" + sql[tokens[0].end:])  # INSERT's grammar, which sqlglot parses
    reason = _model_refusal(model)
    if reason:
        return reason
    if not model.parsed and _calls(tokens):
        return "not explained: sqlglot cannot parse it, so its function calls cannot be proven inert"
    if views is not None and conn is not None:
        return views.refusal(conn, tokens, database)
    return None


def _model_refusal(model: StatementModel) -> str | None:
    """sqlglot's second opinion: a call it could not type, or a qualified one."""
    for call in model.untyped_calls:
        if "." in call:
            return f"not explained: calls {call}(), a stored function (EXPLAIN would run it)"
        if call.upper() not in BUILTIN_FUNCTIONS:
            return (f"not explained: calls {call}(), which is not a known side-effect-free built-in "
                    "(a stored function or UDF would run during EXPLAIN)")
    return None


def _sequence_refusal(tokens: list[Token]) -> str | None:
    words = [t.text.upper() if t.kind == "word" else "" for t in tokens]
    for i, word in enumerate(words):
        if word in _SEQUENCE_WORDS:
            return f"not explained: uses the sequence function {word}, which EXPLAIN would run"
        if word in ("NEXT", "PREVIOUS") and words[i + 1:i + 3] == ["VALUE", "FOR"]:
            return f"not explained: {word} VALUE FOR a sequence would advance or read it during EXPLAIN"
    return None


def _calls(tokens: list[Token]) -> list[int]:
    """Indexes of the name tokens followed by `(` that are not syntax (see the module docstring)."""
    closing = _closing_parens(tokens)
    found = []
    for i in range(len(tokens) - 1):
        name, paren = tokens[i], tokens[i + 1]
        if paren.text != "(" or paren.kind != "punct" or name.kind not in ("word", "quoted"):
            continue
        if not _is_syntax(tokens, i, closing.get(i + 1, len(tokens))):
            found.append(i)
    return found


def _closing_parens(tokens: list[Token]) -> dict[int, int]:
    """Index of each `(` -> index of its `)` (one pass: statements can be megabytes)."""
    closing, stack = {}, []
    for j, token in enumerate(tokens):
        if token.kind == "punct" and token.text == "(":
            stack.append(j)
        elif token.kind == "punct" and token.text == ")" and stack:
            closing[stack.pop()] = j
    return closing


def _is_syntax(tokens: list[Token], i: int, close: int) -> bool:
    """True where `name (` at `i` is not a function call: a reserved word, a table's column list, a type."""
    name = tokens[i]
    qualified = i >= 2 and tokens[i - 1].text == "." and tokens[i - 1].kind == "punct"
    if name.kind == "word" and not qualified and name.text.upper() in _RESERVED_BEFORE_PAREN:
        return True
    before = _before_name(tokens, i)
    previous = tokens[before].text.upper() if before >= 0 and tokens[before].kind == "word" else ""
    if previous == "INTO" or (previous in _INSERT_PREFIX and all(
            t.kind == "word" and t.text.upper() in _INSERT_PREFIX for t in tokens[:before + 1])):
        return True  # INSERT [INTO] [db.]t (columns)
    if qualified:
        return False
    if previous == "AS":
        return True  # CAST(x AS DECIMAL(10,2)), a derived table's column list
    upper = name.text.upper() if name.kind == "word" else ""
    if upper in ("OVER", "AGAINST") and i >= 1 and tokens[i - 1].text == ")":
        return True  # COUNT(*) OVER (...), MATCH (a) AGAINST ('x')
    return close + 2 < len(tokens) and tokens[close + 1].text.upper() == "AS" and tokens[close + 2].text == "("


def _before_name(tokens: list[Token], i: int) -> int:
    """Index of the token before the (possibly qualified) name ending at `i`."""
    while i >= 2 and tokens[i - 1].text == "." and tokens[i - 1].kind == "punct":
        i -= 2
    return i - 1


def _call_refusal(sql: str, tokens: list[Token]) -> str | None:
    for i in _calls(tokens):
        name = tokens[i]
        shown = name.text if name.kind == "word" else f"`{name.text}`"
        upper = name.text.upper()
        if i >= 2 and tokens[i - 1].text == ".":
            return f"not explained: calls {tokens[i - 2].text}.{shown}(), a stored function (EXPLAIN would run it)"
        if upper in SIDE_EFFECT_FUNCTIONS:
            return f"not explained: calls {upper}(), which has side effects or waits (EXPLAIN would run it)"
        if name.kind != "word" or upper not in BUILTIN_FUNCTIONS:
            return (f"not explained: calls {shown}(), which is not a known side-effect-free built-in "
                    "(a stored function or UDF would run during EXPLAIN)")
        if sql[name.end:name.end + 1] != "(":
            # The server resolves `count (1)` with a space (or a comment) to a stored function.
            return (f"not explained: {shown} is not directly followed by its parenthesis, so the server may "
                    "call a stored function of that name")
    return None


# ---------------------------------------------------------------------------------------------
# Views: their definitions run too
# ---------------------------------------------------------------------------------------------


class ViewCatalog:
    """The views of the databases a statement names, looked up per database as they come (one
    `SHOW FULL TABLES` each) and their definitions per view (`SHOW CREATE VIEW`), cached per connection.

    Not `information_schema.VIEWS`: reading it opens every view on the server, and MariaDB 10.11.19 was
    seen to crash (signal 11 in create_tmp_table_for_schema) doing so under load.
    """

    def __init__(self):
        self._views: dict[str, set[str]] = {}  # database (lower case) -> its views' names (lower case)
        self._definitions: dict[tuple[str, str], str] = {}  # (database, view) -> CREATE VIEW, '' if hidden

    def refusal(self, conn, tokens: list[Token], database: str | None, depth: int = 0) -> str | None:
        """Why a view the tokens may name could run code (a name match is enough: conservative)."""
        names = {t.text.lower() for t in tokens if t.kind in ("word", "quoted")}
        if database is None:  # unqualified names resolve in the connection's current database
            database = self._current_database(conn)
        for schema in sorted(_databases_named(tokens, database)):
            for view in sorted(names & self._views_of(conn, schema)):
                definition = self._definition(conn, schema, view)
                if not definition.strip():
                    return f"not explained: reads view {schema}.{view}, whose definition this account cannot see"
                if depth >= 8:
                    return f"not explained: view {schema}.{view} nests views too deep to check"
                inner = tokenize(definition)
                reason = (_sequence_refusal(inner) or _call_refusal(definition, inner)
                          or self.refusal(conn, inner, schema, depth + 1))
                if reason:
                    return reason.replace("not explained:", f"not explained: view {schema}.{view}", 1)
        return None

    @staticmethod
    def _current_database(conn) -> str | None:
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT DATABASE()")
                return _text(cur.fetchone()[0])
        except pymysql.err.MySQLError as exc:
            _raise_if_lost(exc)
            return None

    def _views_of(self, conn, schema: str) -> set[str]:
        if schema.lower() not in self._views:
            try:
                with conn.cursor() as cur:
                    cur.execute(f"SHOW FULL TABLES FROM {_quote(schema)} WHERE Table_type = 'VIEW'")
                    self._views[schema.lower()] = {str(_text(row[0])).lower() for row in cur.fetchall()}
            except pymysql.err.MySQLError as exc:
                _raise_if_lost(exc)
                self._views[schema.lower()] = set()  # no such database (an alias), or not ours to see
        return self._views[schema.lower()]

    def _definition(self, conn, schema: str, view: str) -> str:
        key = (schema.lower(), view)
        if key not in self._definitions:
            try:
                with conn.cursor() as cur:
                    cur.execute(f"SHOW CREATE VIEW {_quote(schema)}.{_quote(view)}")
                    self._definitions[key] = _view_body(str(_text(cur.fetchone()[1]) or ""))
            except pymysql.err.MySQLError as exc:
                _raise_if_lost(exc)
                self._definitions[key] = ""
        return self._definitions[key]


def _view_body(create_view: str) -> str:
    """The SELECT of `CREATE ... VIEW name AS <select>` (without the view's own name, which would
    otherwise look like a view it reads); '' if the text is not of that form."""
    tokens = tokenize(create_view)
    words = [t.text.upper() if t.kind == "word" else None for t in tokens]
    if "VIEW" in words:
        after_view = words.index("VIEW") + 1
        if "AS" in words[after_view:]:
            return create_view[tokens[words.index("AS", after_view)].end:]
    return ""


def _databases_named(tokens: list[Token], database: str | None) -> set[str]:
    """The current database and every qualifier (`x` of `x.y`): where the statement's views can live."""
    found = {database} if database else set()
    for i in range(1, len(tokens) - 1):
        if tokens[i].kind == "punct" and tokens[i].text == "." and tokens[i - 1].kind in ("word", "quoted"):
            found.add(tokens[i - 1].text)
    return found


def _raise_if_lost(exc: Exception) -> None:
    if is_connection_lost(exc):
        raise ConnectionFailed(f"lost the connection before EXPLAIN: {exc.args[-1]}") from None


# ---------------------------------------------------------------------------------------------
# The EXPLAIN connection
# ---------------------------------------------------------------------------------------------

EXPLAIN_TIME_LIMIT_S = 5  # a plan takes milliseconds; anything longer is executing something
LOCK_WAIT_LIMIT_S = 2
# Modes that change how the text is lexed: without them `tokenize` reads it as the server does.
_LEXING_MODES = {"ANSI_QUOTES", "NO_BACKSLASH_ESCAPES", "ANSI", "ORACLE", "MSSQL", "DB2", "POSTGRESQL",
                 "MAXDB", "IGNORE_SPACE"}


_SESSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def session_views(conn) -> ViewCatalog | str:
    """Harden `conn` for EXPLAIN once, and its view catalog; a string says why EXPLAIN cannot run."""
    if conn not in _SESSIONS:
        try:
            harden_session(conn)
            _SESSIONS[conn] = ViewCatalog()
        except pymysql.err.MySQLError as exc:
            _raise_if_lost(exc)
            _SESSIONS[conn] = f"not explained: cannot prepare the EXPLAIN session ({exc.args[-1]})"
    return _SESSIONS[conn]


def harden_session(conn) -> None:
    """Make the EXPLAIN connection lex as `tokenize` does and wait little for locks; on MySQL also cap
    SELECT time (max_execution_time; MariaDB's cap is per statement, see `bounded`)."""
    with conn.cursor() as cur:
        cur.execute("SELECT @@SESSION.sql_mode")
        modes = [m for m in (_text(cur.fetchone()[0]) or "").split(",") if m and m.upper() not in _LEXING_MODES]
        cur.execute("SET SESSION sql_mode = %s", (",".join(modes),))
        cur.execute(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_LIMIT_S}")
        cur.execute(f"SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_LIMIT_S}")
        if not is_mariadb(conn):
            try:
                cur.execute(f"SET SESSION max_execution_time = {EXPLAIN_TIME_LIMIT_S * 1000}")
            except pymysql.err.MySQLError:
                pass  # MySQL 5.6 and forks without it: the lock limits and the guard remain


def bounded(conn, statement: str) -> str:
    """`statement` with MariaDB's per-statement time limit (MySQL's is the session's, SELECT only)."""
    if is_mariadb(conn):
        return f"SET STATEMENT max_statement_time={EXPLAIN_TIME_LIMIT_S} FOR {statement}"
    return statement


def is_mariadb(conn) -> bool:
    return "mariadb" in (conn.get_server_info() or "").lower()


def _text(value):
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    return value
