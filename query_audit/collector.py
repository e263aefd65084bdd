"""How query-audit uses Python's cyclic garbage collector, in one place.

A big log leaves millions of small objects alive (the Digest's records, then sqlglot's trees); each
collection walks the long-lived ones again for nothing. So:

* `paused()` while a source is read: the reading makes no cycles, so there is nothing to collect;
* `collecting_less()` while the groups are modelled, advised and rendered: what was alive on the way in
  is frozen out of the collections, which then only walk the new (sqlglot's cyclic) objects;
* a second reader's inherited objects are frozen at the fork (sources/two_readers.py), so the child's
  collections do not copy their pages;
* the command line freezes everything at exit (cli.main): the interpreter's last collections only walked
  what the system takes back anyway.

Each leaves the collector as it found it, so a library caller's process is not changed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The collector off inside: for the reading, which makes no cycles (a collection at its end frees
    nothing, which tests/test_two_readers.py checks); its ~170 collections at 1M statements only walked the
    Digest's growing records again, ~0.1 s. On again afterwards, unless it was off before."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def collecting_less() -> Iterator[None]:
    """Cheaper garbage collections inside: what is alive on the way in (the groups, the modules) is left out
    of every collection (`gc.freeze`). sqlglot's trees are many small objects held in cycles: at 1M
    statements the collections while modelling, advising and reporting cost ~0.4 s, most of it walking the
    same long-lived objects again and again. Undone on the way out; what someone else froze (or an outer
    `collecting_less`) stays frozen."""
    freezing = gc.get_freeze_count() == 0
    if freezing:
        gc.freeze()
    try:
        yield
    finally:
        if freezing:
            gc.unfreeze()
