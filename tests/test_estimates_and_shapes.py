"""Statistics, EXPLAIN rows forms, the SQL the measurement / copy / --verify send, and index shapes, from
recorded outputs (fixtures/mysql8/, see its SOURCES.md) and the statements themselves."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from advise_cases.build import query, row, table

from query_audit.advise import advise
from query_audit.advise.index_advisor import QueryCandidate
from query_audit.advise.index_shape import expert_shape, key_parts
from query_audit.advise.shadow import ShadowRun, plan_cost, regressed, shadow_choice
from query_audit.advise.verify import INVISIBLE_HINT, create_ddl
from query_audit.analyze.explain import parse_rows, parse_traditional, with_hint
from query_audit.analyze.statistics import (
    MeasureLimits,
    histogram_share,
    measurement_sql,
    parse_json_hb,
    parse_mysql_histogram,
)
from query_audit.model import (
    AnalyzedQuery,
    Column,
    ColumnStatistics,
    Finding,
    Index,
    IndexColumn,
    Measurement,
    Severity,
    TableSchema,
    Thresholds,
)
from query_audit.sandbox.shadow_copy import CopyLimits, read_sql

MYSQL8 = Path(__file__).resolve().parent.parent / "fixtures" / "mysql8"


def recorded(name: str) -> tuple[list[str], list[tuple]]:
    lines = [line for line in (MYSQL8 / name).read_text().splitlines() if line and not line.startswith("-- ")]
    header, *rows = (line.split("\t") for line in lines)
    return header, [tuple(None if value == "NULL" else value for value in values) for values in rows]


# --- EXPLAIN rows forms ---------------------------------------------------------------------------------


@pytest.mark.parametrize("printed, expected", [
    ("5 (3%)", (5, 3.0)), ("199", (199, None)), (199, (199, None)), (None, (None, None)),
    ("1234 (12.50%)", (1234, 12.5)), (b"7 (100%)", (7, 100.0)),
])
def test_every_rows_form_both_servers_print_is_read(printed, expected):
    assert parse_rows(printed) == expected


def test_a_mariadb_rowid_filter_row_is_read_as_its_access_and_its_filter():
    columns = ["id", "select_type", "table", "type", "possible_keys", "key", "key_len", "ref", "rows", "Extra"]
    plan = parse_traditional(columns, [(1, "SIMPLE", "pm", "ref|filter", "post_id,meta_key", "post_id|meta_key",
                                        "8|767", "const", "5 (3%)", "Using where; Using rowid filter")])
    [read] = plan.rows
    assert (read.access_type, read.key, read.key_len, read.rows) == ("ref", "post_id", "8", 5)
    assert (read.rowid_filter, read.rowid_filter_percent) == ("meta_key", 3.0)
    # the table's cost does not vanish: 5 rows through the key, of which the filter keeps 3% (at least one row)
    assert plan_cost(AnalyzedQuery(None, None, plan)) == 1


# --- statistics ------------------------------------------------------------------------------------------


def test_mysql8_singleton_histograms_are_read_with_their_shares():
    _header, rows = recorded("column_statistics_singleton.tsv")
    stats = {column: parse_mysql_histogram(column, histogram) for _db, _table, column, histogram in rows}
    bigint, text, date = stats["col_bigint"], stats["col_char"], stats["col_date"]
    assert bigint.source == "information_schema.COLUMN_STATISTICS"
    assert bigint.nulls_ratio == pytest.approx(1 / 3)
    assert histogram_share(bigint, "9223372036854775807") == pytest.approx(1 / 3)
    assert histogram_share(bigint, "5") == 0.0  # between two singletons: no row has it
    assert histogram_share(text, "a" * 45) == pytest.approx(1 / 3)  # base64:type254: decoded
    assert histogram_share(date, "1000-01-01") == pytest.approx(1 / 3)


def test_mysql8_equi_height_bucket_shares_its_rows_among_its_distinct_values():
    stats = parse_mysql_histogram("c", {"buckets": [[1, 10, 0.5, 5], [11, 20, 1.0, 10]],
                                        "histogram-type": "equi-height", "null-values": 0.0})
    assert histogram_share(stats, "3") == pytest.approx(0.1)
    assert histogram_share(stats, "15") == pytest.approx(0.05)


def test_mariadb_json_hb_histogram_buckets():
    document = ('{"target_histogram_size": 3, "histogram_hb": [{"start": "draft", "size": 0.2, "ndv": 1}, '
                '{"start": "private", "size": 0.1, "ndv": 1}, {"start": "publish", "end": "publish", "size": 0.7, '
                '"ndv": 1}]}')
    stats = ColumnStatistics("status", "mysql.column_stats", 1000.0, 0.0, parse_json_hb(document))
    assert histogram_share(stats, "publish") == pytest.approx(0.7)


def test_the_measurement_is_read_only_bounded_and_time_limited_on_both_servers():
    schema = table("events", 50_000, {"id": "int", "kind": "varchar"})
    limits = MeasureLimits(count_cap=1000, statement_seconds=1.5, size_cap=1_000_000)
    mariadb = measurement_sql(schema, ("kind",), "mariadb", limits)
    assert mariadb == ("SET STATEMENT max_statement_time=1.5 FOR SELECT COUNT(*) FROM (SELECT 1 FROM `shop`.`events` "
                       "WHERE `kind` = %s LIMIT 1000) x")
    mysql = measurement_sql(schema, ("kind",), "mysql", limits)
    assert mysql.startswith("SELECT /*+ MAX_EXECUTION_TIME(1500) */ COUNT(*) FROM (SELECT 1 FROM")
    big = table("events", 5_000_000, {"id": "int", "kind": "varchar"})
    sampled = measurement_sql(big, ("kind",), "mysql", limits)
    assert f"LIMIT {limits.sample_rows}) sampled WHERE `kind` = %s" in sampled


def test_the_copy_reads_whole_tables_under_the_cap_and_a_deterministic_sample_above_it():
    small = table("orders", 1000, {"id": "int", "status": "varchar"})
    assert read_sql(small, "mariadb", CopyLimits(copy_rows=5000, statement_seconds=30)) == (
        "SET STATEMENT max_statement_time=30 FOR SELECT * FROM `shop`.`orders` ORDER BY `id`")
    big = table("orders", 50_000, {"id": "int", "status": "varchar"})
    assert read_sql(big, "mysql", CopyLimits(copy_rows=5000, statement_seconds=30)) == (
        "SELECT /*+ MAX_EXECUTION_TIME(30000) */ * FROM `shop`.`orders` WHERE `id` % 10 = 0 ORDER BY `id` LIMIT 5000")


# --- --verify on MySQL 8: INVISIBLE, and a per-statement switch --------------------------------------------


def test_verify_on_mysql8_creates_the_index_invisible_and_explains_with_set_var():
    finding = Finding("missing_index", Severity.MEDIUM, "m", ddl="ALTER TABLE `s`.`t` ADD INDEX `i` (`a`)")
    assert create_ddl(finding, "mysql") == "ALTER TABLE `s`.`t` ADD INDEX `i` (`a`) INVISIBLE"
    assert create_ddl(finding, "mariadb") == "ALTER TABLE `s`.`t` ADD INDEX `i` (`a`)"
    assert with_hint("SELECT * FROM t_group WHERE dept_no='d005'", INVISIBLE_HINT) == (
        "SELECT /*+ SET_VAR(optimizer_switch='use_invisible_indexes=on') */ * FROM t_group WHERE dept_no='d005'")
    assert with_hint("/* SELECT */ UPDATE t SET a = 'SELECT' WHERE b = 1", INVISIBLE_HINT).startswith(
        "/* SELECT */ UPDATE /*+ SET_VAR(")


def test_recorded_mysql8_invisible_index_is_ignored_without_the_hint_and_used_with_it():
    columns, rows = recorded("explain_invisible_index_set_var.tsv")
    without, with_switch = (parse_traditional(columns, [line]) for line in rows)
    assert without.rows[0].access_type == "ALL" and without.rows[0].key is None
    assert with_switch.rows[0].key == "idx_1" and with_switch.rows[0].rows == 4
    before = plan_cost(AnalyzedQuery(None, None, without))
    after = plan_cost(AnalyzedQuery(None, None, with_switch))
    assert (before, after) == (10, 4) and not regressed(before, after)


def test_a_rows_estimate_that_rose_is_a_regression_and_noise_is_not():
    assert regressed(100, 1000)
    assert not regressed(100, 105)  # re-ANALYZEd statistics move a little on their own
    assert not regressed(None, 1000)


# --- index shapes ---------------------------------------------------------------------------------------


def _schema(columns, primary, rows=100_000, row_format="Dynamic", **indexes) -> TableSchema:
    built = [Index("PRIMARY", tuple(IndexColumn(name) for name in primary), unique=True)]
    built += [Index(name, tuple(IndexColumn(c) for c in cols)) for name, cols in indexes.items()]
    return TableSchema("cms", "t", rows, tuple(columns), tuple(built), row_format=row_format)


def test_a_link_table_filtered_by_its_second_key_column_gets_the_reverse_composite():
    link = _schema([Column("post_id", "bigint"), Column("tag_id", "bigint")], ("post_id", "tag_id"))
    shaped = expert_shape(QueryCandidate("Q", "post_tags", ("tag_id",), (), None), link)
    assert shaped.columns == ("tag_id", "post_id")


def test_an_auto_increment_primary_key_is_never_a_column_of_a_suggestion():
    meta = _schema([Column("id", "bigint", auto_increment=True), Column("post_id", "bigint")], ("id",))
    assert expert_shape(QueryCandidate("Q", "postmeta", ("post_id",), ("id",), None), meta).columns == ("post_id",)
    assert expert_shape(QueryCandidate("Q", "postmeta", ("id",), (), None), meta).columns == ()


@pytest.mark.parametrize("row_format, columns, expected", [
    # LONGTEXT: always a prefix
    ("Dynamic", [Column("meta_key", "varchar", max_length=255, charset="utf8mb4"),
                 Column("meta_value", "longtext", charset="utf8mb4")], (("meta_key", None), ("meta_value", 32))),
    # VARCHAR(1000) utf8mb4 = 4000 bytes: over 3072, so a prefix of 768 characters
    ("Dynamic", [Column("url", "varchar", max_length=1000, charset="utf8mb4")], (("url", 768),)),
    # COMPACT rows: 767 bytes a column, 191 utf8mb4 characters
    ("Compact", [Column("email", "varchar", max_length=255, charset="utf8mb4")], (("email", 191),)),
    # latin1: one byte a character, VARCHAR(255) fits whole
    ("Compact", [Column("code", "varchar", max_length=255, charset="latin1")], (("code", None),)),
])
def test_prefix_lengths_fit_the_key_length_limit(row_format, columns, expected):
    schema = _schema([Column("id", "int", auto_increment=True), *columns], ("id",), row_format=row_format)
    assert key_parts(schema, tuple(c.name for c in columns)) == expected


def test_several_long_columns_are_shortened_until_the_whole_key_fits():
    columns = [Column(f"c{i}", "varchar", max_length=700, charset="utf8mb4") for i in range(3)]
    schema = _schema([Column("id", "int"), *columns], ("id",))
    parts = key_parts(schema, ("c0", "c1", "c2"))
    assert sum((prefix or 700) * 4 for _name, prefix in parts) <= 3072


def advise_with(counted: Measurement, sql: str):
    """The advisor's findings for `sql` scanning a 50,000-row orders table on which `counted` was measured."""
    orders = replace(table("orders", 50_000, {"id": "int", "status": "varchar", "customer_id": "int"}),
                     measured=(counted,))
    return advise([query(sql, row("orders", "ALL", 50_000))], {("shop", "orders"): orders}, Thresholds())


