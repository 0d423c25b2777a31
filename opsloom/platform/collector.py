"""The garbage collector in a long-running process.

Python's collector walks every object it tracks on each full collection. A
server holds several hundred thousand objects for its whole life (modules,
compiled forms, table metadata), and a large write (an import's batch of 500
records) triggers full collections often enough that walking them took about a
sixth of an import's time. `gc.freeze` sets what the process holds once it has
started aside: later collections walk only what came after.

The youngest generation is collected once 700 more objects were made than
freed, CPython's default: a request that makes a few thousand objects on its
way (a list's rows, statements, answers) set off several collections, each
walking what the requests in flight still held, all of it freed a moment
later. At `YOUNG_THRESHOLD` they are rare (about 30 in the 50,000 list
requests of `bench/peers.py`, against 2,600), and what garbage has cycles is
still collected.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def freeze_garbage_collector() -> None:
    """Collect what start-up left over, then keep everything still alive out of later collections,
    and collect the youngest objects less often. Once per process, after start-up (what is frozen
    is never collected)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
