"""The sentence of a missing_index finding: written by the rule, rewritten by --verify and the shadow once
the optimizer has measured the rows the index leaves."""

from __future__ import annotations

from query_audit.model import AddedIndex


def rows_after_phrase(rows: int, basis: str) -> str:
    """`~12 rows after (a guess: ...)`: the rows one execution would read with the index, and on what that rests."""
    return f"~{rows} {'row' if rows == 1 else 'rows'} after ({basis})"


def need_message(table: str, columns: tuple[str, ...], served: int, rows_before: int, after: str,
                 unusable: dict[str, str] | None = None) -> str:
    """The finding's one sentence; `--verify` and the shadow rebuild it with the measured `after` phrase."""
    statements = "1 query examines" if served == 1 else f"{served} queries examine"
    message = (f"`{table}` has no index on ({', '.join(columns)}): {statements} ~{rows_before} rows per "
               f"execution, {after}")
    if unusable:
        message += "; these conditions cannot use any index: " + ", ".join(
            f"{column} ({reason})" for column, reason in sorted(unusable.items()))
    return message


def measured_message(table: str, columns: tuple[str, ...], served: int, index: AddedIndex, rows_after: int,
                     basis: str) -> str:
    """The sentence once an optimizer gave `rows_after` with the index (`basis` says how)."""
    return need_message(table, columns, served, index.rows_before, rows_after_phrase(rows_after, basis),
                        dict(index.unusable) or None)
