"""The in-memory store: ``eventsourcing``'s POPO recorders, with page tracking.

Use as ``PERSISTENCE_MODULE=infrastructure.memory_store`` (tests, and ``memory``
stores). A page of steps is recorded only where it began, as in the SQL stores.
"""

from __future__ import annotations

from eventsourcing import popo
from eventsourcing.persistence import IntegrityError, ProcessRecorder, Tracking

from application.tracking import PageTracking


class PageTrackingPOPORecorder(popo.POPOProcessRecorder):
    """Refuses a page whose tracking has moved since the page was read."""

    def _assert_tracking_uniqueness(self, tracking: Tracking) -> None:
        if not isinstance(tracking, PageTracking):
            super()._assert_tracking_uniqueness(tracking)
            return
        current = self._max_tracking_ids[tracking.application_name] or 0
        if current != tracking.begins_after or tracking.notification_id <= current:
            raise IntegrityError(
                f"tracking of {tracking.application_name} moved past {tracking.begins_after}"
            )


class Factory(popo.POPOFactory):  # the one factory class the library looks for
    def process_recorder(self) -> ProcessRecorder:
        return PageTrackingPOPORecorder()
