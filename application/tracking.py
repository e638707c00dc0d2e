"""Tracking a page of steps: where it ends, and where it began.

A follower that takes a whole page of its leader's log as one step records the
page's last position only if its tracking still stands where the page began
(compare and swap). A second worker whose page overlapped the first's, however
far it reaches, is refused whole, so no step can be taken twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.persistence import Tracking


@dataclass(frozen=True)
class PageTracking(Tracking):
    """``notification_id`` is the page's last position; ``begins_after`` is the
    tracking the page was read from (0 before the first step)."""

    begins_after: int = 0
