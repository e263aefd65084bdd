"""What is noise, and which general-log rows are statements, with their database and user."""

from __future__ import annotations

import pytest

from query_audit.capture.noise import DEFAULT_NOISE, NoiseFilter, NoisePattern
from query_audit.capture.statements import StatementExtractor, has_placeholders
from query_audit.connection import connect
from query_audit.errors import QueryAuditError
from query_audit.model import LogRow

NOISE = [
    ("SET NAMES 'UTF8'", "set names"),
    ("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci", "set names"),
    ("SET time_zone = '+00:00'", "set time_zone"),
    ("SET @@session.time_zone = 'UTC'", "set time_zone"),
    ("SET PROFILING=1", "set profiling"),
    ("SHOW STATUS", "show status"),
    ("SHOW GLOBAL STATUS LIKE 'Slow_queries'", "show status"),
    ("select argument from mysql.general_log where command_type = 'Query'", "log tables"),
    ("SELECT * FROM mysql.SLOW_LOG", "log tables"),
    ("SET GLOBAL general_log = 1", "log tables"),
    ("SELECT 1", "select 1"),
    ("select 1 from dual", "select 1"),
    ("SELECT 1+1 AS result", "select 1"),
    ("/* ping */ SELECT 1", "select 1"),
    ("SELECT @@session.transaction_isolation", "select @@variable"),
    ("select @@version_comment limit 1", "select @@variable"),
    ("SHOW VARIABLES LIKE 'lower_case_table_names'", "show variables"),
    ("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", "set transaction"),
    ("SET @@session.sql_select_limit = DEFAULT", "set session variable"),
    ("SET SQL_MODE = 'STRICT_TRANS_TABLES'", "set sql_mode"),
    ("SET character_set_results = NULL", "set character set"),
    ("SHOW WARNINGS", "show warnings"),
    ("SELECT DATABASE()", "select session function"),
    ("SELECT VERSION()", "select session function"),
    ("SELECT CONNECTION_ID()", "select session function"),
    ("SHOW FULL TABLES FROM `shop` LIKE 'orders'", "show tables"),
    ("SHOW COLLATION", "show server metadata"),
    ("SHOW FULL COLUMNS FROM `orders`", "show table metadata"),
]

NOT_NOISE = [
    "SELECT * FROM users WHERE id = 1",
    "SELECT 1 FROM users WHERE id = 1",  # an existence check is real work
    "SELECT 10",
    "BEGIN",
    "START TRANSACTION",
    "COMMIT",
    "ROLLBACK",
    "SET autocommit=0",  # transaction control: the Digest tracks it
    "SET @@session.autocommit = OFF",
    "SET SESSION autocommit = 1",
    "SET @user_var = 5",
    "INSERT INTO logs (general_log_note) VALUES ('x')",  # a column name, not the log table
    "SELECT VERSION() AS v, name FROM settings",
]


@pytest.mark.parametrize("sql, name", NOISE)
def test_default_noise_names_the_pattern_that_matched(sql, name):
    assert NoiseFilter().match(sql) == name


@pytest.mark.parametrize("sql", NOT_NOISE)
def test_real_work_and_transaction_control_are_not_noise(sql):
    assert NoiseFilter().match(sql) is None


def test_is_noise_counts_what_it_dropped_per_pattern():
    noise = NoiseFilter()
    for sql in ("SET NAMES utf8", "SET NAMES latin1", "SELECT 1", "SELECT * FROM t"):
        noise.is_noise(sql)
    assert dict(noise.dropped) == {"set names": 2, "select 1": 1}
    assert noise.total_dropped == 3


def test_extra_patterns_are_searched_anywhere_and_defaults_can_be_ignored():
    noise = NoiseFilter(extra=[r"FROM\s+health_checks"], ignore_defaults=True)
    assert noise.is_noise("SELECT * FROM health_checks LIMIT 1")
    assert not noise.is_noise("SET NAMES utf8")
    assert noise.dropped == {r"FROM\s+health_checks": 1}


def test_custom_pattern_list_replaces_the_defaults():
    noise = NoiseFilter(patterns=[NoisePattern("pings", r"DO\s+1")])
    assert noise.match("DO 1") == "pings"
    assert noise.match("SELECT 1") is None


def test_an_invalid_extra_pattern_is_a_one_line_error():
    with pytest.raises(QueryAuditError, match=r"invalid noise pattern '\(unclosed'"):
        NoiseFilter(extra=["(unclosed"])


