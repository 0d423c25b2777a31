"""The garbage collector in a long-running process.

Python's collector walks every object it tracks on each full collection. A
server holds several hundred thousand objects for its whole life (modules,
compiled forms, table metadata), and a large write (an import's batch of 500
records) triggers full collections often enough that walking them took about a
sixth of an import's time. `gc.freeze` sets what the process holds once it has
started aside: later collections walk only what came after.
"""

from __future__ import annotations

import gc


def freeze_garbage_collector() -> None:
    """Collect what start-up left over, then keep everything still alive out of later collections.
    Once per process, after start-up (what is frozen is never collected)."""
    gc.collect()
    gc.freeze()
