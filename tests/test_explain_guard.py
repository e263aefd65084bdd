"""EXPLAIN must not be a way to run a captured statement: the guard's allow-list on text, and a corpus of
hostile statements (stored functions with MyISAM writes, an SQL SECURITY INVOKER function, sequences,
SLEEP, GET_LOCK, views) sent through `analyze --dsn` of a log file and through a live capture, against
the private test server, checked with CHECKSUM TABLE, row counts and the sequence's value."""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import replace

import pymysql
import pytest
from conftest import endpoint, run_cli, write_general_log

from query_audit.analyze.explain import explain_query
from query_audit.analyze.explain_guard import harden_session, refusal, tokenize
from query_audit.analyze.sql_model import describe
from query_audit.connection import connect
from query_audit.model import Kind, QueryGroup, Statement

# ---------------------------------------------------------------------------------------------
# The allow-list on text alone
# ---------------------------------------------------------------------------------------------

REFUSED = {
    "SELECT * FROM (SELECT f() AS x) d": "calls f()",
    "WITH c AS (SELECT f() AS x) SELECT * FROM c": "calls f()",
    "UPDATE orders SET status = 'x' WHERE id IN (SELECT f())": "calls f()",
    "SELECT * FROM (SELECT shop.abs(1)) d": "calls shop.abs(), a stored function",
    "SELECT * FROM (SELECT `abs`(1)) d": "calls `abs`()",
    "SELECT * FROM (SELECT count (1)) d": "count is not directly followed by its parenthesis",
    "SELECT * FROM (SELECT count/**/(1)) d": "count is not directly followed by its parenthesis",
    "SELECT 1 --f()": "calls f()",  # `--` without a space is two minus signs on the server
    "SELECT /*! f() */ 1": "calls f()",  # an executable comment is code
    "SELECT /*M!100000 f() */ 1": "calls f()",
    "SELECT 'a\\\\', f(), 'b'": "calls f()",  # an escaped backslash does not escape the quote
    "SELECT my$abs(1)": "calls my$abs()",
    "SELECT LEN(a) FROM t": "calls LEN()",  # sqlglot knows LEN; MySQL does not: a stored function
    "SELECT x.if(1)": "calls x.if(), a stored function",
    "SELECT NEXTVAL(s1)": "sequence function NEXTVAL",
    "SELECT SETVAL(s1, 9700)": "sequence function SETVAL",
    "SELECT LASTVAL(s1)": "sequence function LASTVAL",
    "SELECT s1.nextval": "sequence function NEXTVAL",
    "SELECT NEXT VALUE FOR s1": "NEXT VALUE FOR",
    "SELECT PREVIOUS VALUE FOR s1": "PREVIOUS VALUE FOR",
    "SELECT * FROM (SELECT SLEEP(70)) d": "SLEEP(), which has side effects or waits",
    "SELECT * FROM (SELECT BENCHMARK(1000000, MD5('a'))) d": "BENCHMARK()",
    "SELECT * FROM (SELECT GET_LOCK('a', 0)) d": "GET_LOCK()",
    "SELECT RELEASE_LOCK('a')": "RELEASE_LOCK()",
    "SELECT LOAD_FILE('/etc/passwd')": "LOAD_FILE()",
    "SELECT MASTER_POS_WAIT('f', 4)": "MASTER_POS_WAIT()",
    "SELECT * FROM t, lateral (SELECT 1) x": "calls lateral()",  # a call on MariaDB
    "SELECT f(1) FROM t WHERE (": "calls f()",  # sqlglot cannot parse it, the lexer still sees f(
    "SELECT * FROM t WHERE a = ANY (SELECT 1)": "calls ANY()",  # ANY is not reserved in MySQL
}