@pytest.mark.parametrize("sql", [sql for sql, _ in NOISE] + NOT_NOISE + ["SET a", "SHOW b", "SET y|"])
def test_the_shared_keyword_alternation_names_what_the_plain_one_names(sql):
    """The anchored patterns are one regex with each leading keyword written once; a pattern that
    cannot be split so (a top-level `|`) makes it the plain alternation, first match first."""
    import re

    from query_audit.sql_text import leading_comments_end

    def plain(anchored):
        regex = re.compile("|".join(f"(?P<p{i}>{p.pattern})" for i, p in enumerate(anchored)), re.I | re.S)
        found = regex.match(sql, leading_comments_end(sql))
        return anchored[int(found.lastgroup[1:])].name if found else None

    odd = [NoisePattern("either", r"SET\s+a|SHOW\s+b"), NoisePattern("class", r"SET\s+(?:x|y)[|]")]
    default = [p for p in DEFAULT_NOISE if not p.anywhere]
    for anchored in (default, odd, odd[1:] + default):
        assert NoiseFilter(patterns=anchored).match(sql) == plain(anchored)


def test_the_lookahead_after_a_keyword_lists_the_first_characters_its_patterns_can_start_with():
    from query_audit.capture.noise import _first_character_lookahead

    assert _first_character_lookahead(r"1\s*\Z|@@|(?:DATABASE|USER)\s*\(") == "(?=[1@DU])"
    assert _first_character_lookahead(r"(?:FULL\s+)?TABLES\b|\b(?!x)[a-c\d]") == "(?=[FT\\da-c])"
    for unknown in (r"x|y*", r".x", r"[^a]", r"(?i:x)", r"(?:a|)"):  # can be empty, any character, scoped flags
        assert _first_character_lookahead(unknown) == ""
    select = next(p for p in DEFAULT_NOISE if p.name == "select 1")
    assert "SELECT\\s+(?=[" in NoiseFilter(patterns=[select])._anchored.pattern


# Cased letters whose other cases IGNORECASE also takes (the Kelvin sign for k, the long s for s, the dotted
# and dotless i), spaces, comments and the first characters of the default patterns and of real work.
_AFTER_KEYWORD = ["1", "@@version", "Database()", "\u212aeys", "\u017ftatus", "\u0131ndex", "\u0130NDEX", "sChEmA()",
                  "k", "KEYS", "STATUS", "x", "*", "`a`", "(", "-1", "", "\t@@x", "1 + 1", "user ( )", "names", "NAMES"]


def test_the_keyword_lookahead_leaves_every_answer_as_the_patterns_one_by_one_give_it():
    """The first pattern that matches, each tried alone in order (anchored, then anywhere), on statements
    made of keywords and the characters after them, with the default patterns and with ones of odd cases."""
    import itertools
    import re

    from query_audit.sql_text import leading_comments_end

    odd = [NoisePattern("k", r"SHOW\s+k\w*"), NoisePattern("s", r"SHOW\s+[s-t]\w+"),
           NoisePattern("i", r"SHOW\s+(?:\b)?i"), NoisePattern("any", r"ſ", anywhere=True)]
    for patterns in (DEFAULT_NOISE, odd, odd + list(DEFAULT_NOISE)):
        noise = NoiseFilter(patterns=patterns)
        compiled = [(p, re.compile(p.pattern, re.I | re.S)) for p in patterns]

        def one_by_one(sql, compiled=compiled):
            start = leading_comments_end(sql)
            anchored = (p.name for p, regex in compiled if not p.anywhere and regex.match(sql, start))
            anywhere = (p.name for p, regex in compiled if p.anywhere and regex.search(sql))
            return next(itertools.chain(anchored, anywhere), None)

        for keyword, space, after in itertools.product(["SELECT", "select", "SET", "SHOW", "/* c */ SHOW"],
                                                       [" ", "\n  "], _AFTER_KEYWORD):
            sql = f"{keyword}{space}{after}"
            assert noise.match(sql) == one_by_one(sql), sql


def test_default_noise_patterns_have_unique_names():
    names = [pattern.name for pattern in DEFAULT_NOISE]
    assert len(names) == len(set(names))


# ---------------------------------------------------------------------------------------------
# StatementExtractor on rows as the server writes them
# ---------------------------------------------------------------------------------------------


