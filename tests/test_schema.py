"""load_schema() against the private test server: what information_schema says about real tables."""

from __future__ import annotations

import pytest

from query_audit.analyze.schema import load_schema
from query_audit.connection import connect
from query_audit.errors import ConnectionFailed
from query_audit.model import Column, ForeignKey, Index, IndexColumn


@pytest.fixture
def shop(scratch_db):
    """A scratch database with tables covering every kind of index; yields (connection, database)."""
    conn = connect(scratch_db)
    statements = [
        """CREATE TABLE customers (
               id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
               email VARCHAR(255) NOT NULL,
               name VARCHAR(100) NULL,
               bio TEXT,
               UNIQUE KEY uq_email (email),
               KEY ix_name_prefix (name(10))
           ) ENGINE=InnoDB""",
        """CREATE TABLE orders (
               id BIGINT NOT NULL,
               customer_id INT UNSIGNED NOT NULL,
               status VARCHAR(20) NOT NULL DEFAULT 'new',
               created_at DATETIME NOT NULL,
               total DECIMAL(10,2),
               PRIMARY KEY (id),
               KEY ix_customer_created (customer_id, created_at),
               KEY ix_status (status),
               CONSTRAINT fk_orders_buyer FOREIGN KEY (customer_id) REFERENCES customers (id)
           ) ENGINE=InnoDB""",
        ("CREATE TABLE order_items (order_id BIGINT NOT NULL, line INT NOT NULL, sku CHAR(8), "
         "PRIMARY KEY (order_id, line), CONSTRAINT fk_items_order FOREIGN KEY (order_id) REFERENCES orders (id)) "
         "ENGINE=InnoDB"),
        ("CREATE TABLE item_notes (id INT PRIMARY KEY, item_order BIGINT NOT NULL, item_line INT NOT NULL, "
         "CONSTRAINT fk_notes_item FOREIGN KEY (item_order, item_line) REFERENCES order_items (order_id, line)) "
         "ENGINE=InnoDB"),
        "CREATE TABLE Mixed (id INT PRIMARY KEY) ENGINE=InnoDB",
        "CREATE TABLE notes (body TEXT) ENGINE=MyISAM",
        "CREATE VIEW paid_orders AS SELECT id FROM orders WHERE status = 'paid'",
    ]
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
        cur.executemany("INSERT INTO customers (email, name) VALUES (%s, %s)",
                        [(f"c{i}@example.com", f"name {i % 7}") for i in range(50)])
        cur.execute("ANALYZE TABLE customers")
        cur.fetchall()
    yield conn, scratch_db.database
    conn.close()


def test_primary_unique_composite_and_prefix_indexes_with_column_order(shop):
    conn, db = shop
    schemas = load_schema(conn, {(db, "customers"), (db, "orders"), (db, "order_items")})

    customers = schemas[(db, "customers")]
    assert customers.primary_key == ("id",)
    by_name = {index.name: index for index in customers.indexes}
    assert by_name["uq_email"].unique and by_name["uq_email"].column_names == ("email",)
    assert by_name["ix_name_prefix"].columns[0].name == "name"
    assert by_name["ix_name_prefix"].columns[0].sub_part == 10
    assert not by_name["ix_name_prefix"].unique
    assert customers.indexes[0].primary  # PRIMARY first

    orders = schemas[(db, "orders")]
    assert {i.name: i.column_names for i in orders.indexes} == {
        "PRIMARY": ("id",), "ix_customer_created": ("customer_id", "created_at"), "ix_status": ("status",)}
    assert schemas[(db, "order_items")].primary_key == ("order_id", "line")


def test_columns_with_types_and_nullability_in_table_order(shop):
    conn, db = shop
    orders = load_schema(conn, {(db, "orders")})[(db, "orders")]
    assert [c.name for c in orders.columns] == ["id", "customer_id", "status", "created_at", "total"]
    # MySQL 8.0.19+ no longer prints the display width: int unsigned.
    assert orders.column("customer_id") in (Column("customer_id", "int", "int(10) unsigned", False),
                                            Column("customer_id", "int", "int unsigned", False))
    status = orders.column("status")
    assert (status.name, status.data_type, status.column_type, status.nullable) == ("status", "varchar",
                                                                                   "varchar(20)", False)
    assert status.max_length == 20 and status.charset and not status.auto_increment
    assert not orders.column("id").auto_increment and orders.column("id").charset is None  # BIGINT, no AUTO_INCREMENT
    assert orders.row_format.lower() in ("dynamic", "compact", "compressed", "redundant")
    assert orders.column("total").nullable and orders.column("total").data_type == "decimal"


