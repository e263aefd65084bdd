"""The shape of an index an expert would sign: which columns, in which order, with which prefix lengths.

- An AUTO_INCREMENT primary key is never a column of a suggested index: InnoDB appends the primary key
  to every secondary index already, and leading with it would make the index useless for the filter.
- A many-to-many link table (`PRIMARY KEY (a_id, b_id)`, no AUTO_INCREMENT) filtered by `b_id` gets
  `(b_id, a_id)`: the reverse of its primary key, the answer every expert writes.
- TEXT/BLOB columns are indexed by a prefix, and every prefix fits the key-length limit: 3072 bytes for
  DYNAMIC/COMPRESSED rows (the default since MySQL 5.7 / MariaDB 10.2), 767 bytes per column for
  COMPACT/REDUNDANT; utf8mb4 takes 4 bytes a character. Past it the server answers ERROR 1071 (too long)
  or 1170 (BLOB/TEXT without a length); the DDL printed never gets either.
"""

from __future__ import annotations

from dataclasses import replace

from query_audit.model import Column, Index, TableSchema

PREFIX_REQUIRED = ("tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob")
# An EAV value or a long text is selective within its first characters; a short prefix keeps the index small.
TEXT_PREFIX = 32
KEY_LIMIT = 3072
COMPACT_COLUMN_LIMIT = 767
BYTES_PER_CHARACTER = {"utf8mb4": 4, "utf8mb3": 3, "utf8": 3, "ucs2": 2, "utf16": 4, "utf32": 4, "latin1": 1,
                       "ascii": 1, "binary": 1}
FIXED_BYTES = {"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "integer": 4, "bigint": 8, "float": 4,
               "double": 8, "date": 3, "time": 6, "datetime": 8, "timestamp": 7, "year": 1, "enum": 2,
               "set": 8, "bit": 8, "decimal": 16}
STRING_TYPES = ("char", "varchar", "binary", "varbinary") + PREFIX_REQUIRED


def is_auto_increment_key(schema: TableSchema, column: str) -> bool:
    """True for the AUTO_INCREMENT column of a single-column primary key."""
    found = schema.column(column)
    return bool(found and found.auto_increment and tuple(c.lower() for c in schema.primary_key) == (column.lower(),))


def is_link_table(schema: TableSchema) -> bool:
    """A many-to-many link table: a composite primary key with no AUTO_INCREMENT column."""
    return len(schema.primary_key) >= 2 and not any(
        (column := schema.column(name)) is not None and column.auto_increment for name in schema.primary_key)


def with_primary_key(schema: TableSchema, index: Index) -> tuple[str, ...]:
    """The columns an InnoDB secondary index really holds: its own, then the primary key's missing ones."""
    own = index.column_names
    if index.primary:
        return own
    taken = {name.lower() for name in own}
    return own + tuple(name for name in schema.primary_key if name.lower() not in taken)


def without_auto_increment(candidate, schema: TableSchema):
    """The candidate without the AUTO_INCREMENT primary key column, wherever it stood."""
    keep = tuple(name for name in candidate.equality if not is_auto_increment_key(schema, name))
    sort = tuple(name for name in candidate.sort if not is_auto_increment_key(schema, name))
    range_column = candidate.range_column
    if range_column and is_auto_increment_key(schema, range_column):
        range_column = None
    return replace(candidate, equality=keep, sort=sort, range_column=range_column)


def link_table_reverse(candidate, schema: TableSchema):
    """On a link table, a lookup by the second key column gets the rest of the key after it: (b_id, a_id)."""
    keep, primary = candidate.equality, schema.primary_key
    lowered = {name.lower() for name in keep}
    if is_link_table(schema) and keep and not candidate.sort and not candidate.range_column and \
            keep[0].lower() != primary[0].lower() and lowered < {name.lower() for name in primary}:
        return replace(candidate, equality=keep + tuple(name for name in primary if name.lower() not in lowered))
    return candidate


def expert_shape(candidate, schema: TableSchema):
    """The candidate without AUTO_INCREMENT key columns, and a link table's reverse composite."""
    return link_table_reverse(without_auto_increment(candidate, schema), schema)


def _character_bytes(column: Column) -> int:
    if column.data_type in ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"):
        return 1
    return BYTES_PER_CHARACTER.get((column.charset or "utf8mb4").lower(), 4)


def _column_limit(schema: TableSchema) -> int:
    return COMPACT_COLUMN_LIMIT if schema.row_format.lower() in ("compact", "redundant") else KEY_LIMIT


def key_parts(schema: TableSchema, columns: tuple[str, ...]) -> tuple[tuple[str, int | None], ...]:
    """(column, prefix length or None) for each column, every prefix within the key-length limits.

    TEXT/BLOB always get a prefix (TEXT_PREFIX characters); a string column too long for the per-column
    limit gets the longest prefix that fits; then, while the whole key is over 3072 bytes, the longest
    string part is shortened.
    """
    parts: list[list] = []
    for name in columns:
        column = schema.column(name)
        if column is None or column.data_type not in STRING_TYPES:
            parts.append([name, None, FIXED_BYTES.get(column.data_type if column else "", 8), 0])
            continue
        per_char = _character_bytes(column)
        fits = _column_limit(schema) // per_char
        length = column.max_length or fits
        prefix = TEXT_PREFIX if column.data_type in PREFIX_REQUIRED else (fits if length > fits else None)
        chars = prefix if prefix is not None else length
        parts.append([name, prefix, chars * per_char, per_char])
    while sum(part[2] for part in parts) > KEY_LIMIT:
        longest = max((part for part in parts if part[3]), key=lambda part: part[2], default=None)
        if longest is None:
            break
        over = sum(part[2] for part in parts) - KEY_LIMIT
        chars = max(1, (longest[2] - over) // longest[3])
        if chars * longest[3] >= longest[2]:
            break  # nothing left to shorten
        longest[1], longest[2] = chars, chars * longest[3]
    return tuple((name, prefix) for name, prefix, _bytes, _per in parts)