ALLOWED = [
    "SELECT id, name FROM items WHERE price > 5 ORDER BY id",
    "SELECT COUNT(*), SUM(price), MAX(id) FROM items GROUP BY name HAVING COUNT(*) > 1",
    "SELECT * FROM t USE INDEX (a) WHERE a IN (1, 2) AND EXISTS (SELECT 1 FROM u WHERE u.id = t.id)",
    "INSERT INTO shop.items (id, name) VALUES (1, CONCAT('a', 'b')), (2, NOW())",
    "INSERT IGNORE items (id) VALUES (1) ON DUPLICATE KEY UPDATE name = VALUES(name)",
    "REPLACE INTO items (id, name) VALUES (1, UPPER('x'))",
    "UPDATE items SET name = TRIM(name), price = price + 1 WHERE id = 3",
    "DELETE FROM items WHERE created_at < NOW() - INTERVAL 30 DAY",
    "SELECT CAST(a AS DECIMAL(10,2)), CONVERT(b, CHAR(3)), DATE_FORMAT(c, '%Y') FROM t",
    "SELECT ROW_NUMBER() OVER (PARTITION BY a ORDER BY b) FROM t",
    "SELECT * FROM t WHERE MATCH (a, b) AGAINST ('x' IN BOOLEAN MODE)",
    "WITH RECURSIVE c (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3) SELECT * FROM c",
    "SELECT IF (a, 1, 2), IFNULL(b, 0) FROM t",  # IF is reserved: never a stored function's bare name
    "SELECT 'f()', `weird(name` FROM t -- f()\n",
    "SELECT 'a\\' , f() , '' FROM t",  # the backslash escapes the quote: f() is inside the string
    "SELECT * FROM t WHERE x = ? LIMIT ?",
    "SELECT COUNT(*) FROM (SELECT a FROM t) d",
]


@pytest.mark.parametrize("sql", sorted(REFUSED))
def test_the_guard_refuses_every_call_it_cannot_prove_inert(sql):
    reason = refusal(sql)
    assert reason is not None and reason.startswith("not explained: ")
    assert REFUSED[sql] in reason


@pytest.mark.parametrize("sql", ALLOWED)
def test_ordinary_statements_pass_the_guard(sql):
    assert refusal(sql) is None


def test_the_lexer_reads_quotes_comments_and_executable_comments_like_the_server():
    texts = [t.text for t in tokenize("SELECT `a``b`, 'it''s', \"q\\\"\" /* c */ # d\n/*!50001 x */ -- e\n--f")]
    assert texts == ["SELECT", "a`b", ",", "it''s", ",", 'q\\"', "x", "-", "-", "f"]


# ---------------------------------------------------------------------------------------------
# A hostile database: an application account with stored functions, a sequence, a view
# ---------------------------------------------------------------------------------------------

LOCK = "qa_guard_lock"


