"""The one way SQL identifiers are quoted in statements the tool builds (DDL, EXPLAIN samples, restore).

Table, index and database names come from the server and from captured statements: hostile input. A name
like ``x ADD INDEX y`` or ``a`b`` must stay one identifier, so every statement built from names goes
through `quote_identifier` (backticks, an inner backtick doubled), never string pasting.
"""

from __future__ import annotations


def quote_identifier(name: str) -> str:
    """>>> quote_identifier("x ADD INDEX y"), quote_identifier("a`b")
    ('`x ADD INDEX y`', '`a``b`')"""
    return "`" + str(name).replace("`", "``") + "`"


def qualified_name(database: str | None, table: str) -> str:
    """`db`.`table`, or `table` when the database is unknown."""
    if database:
        return f"{quote_identifier(database)}.{quote_identifier(table)}"
    return quote_identifier(table)