def test_row_estimate_cardinality_and_engine(shop):
    conn, db = shop
    schemas = load_schema(conn, {(db, "customers"), (db, "notes")})
    customers = schemas[(db, "customers")]
    assert 25 <= customers.rows <= 100  # InnoDB's estimate of 50 rows
    assert customers.engine == "InnoDB"
    email = next(i for i in customers.indexes if i.name == "uq_email").columns[0]
    assert isinstance(email, IndexColumn) and email.cardinality and email.cardinality >= 25
    assert schemas[(db, "notes")].engine == "MyISAM"
    assert schemas[(db, "notes")].indexes == ()


def test_views_and_unknown_tables_are_absent(shop):
    conn, db = shop
    schemas = load_schema(conn, {(db, "paid_orders"), (db, "no_such_table"), ("no_such_db", "orders"),
                                 (db, "orders")})
    assert set(schemas) == {(db, "orders")}


def test_table_names_are_case_sensitive(shop):
    conn, db = shop
    with conn.cursor() as cur:
        cur.execute("SELECT @@lower_case_table_names")
        if cur.fetchone()[0] != 0:
            pytest.skip("this server folds table names to lower case")
    schemas = load_schema(conn, {(db, "Mixed"), (db, "mixed"), (db, "ORDERS")})
    assert set(schemas) == {(db, "Mixed")}
    assert schemas[(db, "Mixed")].name == "Mixed"


def test_empty_database_means_the_connections_current_one(shop):
    conn, db = shop
    schemas = load_schema(conn, {("", "orders")})
    assert schemas[("", "orders")].database == db


def test_all_tables_are_read_in_a_few_queries(shop):
    conn, db = shop
    with conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Questions'")
        before = int(cur.fetchone()[1])
    load_schema(conn, {(db, t) for t in ("customers", "orders", "order_items", "notes", "Mixed")})
    with conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Questions'")
        after = int(cur.fetchone()[1])
    # SELECT DATABASE(), the stats-expiry SET (refused by MariaDB), TABLES, COLUMNS, STATISTICS and
    # KEY_COLUMN_USAGE: not one round trip per table
    assert after - before - 1 <= 6


def test_foreign_keys_with_their_columns_in_order_and_what_they_reference(shop):
    conn, db = shop
    found = load_schema(conn, {(db, t) for t in ("orders", "order_items", "item_notes", "customers")})
    assert found[(db, "orders")].foreign_keys == (ForeignKey(("customer_id",), db, "customers", ("id",)),)
    assert found[(db, "orders")].foreign_key_of("CUSTOMER_ID").referenced_table == "customers"
    assert found[(db, "item_notes")].foreign_keys == (
        ForeignKey(("item_order", "item_line"), db, "order_items", ("order_id", "line")),)
    assert found[(db, "item_notes")].foreign_key_of("item_order") is None  # only single-column keys
    assert found[(db, "customers")].foreign_keys == ()  # it is referenced, it references nothing


def test_index_model_is_equal_to_what_was_created(shop):
    conn, db = shop
    items = load_schema(conn, {(db, "order_items")})[(db, "order_items")]
    primary = items.indexes[0]
    assert (primary.name, primary.unique, [(c.name, c.sub_part) for c in primary.columns]) == (
        "PRIMARY", True, [("order_id", None), ("line", None)])
    assert isinstance(primary, Index)


def test_nothing_wanted_needs_no_server():
    assert load_schema(None, set()) == {}


def test_a_lost_connection_is_connection_failed(server_settings):
    conn = connect(server_settings)
    conn.close()
    with pytest.raises(ConnectionFailed):
        load_schema(conn, {("test", "t")})