def test_a_lone_column_that_matches_a_large_share_of_the_table_gets_no_index_and_the_scan_says_why():
    counted = Measurement(("status",), ("paid",), 30_000, seconds=0.01)
    findings = advise_with(counted, "SELECT * FROM orders WHERE status = 'paid'")
    assert not [f for f in findings if f.rule == "missing_index" and f.ddl]
    [scan] = [f for f in findings if f.rule == "full_table_scan"]
    assert "no index suggested" in scan.message and "~60% of the table" in scan.message
    assert "measured: status = paid matches 30000 rows" in scan.message
    assert scan.evidence["matching_share"]["source"] == "measured"


def test_a_measured_estimate_is_named_in_the_message_and_evidence():
    counted = Measurement(("customer_id",), ("7",), 12, seconds=0.01)
    findings = advise_with(counted, "SELECT * FROM orders WHERE customer_id = 7")
    [index] = [f for f in findings if f.rule == "missing_index"]
    assert index.evidence["rows_after_estimate"] == 12 and index.evidence["estimate_source"] == "measured"
    assert "~12 rows after (measured: customer_id = 7 matches 12 rows" in index.message


# --- which server judges -----------------------------------------------------------------------------


@pytest.mark.parametrize("flavor, version, docker, local, expected", [
    ("mysql", "8.0.40", True, "mariadb", ("docker", "mysql:8.0")),
    ("aurora-mysql", "8.0.28", True, None, ("docker", "mysql:8.0")),
    ("mysql", "8.0.40", False, "mariadb", ("local", None)),  # the report then says MariaDB judged
    ("mariadb", "10.11.19", True, "mariadb", ("local", None)),
    ("mariadb", "10.6.20", True, None, ("docker", "mariadb:10.6")),
    ("mariadb", "10.11.19", False, None, ("docker", None)),  # nothing here: start_docker says why
])
def test_the_shadow_matches_the_users_flavor_and_major_version_where_it_can(flavor, version, docker, local,
                                                                           expected):
    assert shadow_choice(flavor, version, docker, local) == expected


def test_the_report_names_the_judge_when_it_is_not_the_users_flavor_or_major_version():
    run = ShadowRun("mariadb 10.11.19", (), 1.0, 1, ())
    assert any("not your server's mysql 8.0.40" in note for note in run.notes("mysql 8.0.40"))
    assert not any("not your server" in note for note in run.notes("mariadb 10.11.6"))
    assert any("not your server" in note for note in run.notes("mariadb 10.6.20"))
