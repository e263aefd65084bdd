"""Statistics and bounded counts read from a real MariaDB, and index DDL with prefixes that the server
accepts (never ERROR 1170 / 1071), on the private test server."""

from __future__ import annotations

import pytest

from query_audit.advise.index_advisor import add_index_ddl
from query_audit.analyze.schema import load_schema
from query_audit.analyze.statistics import Budget, MeasureLimits, histogram_share, load_statistics, measure
from query_audit.connection import connect


@pytest.fixture
def posts(scratch_db):
    conn = connect(scratch_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE posts (id INT AUTO_INCREMENT PRIMARY KEY, status VARCHAR(20) NOT NULL, "
                    "author_id INT NOT NULL, KEY ix_author (author_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
        statuses = ["publish"] * 7 + ["draft"] * 2 + ["private"]
        rows = ", ".join(f"('{statuses[i % 10]}', {i % 50})" for i in range(5000))
        cur.execute(f"INSERT INTO posts (status, author_id) VALUES {rows}")
        # 10.11 collects binary DOUBLE_PREC_HB histograms by default (read through avg_frequency only);
        # JSON_HB (10.8+) holds the values themselves.
        cur.execute("SET SESSION histogram_type = 'JSON_HB'")
        cur.execute("ANALYZE TABLE posts PERSISTENT FOR ALL")
        cur.fetchall()
    database = scratch_db.database
    yield conn, database, load_schema(conn, {(database, "posts")})
    conn.close()


def test_mariadb_engine_independent_statistics_are_read_with_their_histogram(posts):
    conn, database, schemas = posts
    [schema] = load_statistics(conn, schemas, "mariadb").values()
    status = schema.column_statistics("status")
    assert status.source == "mysql.column_stats"
    assert status.rows_per_value == pytest.approx(5000 / 3, rel=0.01) and status.nulls_ratio == 0
    assert histogram_share(status, "publish") == pytest.approx(0.7, abs=0.05)
    assert any(stats.index == "ix_author" and stats.prefix == 1 and stats.rows_per_value == pytest.approx(100)
               for stats in schema.index_stats)


def test_the_bounded_count_runs_under_max_statement_time_and_stops_at_its_cap(posts):
    conn, database, schemas = posts
    [schema] = schemas.values()
    counted = measure(conn, schema, ("status",), ("draft",), "mariadb", MeasureLimits(), Budget(10))
    assert (counted.rows, counted.at_least, counted.error) == (1000, False, None)
    capped = measure(conn, schema, ("status",), ("publish",), "mariadb", MeasureLimits(count_cap=100), Budget(10))
    assert (capped.rows, capped.at_least) == (100, True)
    sampled = measure(conn, schema, ("status",), ("private",), "mariadb",
                      MeasureLimits(size_cap=1000, sample_rows=2000), Budget(10))
    assert sampled.sampled == 2000 and sampled.rows == pytest.approx(500, rel=0.2)


def test_a_spent_budget_measures_nothing_and_says_so(posts):
    conn, _database, schemas = posts
    [schema] = schemas.values()
    skipped = measure(conn, schema, ("status",), ("draft",), "mariadb", MeasureLimits(), Budget(0))
    assert skipped.rows is None and "budget" in skipped.error


def test_hostile_values_are_bound_not_spliced(posts):
    conn, _database, schemas = posts
    [schema] = schemas.values()
    counted = measure(conn, schema, ("status",), ("x' OR 1=1 -- ",), "mariadb", MeasureLimits(), Budget(10))
    assert counted.rows == 0 and counted.error is None


@pytest.mark.parametrize("row_format", ["DYNAMIC", "COMPACT"])
def test_every_prefix_the_advisor_prints_is_accepted_by_the_server(scratch_db, row_format):
    with connect(scratch_db) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE meta (id BIGINT AUTO_INCREMENT PRIMARY KEY, post_id BIGINT NOT NULL, "
                    f"meta_key VARCHAR(255), meta_value LONGTEXT, url VARCHAR(1000), body BLOB, "
                    f"title VARCHAR(700), summary VARCHAR(700), tag VARCHAR(700)) "
                    f"ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT={row_format}")
        [schema] = load_schema(conn, {(scratch_db.database, "meta")}).values()
        combinations = [("meta_key", "meta_value"), ("post_id", "meta_key"), ("url",), ("body", "url"),
                        ("title", "summary", "tag"), ("meta_key", "url", "meta_value")]
        for number, columns in enumerate(combinations):
            cur.execute(add_index_ddl(schema, f"ix_{number}", columns))  # ERROR 1170/1071 would raise here
        cur.execute("SHOW INDEX FROM meta WHERE Key_name = 'ix_0'")
        # VARCHAR(255) utf8mb4 is 1020 bytes: whole under DYNAMIC's 3072, a 191-character prefix under COMPACT's 767
        meta_key = None if row_format == "DYNAMIC" else 191
        assert [(row[4], row[7]) for row in cur.fetchall()] == [("meta_key", meta_key), ("meta_value", 32)]


def _advise_on_server(settings, sql: str):
    """The pipeline's analyze + advise steps for one statement: schema, EXPLAIN, statistics, counts."""
    import hashlib

    from query_audit.advise import advise
    from query_audit.advise.measurements import collect_measurements
    from query_audit.analyze.explain import explain_query
    from query_audit.analyze.sql_model import describe
    from query_audit.model import AnalyzedQuery, QueryGroup, Statement, Thresholds

    model = describe(sql)
    group = QueryGroup(hashlib.md5(sql.encode()).hexdigest().upper(), sql.lower(), model.kind, 1,
                       Statement(sql, database=settings.database))
    with connect(settings) as conn:
        schemas = load_schema(conn, {(settings.database, table) for table in model.tables})
        plan, error = explain_query(conn, group, model, schemas)
        queries = [AnalyzedQuery(group, model, plan, error)]
        schemas = collect_measurements(conn, queries, load_statistics(conn, schemas, "mariadb"), Thresholds(),
                                       "mariadb", MeasureLimits())
    return advise(queries, schemas, Thresholds())


def test_eav_lookups_get_the_expert_column_order_whatever_order_the_where_names_them(scratch_db):
    with connect(scratch_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE postmeta (meta_id BIGINT AUTO_INCREMENT PRIMARY KEY, post_id BIGINT NOT NULL, "
                    "meta_key VARCHAR(255), meta_value LONGTEXT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
        keys = ["_price", "_sku", "color", "views"]
        rows = ", ".join(f"({n // 4}, '{keys[n % 4]}', 'v{n % 40}')" for n in range(8000))
        cur.execute(f"INSERT INTO postmeta (post_id, meta_key, meta_value) VALUES {rows}")
        cur.execute("ANALYZE TABLE postmeta")
        cur.fetchall()
    by_entity = _advise_on_server(scratch_db, "SELECT meta_value FROM postmeta WHERE meta_key = '_price' "
                                              "AND post_id = 77")
    [index] = [f for f in by_entity if f.rule == "missing_index"]
    assert index.columns == ("post_id", "meta_key")  # the entity is the selective one (a count said so)
    assert index.evidence["estimate_source"] == "measured"
    by_value = _advise_on_server(scratch_db, "SELECT post_id FROM postmeta WHERE meta_value = 'v7' "
                                             "AND meta_key = 'color'")
    [index] = [f for f in by_value if f.rule == "missing_index"]
    assert index.ddl.endswith("(`meta_key`, `meta_value`(32))")  # the TEXT prefix goes last
