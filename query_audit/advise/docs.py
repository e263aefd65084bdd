"""docs/rules.md, generated from the rule objects: `python -m query_audit.advise.docs` (or `make docs`).

Each rule's section comes from its `Rule` (advise/rule.py): description, anti-pattern / best-practice help,
the statement kinds it reads, its severity policy and its module's docstring. The text about no single rule
(the thresholds, the estimates and how an index is verified) lives here. tests/test_advise_rules.py fails
when docs/rules.md differs from what this renders; `--check` says the same from the command line.
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

from query_audit.advise import RULES
from query_audit.advise.rule import Rule
from query_audit.model import Kind, Thresholds

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"

INTRO = """\
# Advisor rules

<!-- Generated from the rules in query_audit/advise/rules/ by `python -m query_audit.advise.docs`: edit the
rule modules (their RULE and docstring), not this file. -->

The advisor (`query_audit/advise/`) runs these rules, in this order, over every analyzed query and ranks the
findings: severity first, then rows examined, then measured time. Each rule is one module in
`query_audit/advise/rules/` that declares its id, default severity, severity policy, the statement kinds it
reads and its help text (`RULE`); `query_audit.advise.RULES` lists them for the reports and SARIF. The ids
are the report contract: a CI baseline matches on (rule, table, query id).
Evidence holds only what is known: `rows_examined` comes from a plan or the table's size, so the loop, write
and index-maintenance findings leave it out rather than print 0 (they rank after scans of equal severity).

Thresholds (`Thresholds` in `query_audit/model.py`, overridable in the config):
"""

# What each threshold decides; a new field of Thresholds without a line here fails the generation.
THRESHOLDS = {
    "n_plus_one": "runs of one SELECT shape in one unit (request or connection) for n_plus_one / "
                  "repeated_identical_query",
    "bulk_insert": "single-row INSERTs of one shape in one unit",
    "write_loop": "UPDATE/DELETE runs of one shape in one unit",
    "full_scan_rows": "below it a full scan is `info` and a table is too small to deserve an index",
    "large_scan_rows": "from it a full scan or a missing index is `high`",
    "index_writes_low": "write_amplification: index entries per unit from which it is `low`, not `info`",
    "index_writes_medium": "write_amplification: index entries per unit from which it is `medium`",
}

AFTER_THRESHOLDS = """\
Nothing is raised for a lookup by primary or unique key (EXPLAIN `const`/`eq_ref`, or `=` on every column
of such a key).
"""

CLOSING = """\
## --verify
For each missing_index finding with DDL, on a server the user declares disposable: create the index, EXPLAIN
every query it serves again, and drop the index (always, even on error). The finding gets `verified=true`
and per query the access type, key and rows before and after, or `verified=false`, severity `info` and the
reason (the optimizer did not use it, or it could not be created).


## Estimates and verification

How many rows a suggested index would leave, and whether the optimizer would use it at all, come from the
best source available, and the report names it.

**Estimates (rows after)**, in this order:
1. *measured*: a bounded, read-only count of the captured values on your server:
   `SELECT COUNT(*) FROM (SELECT 1 FROM t WHERE c = <value> LIMIT 100000) x`, each under a time limit
   (`SET STATEMENT max_statement_time=2 FOR` on MariaDB, `/*+ MAX_EXECUTION_TIME(2000) */` on MySQL), all of
   a capture under a 10 s budget; a table above 1,000,000 rows is counted over its first 200,000 rows and
   scaled. Only tables of at least `full_scan_rows` rows, only equalities whose values were captured.
   Cost: one indexed or scanning COUNT per (table, columns, values), at most 2 s each and 10 s in all.
2. *statistics*: MariaDB's engine-independent statistics (`mysql.column_stats`: `avg_frequency`, the rows
   one equality returns, and JSON_HB histograms; `mysql.index_stats`), MySQL 8 histograms
   (`information_schema.COLUMN_STATISTICS`), `information_schema.STATISTICS.CARDINALITY` of an existing
   index with the same columns, or the optimizer's `filtered`. Cost: one read of each table, no data read.
3. *guessed*: none of the above (1/10 per equality column, 1/3 for a range).

The same figures decide "too common": an equality matching more than 25% of a table gets no index of its
own, and a scan beside an existing index on that column says the optimizer passed the index by and why.