@pytest.fixture(scope="module")
def hostile(server_settings):
    """A database where the application account defined functions that write to MyISAM tables (which a
    ROLLBACK cannot undo), an invoker-rights function that copies mysql.user, and a view over one."""
    db = "qa_guard_" + uuid.uuid4().hex[:8]
    user, password = "qa_app_" + uuid.uuid4().hex[:6], "app-" + uuid.uuid4().hex
    with connect(server_settings, database="") as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}`")
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, CREATE ROUTINE, ALTER ROUTINE, EXECUTE, "
                    f"CREATE VIEW, SHOW VIEW ON `{db}`.* TO '{user}'@'%'")
        cur.execute(f"USE `{db}`")
        cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, status VARCHAR(20), "
                    "KEY (customer_id)) ENGINE=InnoDB")
        cur.execute("INSERT INTO orders VALUES " + ",".join(f"({i}, {i % 7}, 'paid')" for i in range(1, 200)))
        cur.execute("CREATE TABLE sink (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(40)) ENGINE=MyISAM")
        cur.execute("CREATE TABLE loot (who VARCHAR(300), secret TEXT) ENGINE=MyISAM")
        cur.execute("CREATE SEQUENCE s1 NOCACHE")
    app = replace(server_settings, user=user, password=password, database=db)
    with connect(app) as conn, conn.cursor() as cur:
        for name in ("f_write", "`count`"):
            cur.execute(f"CREATE FUNCTION {name}(a INT) RETURNS INT MODIFIES SQL DATA "
                        f"BEGIN INSERT INTO sink (what) VALUES ('{name}'); RETURN 1; END")
        cur.execute("CREATE FUNCTION steal() RETURNS INT SQL SECURITY INVOKER MODIFIES SQL DATA BEGIN "
                    "INSERT INTO loot SELECT CONCAT(User, '@', Host), authentication_string FROM mysql.user; "
                    "RETURN 1; END")
        cur.execute("CREATE ALGORITHM=TEMPTABLE VIEW v_write AS SELECT f_write(1) AS x")
        cur.execute("CREATE VIEW v_paid AS SELECT id, customer_id FROM orders WHERE status = 'paid'")
    yield replace(server_settings, database=db), app
    with connect(server_settings, database="") as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")


# Each hostile shape, as the application sends it. `{db}` is the hostile database.
HOSTILE = [
    "SELECT * FROM (SELECT f_write(1) AS x) d",
    "WITH c AS (SELECT f_write(2) AS x) SELECT * FROM c",
    "SELECT id FROM orders WHERE id IN (SELECT f_write(3))",
    "UPDATE orders SET status = 'x' WHERE id IN (SELECT f_write(4))",
    "SELECT * FROM (SELECT count (5) AS x) d",
    "SELECT * FROM (SELECT {db}.f_write(6) AS x) d",
    "SELECT * FROM (SELECT /*! f_write(7) */ AS x) d",
    "SELECT * FROM (SELECT 8 --f_write(8)\n AS x) d",
    "SELECT * FROM (SELECT x FROM v_write) d",
    "SELECT * FROM (SELECT steal() AS x) d",
    "SELECT * FROM (SELECT NEXTVAL(s1) AS x) d",
    "SELECT * FROM (SELECT NEXT VALUE FOR s1 AS y) d",
    "SELECT * FROM (SELECT SETVAL(s1, 9700) AS x) d",
    "SELECT * FROM (SELECT GET_LOCK('" + LOCK + "', 0) AS x) d",
]
SLEEPER = "SELECT * FROM (SELECT SLEEP(70) AS x) d"
BENIGN = "SELECT status FROM orders WHERE customer_id = 3 ORDER BY id"


def server_state(settings) -> dict:
    """What a statement could change: table checksums and row counts, the sequence, the user lock."""
    db = settings.database
    with connect(replace(settings, database="")) as conn, conn.cursor() as cur:
        cur.execute(f"CHECKSUM TABLE `{db}`.sink, `{db}`.loot, `{db}`.orders")
        state = {row[0]: row[1] for row in cur.fetchall()}
        for table in ("sink", "loot"):
            cur.execute(f"SELECT COUNT(*) FROM `{db}`.`{table}`")
            state[f"{table} rows"] = cur.fetchone()[0]
        cur.execute(f"SELECT next_not_cached_value FROM `{db}`.s1")
        state["s1"] = cur.fetchone()[0]
        cur.execute(f"SELECT IS_USED_LOCK('{LOCK}')")
        state["lock"] = cur.fetchone()[0]
    return state


def queries_by_sample(report: dict) -> dict[str, dict]:
    return {q["sample"]: q for q in report["queries"]}


def test_analyze_of_a_hostile_log_changes_nothing_and_escalates_nothing(hostile, tmp_path):
    root, app = hostile
    statements = [sql.format(db=root.database) for sql in HOSTILE] + [SLEEPER, BENIGN]
    log = tmp_path / "general.log"
    write_general_log(log, root.database, app.user, statements)
    before = server_state(root)
    started = time.monotonic()
    done = run_cli("analyze", str(log), "--dsn", root.to_dsn(), "--format", "json")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    queries = queries_by_sample(json.loads(done.stdout))
    assert len(queries) == len(statements)  # every hostile shape was a query of its own
    for sql in statements[:-1]:
        assert queries[sql]["explain"] is None and queries[sql]["error"].startswith("not explained: "), sql
    assert queries[BENIGN]["explain"] and queries[BENIGN]["error"] is None  # still EXPLAINed
    # Run as root on what the application account wrote: nothing written, the sequence unmoved, the lock
    # free, and mysql.user never copied into the application's table.
    assert server_state(root) == before
    assert before["loot rows"] == 0 and before["lock"] is None
    assert elapsed < 60  # not a speed target: SLEEP(70) run by EXPLAIN would take 70 s


def test_each_refusal_says_why(hostile, tmp_path):
    root, app = hostile
    log = tmp_path / "general.log"
    plain_view = "SELECT id FROM v_paid WHERE customer_id = 3"
    write_general_log(log, root.database, app.user, [HOSTILE[0], HOSTILE[8], HOSTILE[10], SLEEPER, plain_view])
    report = json.loads(run_cli("analyze", str(log), "--dsn", root.to_dsn(), "--format", "json").stdout)
    errors = {q["sample"]: q["error"] for q in report["queries"]}
    assert "calls f_write(), which is not a known side-effect-free built-in" in errors[HOSTILE[0]]
    assert errors[HOSTILE[8]].startswith(f"not explained: view {root.database}.v_write calls ")
    assert "sequence function NEXTVAL" in errors[HOSTILE[10]]
    assert "calls SLEEP(), which has side effects or waits" in errors[SLEEPER]
    assert errors[plain_view] is None  # a view of columns and comparisons is EXPLAINed


def group_for(sql: str, database: str) -> QueryGroup:
    statement = Statement(sql=sql, thread_id=1, database=database)
    return QueryGroup(id="X", fingerprint=sql.lower(), kind=Kind.SELECT, count=1, sample=statement)


def test_get_lock_and_sleep_in_a_derived_table_are_not_run(hostile):
    root, _ = hostile
    with connect(root) as conn:  # the tool's EXPLAIN connection stays open while the lock is checked
        sql = HOSTILE[-1]
        plan, reason = explain_query(conn, group_for(sql, root.database), describe(sql), {})
        assert plan is None and "GET_LOCK()" in reason
        assert server_state(root)["lock"] is None
        plan, reason = explain_query(conn, group_for(SLEEPER, root.database), describe(SLEEPER), {})
        assert plan is None and "SLEEP()" in reason


def test_a_view_is_found_in_the_connections_database_when_the_statement_names_none(hostile):
    root, _ = hostile
    sql = "SELECT * FROM (SELECT x FROM v_write) d"
    with connect(root) as conn:  # the DSN's database is the current one; the log said nothing
        plan, reason = explain_query(conn, group_for(sql, None), describe(sql), {})
    assert plan is None and reason.startswith(f"not explained: view {root.database}.v_write calls ")


def test_the_explain_session_bounds_time_and_lexes_like_the_guard(hostile):
    root, _ = hostile
    with connect(root) as conn, conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = 'ANSI,NO_BACKSLASH_ESCAPES'")
        harden_session(conn)
        cur.execute("SELECT @@SESSION.sql_mode, @@SESSION.lock_wait_timeout, @@SESSION.innodb_lock_wait_timeout")
        modes, lock_wait, innodb_wait = cur.fetchone()
        assert not {"ANSI_QUOTES", "NO_BACKSLASH_ESCAPES", "ANSI"} & set(modes.split(","))
        assert (int(lock_wait), int(innodb_wait)) == (2, 2)
        # Defence in depth if the guard were wrong: the per-statement time limit stops a sleeping EXPLAIN.
        from query_audit.analyze.explain_guard import bounded

        with pytest.raises(pymysql.err.OperationalError) as stopped:
            cur.execute(bounded(conn, "EXPLAIN SELECT * FROM (SELECT SLEEP(30) AS x) d"))
        assert stopped.value.args[0] == 1969  # max_statement_time exceeded


# ---------------------------------------------------------------------------------------------
# A live capture of an endpoint that sends the hostile statements
# ---------------------------------------------------------------------------------------------


def hostile_app(app, database: str):
    """An endpoint that runs every hostile statement with the application's own account (steal() fails
    for it: it may not read mysql.user), like an application would."""

    def run():
        with connect(app) as conn, conn.cursor() as cur:
            for sql in [s.format(db=database) for s in HOSTILE] + [BENIGN]:
                try:
                    cur.execute(sql)
                    cur.fetchall()
                except pymysql.err.MySQLError:
                    pass
            cur.execute(f"SELECT RELEASE_LOCK('{LOCK}')")

    return endpoint(run, "/hostile")


def changes(before: dict, after: dict) -> dict:
    return {"sink rows": after["sink rows"] - before["sink rows"], "loot rows": after["loot rows"],
            "s1": after["s1"] - before["s1"], "orders": after[next(k for k in after if k.endswith(".orders"))]}


def test_live_capture_changes_only_what_the_request_itself_did(hostile, tmp_path):
    root, app = hostile
    with hostile_app(app, root.database) as url:
        import urllib.request

        urllib.request.urlopen(url, timeout=30).read()  # the first request moves the sequence to 9700
        before = server_state(root)
        urllib.request.urlopen(url, timeout=30).read()
        by_request = changes(before, server_state(root))  # what one request does by itself
        before = server_state(root)
        env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path / "state"))
        done = run_cli("capture", "--dsn", root.to_dsn(), "--endpoint", url, "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    by_capture = changes(before, server_state(root))
    assert by_request["sink rows"] > 0 and by_request["s1"] > 0  # the request really does write
    assert by_capture == by_request  # EXPLAIN added nothing to what the request did
    assert by_capture["loot rows"] == 0  # mysql.user was never copied, not even by root's EXPLAIN
    queries = queries_by_sample(json.loads(done.stdout))
    assert queries[BENIGN]["explain"], "the application's ordinary statement is still EXPLAINed"
    refused = [q for q in queries.values() if q["sample"] != BENIGN and q["kind"] in ("select", "update")]
    assert refused and all(q["error"].startswith("not explained: ") for q in refused)


# ---------------------------------------------------------------------------------------------
# The control: without the guard, the corpus is hostile indeed
# ---------------------------------------------------------------------------------------------


def test_without_the_guard_explain_runs_the_corpus(hostile):
    """Proves the corpus tests above can fail: a plain EXPLAIN (rolled back) writes to MyISAM, copies
    mysql.user as root and advances the sequence. Runs last and cleans up after itself."""
    root, _ = hostile
    before = server_state(root)
    with connect(root) as conn, conn.cursor() as cur:
        for sql in (HOSTILE[0], HOSTILE[9], HOSTILE[10]):
            cur.execute("START TRANSACTION")
            cur.execute("EXPLAIN " + sql)
            cur.execute("ROLLBACK")
    after = server_state(root)
    assert after["sink rows"] > before["sink rows"]
    assert after["loot rows"] > 0
    assert after["s1"] > before["s1"]
    with connect(root) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE TABLE loot")


# ---------------------------------------------------------------------------------------------
# --explain-dsn: a least-privileged account for EXPLAIN and schema reads
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def explain_account(hostile):
    """The account docs/security.md describes for --explain-dsn: SELECT and SHOW VIEW, nothing else."""
    root, _ = hostile
    user, password = "qa_explain_" + uuid.uuid4().hex[:6], "ex-" + uuid.uuid4().hex
    with connect(root) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT SELECT, SHOW VIEW ON `{root.database}`.* TO '{user}'@'%'")
    yield replace(root, user=user, password=password)
    with connect(root) as conn, conn.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def test_explain_dsn_explains_with_the_least_privileged_account(hostile, explain_account, tmp_path):
    root, app = hostile
    update = "UPDATE orders SET status = 'x' WHERE customer_id = 4"
    log = tmp_path / "general.log"
    write_general_log(log, root.database, app.user, [BENIGN, update, HOSTILE[0]])
    before = server_state(root)
    done = run_cli("analyze", str(log), "--explain-dsn", explain_account.to_dsn(with_password=True),
                   "--format", "json")
    assert done.returncode == 0, done.stderr
    assert explain_account.password not in done.stdout + done.stderr
    queries = queries_by_sample(json.loads(done.stdout))
    assert queries[BENIGN]["explain"] and queries[BENIGN]["error"] is None  # SELECT is all a read needs
    # The write's EXPLAIN needs UPDATE, which this account lacks: the server says so, naming the account.
    assert "denied" in queries[update]["error"] and explain_account.user in queries[update]["error"]
    assert queries[HOSTILE[0]]["error"].startswith("not explained: ")
    assert server_state(root) == before


def test_verify_with_explain_dsn_creates_indexes_with_the_dsn_account(hostile, explain_account, tmp_path):
    root, app = hostile
    with connect(root) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS events (id INT PRIMARY KEY, kind INT, note VARCHAR(20))")
        cur.execute("INSERT IGNORE INTO events VALUES " + ",".join(f"({i}, {i % 300}, 'n')" for i in range(1, 6000)))
        cur.execute("ANALYZE TABLE events")
    lookup = "SELECT id, note FROM events WHERE kind = 7"
    log = tmp_path / "general.log"
    write_general_log(log, root.database, app.user, [lookup])
    done = run_cli("analyze", str(log), "--dsn", root.to_dsn(), "--format", "json", "--verify",
                   "--i-understand-this-creates-indexes",
                   "--explain-dsn", explain_account.to_dsn(with_password=True))
    assert done.returncode == 0, done.stderr
    (finding,) = [f for f in json.loads(done.stdout)["findings"] if f["rule"] == "missing_index"]
    assert finding["verified"] is True, finding  # created by root; the SELECT-only account could not
    with connect(root) as conn, conn.cursor() as cur:
        cur.execute("SHOW INDEX FROM events")
        assert {row[2] for row in cur.fetchall()} == {"PRIMARY"}  # and dropped again
