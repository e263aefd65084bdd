"""redundant_index: an index that duplicates another, or is a leftmost prefix of one (pt-duplicate-key-checker).

- **Detects**, on the tables the capture touches: an index whose columns duplicate another's, or are a
  leftmost prefix of another's (pt-duplicate-key-checker). A unique or primary index is never redundant
  against a longer non-unique one; of two equal indexes the later non-unique one goes.
- **Fix**: the `ALTER TABLE ... DROP INDEX` DDL, to cut write cost.

A finding about the table, not a statement: it names no query, so its baseline key is (rule, table).
"""

from __future__ import annotations

from query_audit.advise.context import AnalysisContext
from query_audit.advise.index_advisor import drop_index_ddl
from query_audit.advise.plan_facts import schema_for
from query_audit.advise.rule import Rule
from query_audit.model import Finding, Index, SchemaMap, Severity, TableSchema


def _key(index: Index) -> tuple:
    return tuple((c.name.lower(), c.sub_part) for c in index.columns)


def redundant_pairs(schema: TableSchema) -> list[tuple[Index, Index]]:
    """(redundant, kept) pairs; each redundant index is named once."""
    pairs, named = [], set()
    for index in schema.indexes:
        if index.primary:
            continue
        for other in schema.indexes:
            if other is index or index.name in named or other.name in named:
                continue
            short, long = _key(index), _key(other)
            if long[:len(short)] != short or len(short) > len(long):
                continue
            if index.unique and not (len(short) == len(long) and (other.unique or other.primary)):
                continue  # a unique index enforces something a longer index does not
            if len(short) == len(long) and not (other.primary or other.unique) and \
                    (index.unique or schema.indexes.index(other) > schema.indexes.index(index)):
                continue  # of two equal indexes, drop the later (non-unique) one
            pairs.append((index, other))
            named.add(index.name)
    return pairs


def touched_tables(queries, schemas: SchemaMap):
    """(the name a statement used, its schema) of each table the statements touch, once each."""
    seen = set()
    for query in queries:
        for table in query.model.tables:
            schema = schema_for(query, table, schemas)
            if schema is None or (schema.database, schema.name) in seen:
                continue
            seen.add((schema.database, schema.name))
            yield table, schema


def find(context: AnalysisContext, queries) -> list[Finding]:
    findings = []
    for table, schema in touched_tables(queries, context.schemas):
        for redundant, kept in redundant_pairs(schema):
            same = len(redundant.columns) == len(kept.columns)
            relation = "duplicates" if same else "is a leftmost prefix of"
            ddl = drop_index_ddl(schema, redundant.name)
            findings.append(Finding(
                rule=RULE.id,
                severity=Severity.LOW,
                message=(f"index {redundant.name} ({', '.join(redundant.column_names)}) on `{schema.name}` "
                         f"{relation} {kept.name} ({', '.join(kept.column_names)}): every write maintains "
                         "both, and reads can use the other"),
                table=table,
                columns=redundant.column_names,
                suggestion=f"drop it to cut write cost: {ddl}",
                ddl=ddl,
                evidence={"redundant": redundant.name, "kept": kept.name, "table_rows": schema.rows},
            ))
    return findings


RULE = Rule(
    id="redundant_index",
    severity=Severity.LOW,
    description="An index duplicates another or is a leftmost prefix of one.",
    help=("Anti-pattern: indexes the others already serve, each costing every write. Best practice: drop "
          "them (pt-duplicate-key-checker's rule)."),
    severity_policy="`low`",
    details=__doc__,
    find=find,
)
