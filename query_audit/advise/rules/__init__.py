"""One module per rule. Each exposes `check(queries, schemas, thresholds) -> list[Finding]` and never prints.

`query_audit.advise.RULES` lists them in order with their id, default severity and help text.
"""