def feed_all(extractor, rows):
    return [statement for statement in map(extractor.feed, rows) if statement is not None]


def test_connect_and_init_db_give_each_thread_its_database_and_user():
    rows = [
        LogRow(5, "Connect", "app@10.0.0.7 on shop using TCP/IP"),
        LogRow(6, "Connect", "root@localhost on  using Socket"),
        LogRow(5, "Query", "SELECT * FROM orders WHERE id = 1"),
        LogRow(6, "Query", "SELECT 2 + 2"),
        LogRow(6, "Init DB", "billing"),
        LogRow(6, "Query", "SELECT * FROM invoices"),
    ]
    statements = feed_all(StatementExtractor(), rows)
    assert [(s.thread_id, s.database, s.user) for s in statements] == [
        (5, "shop", "app"), (6, None, "root"), (6, "billing", "root")]


def test_mariadb_connect_as_anonymous_and_change_user():
    extractor = StatementExtractor()
    rows = [LogRow(7, "Connect", "app@localhost as anonymous on shop"), LogRow(7, "Query", "SELECT a FROM t"),
            LogRow(7, "Change user", "report@localhost on stats"), LogRow(7, "Query", "SELECT b FROM u")]
    assert [(s.database, s.user) for s in feed_all(extractor, rows)] == [("shop", "app"), ("stats", "report")]


def test_use_statements_change_the_database_and_are_statements_themselves():
    rows = [LogRow(5, "Connect", "app@h on shop using TCP/IP"), LogRow(5, "Query", "use `my``db`"),
            LogRow(5, "Query", "SELECT 3 * 3"), LogRow(5, "Query", "USE other;"), LogRow(5, "Query", "SELECT 4 * 4")]
    statements = feed_all(StatementExtractor(), rows)
    assert [(s.sql, s.database) for s in statements] == [
        ("use `my``db`", "my`db"), ("SELECT 3 * 3", "my`db"), ("USE other;", "other"), ("SELECT 4 * 4", "other")]


def test_only_query_and_execute_rows_are_statements():
    rows = [LogRow(5, command, "SELECT * FROM t WHERE id = ?") for command in
            ("Prepare", "Close stmt", "Reset stmt", "Field List", "Statistics", "Ping", "Quit")]
    rows += [LogRow(5, "Execute", "SELECT * FROM t WHERE id = 3"), LogRow(5, "Query", "SELECT * FROM t")]
    assert [s.command for s in feed_all(StatementExtractor(), rows)] == ["Execute", "Query"]


def test_sql_level_prepare_execute_deallocate_rows_are_not_statements_but_their_execute_row_is():
    rows = [LogRow(5, "Query", "PREPARE s FROM 'SELECT * FROM t WHERE id = ?'"),
            LogRow(5, "Prepare", "SELECT * FROM t WHERE id = ?"),
            LogRow(5, "Query", "EXECUTE s USING @x"),
            LogRow(5, "Execute", "SELECT * FROM t WHERE id = 2"),
            LogRow(5, "Query", "DEALLOCATE PREPARE s"),
            LogRow(5, "Query", "DROP PREPARE s")]
    assert [s.sql for s in feed_all(StatementExtractor(), rows)] == ["SELECT * FROM t WHERE id = 2"]


def test_execute_with_placeholders_outside_strings_is_marked():
    rows = [LogRow(5, "Execute", "SELECT * FROM t WHERE id = ? AND b = 'why?'"),
            LogRow(5, "Execute", "SELECT * FROM t WHERE a = 'why?' /* ok? */"),
            LogRow(5, "Query", "SELECT * FROM t WHERE a = 'why?'")]
    assert [s.placeholders for s in feed_all(StatementExtractor(), rows)] == [True, False, False]
    assert has_placeholders("SELECT `a?` FROM t WHERE x = ?")
    assert not has_placeholders("SELECT `a?` FROM t")


def test_noise_is_dropped_and_counted_unless_kept():
    rows = [LogRow(5, "Query", "SET NAMES utf8mb4"), LogRow(5, "Query", "SELECT 1"),
            LogRow(5, "Query", "SELECT * FROM t")]
    extractor = StatementExtractor()
    assert [s.sql for s in feed_all(extractor, rows)] == ["SELECT * FROM t"]
    assert extractor.noise_dropped == 2
    assert extractor.noise.dropped == {"set names": 1, "select 1": 1}
    keeping = StatementExtractor(keep_noise=True)
    assert len(feed_all(keeping, rows)) == 3 and keeping.noise_dropped == 0


