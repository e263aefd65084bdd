"""One module per rule. Each declares `RULE = Rule(...)` (advise/rule.py): its id, severity policy, the
statement kinds it reads, its documentation (the module's docstring) and `find(context, queries)`, which
returns findings and never prints. `query_audit.advise.RULES` lists them in report order.
"""

from query_audit.model import AnalyzedQuery, Finding


def query_finding(query: AnalyzedQuery, **fields) -> Finding:
    """A finding about one query: its id, fingerprint and count filled in from the query itself."""
    return Finding(query_id=query.group.id, query_ids=(query.group.id,), fingerprint=query.group.fingerprint,
                   count=query.group.count, **fields)


def written_table(query: AnalyzedQuery) -> str | None:
    """The table a write changes (its target, else its first table), or None."""
    return query.model.target_table or (query.model.tables[0] if query.model.tables else None)