**Shadow verification** (on by default where a sandbox can start; `--no-shadow`, config `shadow = false`
or `QUERY_AUDIT_SHADOW=off` turn it off): the optimizer is the judge, on a copy, never on your server.
1. A throwaway server starts (the `sandbox` code: local `mariadbd`, or a Docker `mysql:8.0` container where a
   Docker engine answers), once per run, and is stopped on every way out. `QUERY_AUDIT_SHADOW_DSN` names an
   empty disposable server to use instead (the tool creates its databases there and drops them after).
2. Each table of the captured statements that read a suggestion's table (only those can plan differently
   with its index) is copied: `SHOW CREATE TABLE`, then one SELECT under a time
   limit (60 s): whole up to 200,000 rows, above that a deterministic sample of 200,000 (every k-th row of
   an integer primary key, else the first rows in primary-key order); tables above 5,000,000 rows are not
   copied and their suggestions stay `heuristic`. The copy is ANALYZEd (`PERSISTENT FOR ALL` on MariaDB
   where your server holds engine-independent statistics for it).
3. Each of those statements is EXPLAINed on the copy, all candidate indexes are created at once
   (Dexter-style: the optimizer picks among them), each statement is EXPLAINed again.
4. A candidate is kept, marked `verified (shadow)`, only if the optimizer uses it for a statement it was
   suggested for, it cuts that statement's rows examined on the table by at least `shadow-threshold`
   (default 0.5; config `shadow-threshold`, env `QUERY_AUDIT_SHADOW_THRESHOLD`, a share or a percentage),
   and no captured statement that uses it got a higher rows estimate (more than 10% and 10 rows). A rejected
   candidate's finding is dropped and the notes say why.

Cost, stated in the report's notes: the rows copied, the seconds your server spent on the copy's reads,
and the whole run's seconds; which server judged (flavor and version), and a warning when it is not your
server's flavor. Measured on the sample shop (`bench/shadow_cost.py test|demo`, MariaDB 10.11 on a shared
2-core machine, 2026-11-30): at demo scale the products suggestion copied 1 table, 20,000 rows in 3.3 s,
and the capture took 17.6 s instead of 3.3 s, about 11 s of it the shadow sandbox's start
(`mariadb-install-db` and the server start). A run without any index suggestion starts nothing.

**`--verify`** (opt-in, with `--i-understand-this-creates-indexes`) does the same on your server itself, one
index at a time: on MySQL 8 the index is created `INVISIBLE` and EXPLAINed with
`/*+ SET_VAR(optimizer_switch='use_invisible_indexes=on') */`, so no other session plans with it; MariaDB
has no per-session switch, so use it on a disposable server. Every statement on the table is EXPLAINed
again; a statement whose rows estimate rose makes the index unverified, whatever the others gain. Marked
`verified (live)`.
"""


def thresholds_table() -> str:
    defaults = Thresholds()
    lines = ["| threshold | default | used by |", "|---|---|---|"]
    lines += [f"| `{field.name}` | {getattr(defaults, field.name)} | {THRESHOLDS[field.name]} |"
              for field in fields(Thresholds)]
    return "\n".join(lines) + "\n"


def _reads(rule: Rule) -> str | None:
    if rule.per_request:
        return "a live capture's requests, statement by statement (`capture --endpoint`)"
    if rule.kinds:
        return ", ".join(kind.value.upper() for kind in Kind if kind in rule.kinds) + " statements"
    return None


def rule_section(rule: Rule) -> str:
    """One rule's section: `## id`, what it detects, its help, its documentation, what it reads, severity."""
    facts = [f"- **Reads**: {_reads(rule)}."] if _reads(rule) else []
    facts.append(f"- **Severity** (default `{rule.severity.value}`): {rule.severity_policy}.")
    documentation = rule.documentation
    # The facts continue the documentation's list where it ends with one, else start their own.
    joint = "\n" if documentation.split("\n\n")[-1].startswith("- ") else "\n\n"
    body = (documentation + joint if documentation else "") + "\n".join(facts)
    return f"## {rule.id}\n{rule.description}\n\n{rule.help}\n\n{body}\n"


def render() -> str:
    """docs/rules.md as the rules describe themselves."""
    sections = [INTRO, thresholds_table(), AFTER_THRESHOLDS] + [rule_section(rule) for rule in RULES] + [CLOSING]
    return "\n".join(sections)


def main(argv: list[str]) -> int:
    """Write docs/rules.md; with `--check`, only say whether it is current (exit 1 when not)."""
    text = render()
    if "--check" in argv:
        if DOCS.read_text() != text:
            print(f"{DOCS} is out of date: run `python -m query_audit.advise.docs`", file=sys.stderr)
            return 1
        return 0
    DOCS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
