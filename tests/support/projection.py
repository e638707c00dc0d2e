"""Waiting, in a test thread, for a running projector to reach positions."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from projections.runner import Projector


def projected(projector: Projector, targets: Mapping[str, int], timeout: float) -> bool:
    """Whether the projector reaches ``targets`` within ``timeout`` seconds, as its
    progress listener tells (or as its tracking already shows)."""
    seen: dict[str, int] = {}
    reached = threading.Event()

    def heard(name: str, at: int) -> None:
        seen[name] = max(seen.get(name, 0), at)
        if all(seen.get(log, 0) >= at for log, at in targets.items()):
            reached.set()

    projector.on_progress(heard)
    for name in targets:
        heard(name, projector.position(name))
    return reached.wait(timeout)