def test_excluded_threads_are_dropped_entirely():
    rows = [LogRow(4, "Connect", "tool@h on shop using TCP/IP"), LogRow(4, "Query", "SELECT * FROM t"),
            LogRow(5, "Query", "SELECT * FROM u")]
    assert [s.thread_id for s in feed_all(StatementExtractor(exclude_threads={4}), rows)] == [5]


def test_users_filter_keeps_the_client_users_rows_from_connect_or_user_host():
    rows = [LogRow(5, "Connect", "app@h on shop using TCP/IP"), LogRow(6, "Connect", "admin@h on shop using TCP/IP"),
            LogRow(5, "Query", "SELECT * FROM a"), LogRow(6, "Query", "SELECT * FROM b"),
            LogRow(7, "Query", "SELECT * FROM c"),  # connected before the log started: user unknown
            LogRow(8, "Query", "SELECT * FROM d", user_host="app[app] @ localhost [127.0.0.1]")]
    statements = feed_all(StatementExtractor(users={"app"}), rows)
    assert [(s.sql, s.user) for s in statements] == [("SELECT * FROM a", "app"), ("SELECT * FROM d", "app")]


def test_quit_forgets_the_thread_so_a_reused_id_starts_fresh():
    rows = [LogRow(5, "Connect", "app@h on shop using TCP/IP"), LogRow(5, "Quit", ""),
            LogRow(5, "Query", "SELECT * FROM t")]
    extractor = StatementExtractor()
    assert [(s.database, s.user) for s in feed_all(extractor, rows)] == [(None, None)]


def test_request_number_is_carried_onto_the_statement():
    statement = StatementExtractor().feed(LogRow(5, "Query", "SELECT * FROM t"), request=3)
    assert statement.request == 3


def test_rows_from_the_servers_general_log_table(server_settings, scratch_db):
    """A real session logged to mysql.general_log: text and binary-protocol statements, database, user."""
    import mysql.connector

    with connect(server_settings) as admin, admin.cursor() as cur:
        cur.execute("SELECT @@global.general_log, @@global.log_output")
        before = cur.fetchone()
        cur.execute("SET GLOBAL log_output = 'TABLE'")
        cur.execute("SET GLOBAL general_log = 1")
        cur.execute("SELECT NOW(6), CONNECTION_ID()")
        since, own_thread = cur.fetchone()
        try:
            with connect(scratch_db) as app, app.cursor() as sql:
                sql.execute("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))")
                sql.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
                sql.execute("SELECT name FROM t WHERE id = 1")
            prepared = mysql.connector.connect(host=scratch_db.host, port=scratch_db.port, user=scratch_db.user,
                                               password=scratch_db.password, database=scratch_db.database)
            pcur = prepared.cursor(prepared=True)
            pcur.execute("SELECT name FROM t WHERE id = ?", (2,))
            pcur.fetchall()
            pcur.close()
            prepared.close()
            cur.execute("SET GLOBAL general_log = 0")
            cur.execute("SELECT thread_id, command_type, argument, user_host FROM mysql.general_log "
                        "WHERE event_time >= %s ORDER BY event_time", (since,))
            rows = [LogRow(int(thread), str(command), argument if isinstance(argument, str) else argument.decode(),
                           None, user_host) for thread, command, argument, user_host in cur.fetchall()]
        finally:
            cur.execute("SET GLOBAL general_log = 0")
            cur.execute("SET GLOBAL log_output = %s", (before[1],))
            cur.execute("SET GLOBAL general_log = %s", (before[0],))

    extractor = StatementExtractor(exclude_threads={own_thread})
    statements = feed_all(extractor, rows)
    assert [(s.command, s.sql) for s in statements] == [
        ("Query", "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))"),
        ("Query", "INSERT INTO t VALUES (1, 'a'), (2, 'b')"),
        ("Query", "SELECT name FROM t WHERE id = 1"),
        # mysql-connector's session set-up: transaction control, which the Digest tracks (not noise)
        ("Query", "SET @@session.autocommit = OFF"),
        ("Execute", "SELECT name FROM t WHERE id = 2"),
    ]
    assert {s.database for s in statements} == {scratch_db.database}
    assert {s.user for s in statements} == {"root"}
    assert extractor.noise_dropped >= 2  # the drivers' SET NAMES / SELECT @@session.sql_mode
