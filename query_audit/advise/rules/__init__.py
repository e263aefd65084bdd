"""One module per rule. Each exposes `check(queries, schemas, thresholds) -> list[Finding]` and never prints.

`query_audit.advise.RULES` lists them in order with their id, default severity and help text.
"""

from query_audit.model import AnalyzedQuery, Finding


def query_finding(query: AnalyzedQuery, **fields) -> Finding:
    """A finding about one query: its id, fingerprint and count filled in from the query itself."""
    return Finding(query_id=query.group.id, query_ids=(query.group.id,), fingerprint=query.group.fingerprint,
                   count=query.group.count, **fields)
