"""What the ledger's applications share: snapshots, conflict retries and wake-ups."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application, LRUCache, ProcessingEvent, Repository
from eventsourcing.domain import Aggregate, DomainEvent, DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Mapper, Recording, StoredEvent, Tracking
from eventsourcing.system import ProcessApplication
from eventsourcing.utils import EnvType

from application.ports import ReadsMany
from application.tracking import PageTracking
from domain.transfer import read_as_refunded

log = logging.getLogger(__name__)

T = TypeVar("T")
CONFLICT_ATTEMPTS = 50
SNAPSHOT_INTERVAL = 100  # events between two snapshots of one aggregate


class LedgerMapper(Mapper[UUID]):
    """Reads each stored event as the kind it is today, including those recorded
    before their kind had a class of its own (``domain.transfer.read_as_refunded``)."""

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        event: DomainEventProtocol[UUID] = read_as_refunded(super().to_domain_event(stored_event))
        return event


class Step(ProcessingEvent[UUID]):
    """What one commit records. Tells aggregates from events by their class: the
    library's runtime protocol check costs more than the rest of collecting.
    ``read_ahead``: aggregates a page read from the store before its steps ran."""

    def __init__(self, tracking: Tracking | None = None) -> None:
        super().__init__(tracking)
        self.read_ahead: dict[UUID, Any] = {}

    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        for obj in objs:
            if isinstance(obj, Aggregate):
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            elif isinstance(obj, DomainEvent):
                self.events.append(obj)
            else:
                super().collect_events(obj)
        self.saved_kwargs.update(kwargs)


def replay(aggregate: Any, events: Iterable[Any]) -> Any:
    """The aggregate with ``events`` applied in turn (the library's projector, less its
    per-event runtime protocol check, which costs more than applying the event)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class LedgerRepository(Repository[UUID]):
    """The library's repository, replaying with ``replay``."""

    def get(self, aggregate_id: UUID, *, projector_func: Any = replay, **kwargs: Any) -> Any:
        return super().get(aggregate_id, projector_func=projector_func, **kwargs)


class ForwardOnlyCache(LRUCache[UUID, Any]):
    """An aggregate cache that never goes back to an older version.

    A thread puts what it loaded or saved after the fact; descheduled in between,
    it could put a version older than the one another thread has cached since. In
    a sole writer's cache (never fast-forwarded) that older copy would stay: a
    transfer the saga has moved on would show, and be stepped, as it was. Such a
    put is ignored.
    """

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self._put_lock = threading.Lock()

    def put(self, key: UUID, value: Any) -> Any:
        with self._put_lock:
            link = self.cache.get(key)
            if link is not None and value is not None:
                cached = link[self.RESULT]
                if getattr(cached, "version", 0) > getattr(value, "version", 0):
                    return None, None
            return super().put(key, value)


RECENT_EVENTS = 20_000  # events a process keeps for its own followers, by notification id


class RecentEvents:
    """What an application committed lately in this process, by notification id.

    A follower in the same process takes its leader's notifications from here, and
    their events as they were committed, rather than reading the store and decoding
    what it reads back: it is the same event (events are immutable, and every event
    comes back from the store exactly as it was recorded, value for value and type
    for type: tests/property/test_snapshots_are_exact.py). A page is taken from here
    only while its ids run on without a hole from where the follower stands: ids
    are integers, so such a run is exactly what the store holds there. At the first
    id not here (older, committed by another process, or not yet added by the
    thread that committed it) the follower reads the store, as ever.
    """

    def __init__(self, capacity: int = RECENT_EVENTS) -> None:
        self.capacity = capacity
        self.last_added: int | None = None  # the highest notification id added so far
        # Oldest first: a plain dict's first key, once many before it were deleted, is
        # found by scanning past them (2.8 µs an add at 20,000, against 0.2 here).
        self._recorded: OrderedDict[int, Recording[UUID]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, recordings: Sequence[Recording[UUID]]) -> None:
        if not self.capacity:
            return
        with self._lock:
            for recording in recordings:
                self._recorded[recording.notification.id] = recording
                self.last_added = max(self.last_added or 0, recording.notification.id)
            for _ in range(len(self._recorded) - self.capacity):
                self._recorded.popitem(last=False)

    def get(self, notification_id: int) -> Any:
        recording = self._recorded.get(notification_id)
        return None if recording is None else recording.domain_event

    def page_after(
        self,
        after: int,
        limit: int,
        stop: int | None = None,
        topics: Collection[str] = (),
    ) -> list[Any]:
        """The notifications after position ``after``, as many as run on without a
        hole and none past ``stop``, up to ``limit`` of them, or of those with one of
        ``topics`` if it names any (a follower's page holds that many steps, as the
        store's page selected by topic does); empty if ``after + 1`` is not here, or
        if the run holds none of ``topics`` (such a page would be taken again and
        again: the store's page, selected by topic, passes over them)."""
        return self.run_after(after, limit, stop, topics)[0]

    def run_after(
        self,
        after: int,
        limit: int,
        stop: int | None = None,
        topics: Collection[str] = (),
    ) -> tuple[list[Any], bool]:
        """``page_after``, and whether everything added after ``after`` (up to ``stop``)
        was looked at: when it was and the page is empty, nothing added here is
        wanted there."""
        page = []
        wanted = 0
        with self._lock:
            notification_id = after + 1
            while wanted < limit and (stop is None or notification_id <= stop):
                recording = self._recorded.get(notification_id)
                if recording is None:
                    break
                page.append(recording.notification)
                if not topics or recording.notification.topic in topics:
                    wanted += 1
                notification_id += 1
            last = self.last_added if stop is None else min(stop, self.last_added or 0)
            seen_all = self.last_added is not None and notification_id > (last or 0)
        return (page if wanted else []), seen_all

    def event_of(self, notification: Any, mapper: Mapper[UUID]) -> Any:
        """The notification's event: as committed, if it is here; else decoded."""
        event = self.get(notification.id)
        return mapper.to_domain_event(notification) if event is None else event


class Snapshotting(Application[UUID]):
    """Snapshots each aggregate type it lists every ``snapshot_interval`` events.

    Only the commit itself can fail a save. What follows it (taking snapshots,
    telling followers and other processes) is logged if it fails, never raised:
    a caller told "failed" for events the store holds would pay again. A snapshot
    not taken costs only speed (the next load replays a little further); a
    follower not told catches up when it next polls.
    """

    recent_events = RECENT_EVENTS  # kept for followers in this process (0: nobody follows)

    def __init__(self, env: EnvType | None = None, *, snapshot_interval: int = SNAPSHOT_INTERVAL):
        super().__init__(env)
        kinds = type(self).snapshotting_intervals
        # The library reads the intervals from the instance: this one's, not the class's.
        self.snapshotting_intervals = dict.fromkeys(kinds, snapshot_interval)  # type: ignore[misc]
        self.recent = RecentEvents(type(self).recent_events)

    @property
    def writes_alone(self) -> bool:
        """Whether this process is the only writer of this application's log (``payflow
        up`` for Wallets and Transfers): then its cache is never fast-forwarded."""
        return self.repository.cache is not None and not self.repository.fastforward

    def notifications_after(
        self, after: int, limit: int, stop: int | None = None, topics: Sequence[str] = ()
    ) -> Sequence[Any]:
        """This application's next notifications after position ``after``: up to
        ``limit`` (of ``topics``, if it names any), none past ``stop``; those it
        committed in this process if they run on from there, else the store's. Where
        this process writes the log alone and every notification it committed after
        ``after`` is here, nothing else is in the log, and the store is not asked (a
        follower that has caught up would otherwise ask at every wake-up)."""
        page, seen_all = self.recent.run_after(after, limit, stop, topics)
        if page or (seen_all and self.writes_alone):
            return page  # nobody else writes this log: nothing else is in it
        return self.recorder.select_notifications(
            start=after + 1, limit=limit, stop=stop, topics=topics
        )

    def construct_repository(self) -> Repository[UUID]:
        stock = super().construct_repository()
        repository = LedgerRepository(
            event_store=stock.event_store,
            snapshot_store=stock.snapshot_store,
            fastforward=stock.fastforward,
            fastforward_skipping=stock.fastforward_skipping,
            deepcopy_from_cache=stock.deepcopy_from_cache,
        )
        if isinstance(stock.cache, LRUCache):
            repository.cache = ForwardOnlyCache(stock.cache.maxsize)
        else:
            repository.cache = stock.cache
        return repository

    def construct_mapper(self) -> Mapper[UUID]:
        transcoder = self.construct_transcoder()
        return self.factory.mapper(transcoder=transcoder, mapper_class=LedgerMapper)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Commit; if the store refuses it (an aggregate moved under it), forget the
        cached state of its aggregates, so a retry loads what the store holds."""
        try:
            return super()._record(processing_event)
        except IntegrityError:
            self.forget(*processing_event.aggregates)
            raise

    def forget(self, *aggregate_ids: UUID) -> None:
        """Drop these aggregates from the cache: the next load asks the store."""
        if self.repository.cache is not None:
            for aggregate_id in aggregate_ids:
                with contextlib.suppress(KeyError):
                    self.repository.cache.get(aggregate_id, evict=True)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Commit the aggregates' pending events (and any events given) together."""
        step = Step()
        step.collect_events(*objs, **kwargs)
        recordings = self._record(step)
        self._take_snapshots(step)
        self._notify(recordings)
        return recordings

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        self.recent.add(recordings)
        try:
            super()._notify(recordings)
        except Exception:
            log.exception("%s committed but could not tell its followers; they poll", self.name)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshot each aggregate the commit took to or past a multiple of its interval,
        as the commit left it: that is what the store now holds at the aggregate's
        version (its state is only ever changed by applying its events, and they were
        just committed). One a commit took from version 99 to 103, at an interval of
        100, is snapshotted at 103: rebuilding it at 100 from the store would cost a
        read and a replay, for a snapshot that serves no better."""
        if not self.snapshots or not self.snapshotting_intervals:
            return
        intervals: dict[type[Any], int] = self.snapshotting_intervals
        due: dict[UUID, Any] = {}
        for event in processing_event.events:
            aggregate: Any = processing_event.aggregates.get(event.originator_id)
            interval = intervals.get(type(aggregate))
            if interval is not None and not event.originator_version % interval:
                due[aggregate.id] = aggregate
        for aggregate in due.values():
            try:
                self.snapshots.put([type(aggregate).Snapshot.take(aggregate)])
            except Exception:
                log.exception(
                    "could not snapshot %s of %s; it loads from events", aggregate.id, self.name
                )


Reply = Callable[[Any, BaseException | None], None]
"""How a writer answers its caller: ``reply(value, None)``, or ``reply(None, error)``
for a refusal; once, on the writer's thread, so it must not block."""


def settling(future: Future[Any]) -> Reply:
    """A reply that settles ``future``."""

    def reply(value: Any, error: BaseException | None) -> None:
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)

    return reply


class _Queued:
    """Something a group commit holds for a caller, who is replied to exactly once."""

    def __init__(self, reply: Reply) -> None:
        self._reply: Reply | None = reply

    @property
    def replied(self) -> bool:
        return self._reply is None

    def settle(self, value: Any, error: BaseException | None) -> None:
        reply, self._reply = self._reply, None
        if reply is None:
            return
        try:
            reply(value, error)
        except Exception:  # the caller's own reply failed: the writer goes on
            log.exception("a reply to a group commit's caller failed")


class _Commit(_Queued):
    def __init__(self, events: Sequence[Any], aggregates: Sequence[Any], reply: Reply) -> None:
        super().__init__(reply)
        self.events = events
        self.aggregates = aggregates  # given to the store with their events, for its cache


@dataclass(frozen=True)
class Pending:
    """What a decision asks the writer to commit, and how to answer once it has:
    ``answer(None)`` after the commit, ``answer(error)`` if it was refused (either
    may raise: that is then the answer)."""

    aggregates: Sequence[Any]
    answer: Callable[[BaseException | None], Any]


class _Decision(_Queued):
    """A caller's decision, run on the writer just before the commit it may join."""

    def __init__(self, decide: Callable[[], Any], reply: Reply) -> None:
        super().__init__(reply)
        self.decide = decide
        self.context = contextvars.copy_context()

    def run(self) -> _Commit | None:
        """Decide; the commit it asks for, if any (else it has been answered)."""
        try:
            decided = self.context.run(self.decide)
            if not isinstance(decided, Pending):
                self.settle(decided, None)
                return None
            events = [e for aggregate in decided.aggregates for e in aggregate.collect_events()]
        except Exception as error:  # a refusal: the caller it belongs to raises it
            self.settle(None, error)
            return None
        return _Commit(
            events, decided.aggregates, lambda _, error: self._answer(decided.answer, error)
        )

    def _answer(self, answer: Callable[[BaseException | None], Any], error: Any) -> None:
        try:
            value = answer(error)
        except Exception as refusal:
            self.settle(None, refusal)
        else:
            self.settle(value, None)


COMMITS_WAITING = 4096  # callers a group commit holds waiting for the next commit, at most


class CommitsWaiting(Exception):
    """A group commit already holds as many callers as it may: nothing was queued."""

    def __init__(self, name: str, retry_after: int = 1) -> None:
        super().__init__(f"{name}: {COMMITS_WAITING} commits are waiting; retry in {retry_after} s")
        self.name = name
        self.retry_after = retry_after


class GroupCommit:
    """Saves the aggregates of many concurrent callers in one transaction.

    A caller queues what it wants saved and is given the future of its outcome;
    one writer thread commits everything queued so far in one ``save``: while one
    commit runs, the next callers queue behind it and go together in the next one
    (group commit: one fsync for all of them). Nobody holds a thread while waiting
    (``submit``); ``save`` waits for the outcome. At most ``capacity`` callers
    wait; past that, ``CommitsWaiting`` is raised at once.

    A caller may queue a decision instead (``decide``): it runs on the writer, in
    the caller's context, just before the commit it may join, and either answers
    at once or names what to commit (``Pending``). A command is then checked and
    committed by this one thread, with no other hop; decisions run one at a time,
    in the order they arrived.

    When a shared commit is refused (one of them collided on a unique id, or the
    store failed), each caller's events are saved on their own, so every caller
    gets its own outcome. The aggregates' pending events are taken once, before
    any attempt: an attempt that is refused has already taken them from the
    aggregates, and a retry handed the aggregates again would save nothing and
    say it had. The aggregates go to ``save`` after their events, with nothing
    left pending, so a store that caches what it saves (the sole writer's) keeps
    them.
    """

    def __init__(
        self,
        save: Callable[..., list[Recording[UUID]]],
        name: str = "commits",
        capacity: int = COMMITS_WAITING,
    ) -> None:
        self._save = save
        self.name = name
        self.capacity = capacity
        self._queue: list[_Commit | _Decision] = []
        self._queued = threading.Condition()
        self._writer: threading.Thread | None = None
        self._closed = False

    def submit(self, *aggregates: Any) -> Future[list[Recording[UUID]]]:
        """Queue ``aggregates`` to be saved (all or none) with whatever else is waiting;
        the future of their recordings, or of the error that refused them."""
        future: Future[list[Recording[UUID]]] = Future()
        with self._queued:
            self._admit()
            events = [event for aggregate in aggregates for event in aggregate.collect_events()]
            self._queue.append(_Commit(events, aggregates, settling(future)))
            self._queued.notify()
        return future

    def decide(self, decision: Callable[[], Any]) -> Future[Any]:
        """``decide_then``, answered through a future."""
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()  # a caller who stops waiting cannot undo it
        self.decide_then(decision, settling(future))
        return future

    def decide_then(self, decision: Callable[[], Any], reply: Reply) -> None:
        """Queue ``decision`` to run on the writer before its next commit, in the
        caller's context; ``reply`` is given its answer, or, if it names aggregates to
        commit (``Pending``), its answer once they are committed or refused. A
        decision must not wait for this writer (it would wait for itself), and should
        not wait for anything else: every caller queued behind it waits as long."""
        mine = _Decision(decision, reply)
        with self._queued:
            self._admit()
            self._queue.append(mine)
            self._queued.notify()

    def _admit(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self.name} is closed")
        if len(self._queue) >= self.capacity:
            raise CommitsWaiting(self.name)
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write, name=f"payflow-{self.name}", daemon=True
            )
            self._writer.start()

    def save(self, *aggregates: Any) -> list[Recording[UUID]]:
        """Save ``aggregates`` (all or none), together with whatever else is waiting."""
        return self.submit(*aggregates).result()

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        with self._queued:
            self._closed = True
            self._queued.notify()
            writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join()

    def _write(self) -> None:
        while True:
            with self._queued:
                while not self._queue and not self._closed:
                    self._queued.wait()
                if not self._queue:
                    return  # closed, and nothing is left to commit
                batch, self._queue = self._queue, []
            try:
                self._commit([c for c in map(_decided, batch) if c is not None])
            except BaseException:  # never expected: nobody may be left waiting
                log.exception("%s could not commit a batch of %d", self.name, len(batch))
                for item in batch:
                    item.settle(None, RuntimeError(f"{self.name} failed"))

    def _commit(self, batch: list[_Commit]) -> None:
        if not batch:
            return
        if len(batch) > 1:
            try:
                recordings = self._save(
                    *(e for commit in batch for e in commit.events),
                    *(a for commit in batch for a in commit.aggregates),
                )
            except Exception:  # one caller's collision, or the store: see below
                log.debug("a group commit of %d was refused; committing each alone", len(batch))
            else:
                for commit in batch:
                    ids = {e.originator_id for e in commit.events}
                    commit.settle(
                        [r for r in recordings if r.domain_event.originator_id in ids], None
                    )
                return
        # Each caller its own commit, and its own outcome (its collision, the store's
        # error): nobody is told "saved" for a commit that did not happen.
        for commit in batch:
            try:
                recordings = self._save(*commit.events, *commit.aggregates)
            except Exception as error:  # the caller it belongs to raises it
                commit.settle(None, error)
            else:
                commit.settle(recordings, None)


def answered(value: T) -> Future[T]:
    """A future that already holds ``value``: an answer given at once, where others
    are given when their commit is made."""
    future: Future[T] = Future()
    future.set_result(value)
    return future


def _decided(item: _Commit | _Decision) -> _Commit | None:
    return item.run() if isinstance(item, _Decision) else item


def retry_on_conflict(attempt: Callable[[], T], attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Run a load-decide-save attempt again when another writer got there first.

    An optimistic-concurrency conflict is an ``IntegrityError`` on the store's
    (id, version) constraint; the next attempt reloads and decides afresh.
    """
    for _ in range(attempts - 1):
        try:
            return attempt()
        except IntegrityError:
            continue
    return attempt()


class LedgerProcess(Snapshotting, ProcessApplication[UUID]):
    """A process application whose steps survive races with other writers.

    ``process_event`` takes one notification as one step: it commits the step's
    new events and its tracking record together, and the store refuses a tracking
    record that is not past the last one, so a step taken twice (by two threads or
    two processes) is refused whole. If the commit conflicts, either the step was
    already recorded (a redelivery: skip it) or an aggregate moved under it (redo
    it on fresh state).

    ``pull_and_process`` takes a whole page as one step (batch, then fsync once):
    every notification of the page is handled in memory, each aggregate loaded
    once and changed by every event of the page that concerns it, and all the new
    events are committed with one ``PageTracking`` record. The store records it
    only if this follower's tracking still stands where the page began, so a
    second worker whose page overlapped (however far it reached) is refused whole,
    and takes the page again from where the first one stopped.
    """

    pull_section_size = 100
    log_section_size = 100

    def __init__(self, env: EnvType | None = None, *, snapshot_interval: int = SNAPSHOT_INTERVAL):
        super().__init__(env, snapshot_interval=snapshot_interval)
        self._leaders: dict[str, Snapshotting] = {}  # followed in this process
        self._tracked: dict[str, int] = {}  # where this process's last page of each log ended

    def follow_leader(self, leader: Snapshotting) -> None:
        """Follow ``leader``'s log, taking the notifications and events it committed
        in this process from its ``recent`` ones rather than from the store."""
        self.follow(leader.name, leader.notification_log)
        self._leaders[leader.name] = leader

    def convert_notifications(self, leader_name: str, notifications: Iterable[Any]) -> list[Any]:
        leader = self._leaders.get(leader_name)
        if leader is None:
            return super().convert_notifications(leader_name, notifications)
        mapper = self.mappers[leader_name]
        return [
            (leader.recent.event_of(notification, mapper), Tracking(leader_name, notification.id))
            for notification in notifications
        ]

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        if self.previous_max_notification_id is None:  # as the library's Leader does
            self.previous_max_notification_id = self.recorder.max_notification_id()
        return Snapshotting.save(self, *objs, **kwargs)

    def process_event(self, domain_event: DomainEventProtocol[UUID], tracking: Tracking) -> None:
        def attempt() -> None:
            if self.recorder.has_tracking_id(tracking.application_name, tracking.notification_id):
                return
            super(LedgerProcess, self).process_event(domain_event, tracking)

        retry_on_conflict(attempt)

    def pull_and_process(
        self, leader_name: str, start: int | None = None, stop: int | None = None
    ) -> None:
        """Take every page the leader's log holds (up to ``stop``), one commit each."""
        conflicts = 0
        while True:
            try:
                if not self.process_page(leader_name, start, stop):
                    return
                conflicts = 0
            except IntegrityError:
                conflicts += 1  # rolled back whole: read the tracking afresh, redo the page
                if conflicts >= CONFLICT_ATTEMPTS:
                    raise
            start = None  # every later page begins where the last one ended

    def process_page(self, leader_name: str, start: int | None, stop: int | None) -> int:
        """Take the next page after ``start`` (default: this follower's tracking) as one
        step; how many notifications it held (0: nothing to do).

        The tracking is read from the store only when this process does not know it
        already (where its last page of that log ended). Were that stale, because
        another worker took pages since, the commit's compare and swap is refused
        and the tracking is read afresh for the retry."""
        with self.processing_lock:
            if start is None:
                start = self._tracked.get(leader_name)
            if start is None:
                start = self.recorder.max_tracking_id(leader_name)
            after = start or 0
            notifications = self._page_after(leader_name, after, stop)
            if not notifications:
                return 0
            jobs = self.convert_notifications(
                leader_name, self.filter_received_notifications(notifications)
            )
            tracking = PageTracking(leader_name, notifications[-1].id, begins_after=after)
            page = Step(tracking=tracking)
            self._read_ahead(page, [domain_event for domain_event, _ in jobs])
            for domain_event, _ in jobs:
                self.policy(domain_event, page)
            try:
                recordings = self._record(page)
            except IntegrityError:
                self._tracked.pop(leader_name, None)
                raise
            self._tracked[leader_name] = tracking.notification_id
            self._remember(page)
        self._take_snapshots(page)
        self._notify(recordings)
        return len(notifications)

    def _page_after(self, leader_name: str, after: int, stop: int | None) -> Sequence[Any]:
        """The leader's next page of the notifications this follower acts on."""
        leader = self._leaders.get(leader_name)
        if leader is not None:
            return leader.notifications_after(after, self.pull_section_size, stop, self.topics)
        pages = self.pull_notifications(
            leader_name, start=after, stop=stop, inclusive_of_start=False
        )
        return next(iter(pages), [])

    def load(self, aggregate_id: UUID, step: ProcessingEvent[UUID]) -> Any:
        """The aggregate as this step has left it so far, else as it is stored: a page
        that changes one wallet twice changes the same object twice."""
        try:
            return step.aggregates[aggregate_id]
        except KeyError:
            pass
        if isinstance(step, Step) and aggregate_id in step.read_ahead:
            return step.read_ahead.pop(aggregate_id)
        return self.repository.get(aggregate_id)

    # Reading a page's aggregates at once ---------------------------------------------

    def page_loads(self, domain_event: Any) -> tuple[UUID, ...]:
        """The aggregates this follower's policy loads for ``domain_event``."""
        return ()

    def _read_ahead(self, page: Step, events: Sequence[Any]) -> None:
        """Load every aggregate the page's steps will load, in one round trip for all,
        where the store can (``ReadsMany``). Aggregates this process is the only
        writer of come from its cache, as ``repository.get`` would give them."""
        snapshots = None if self.snapshots is None else self.snapshots.recorder
        if not isinstance(self.recorder, ReadsMany) or not (
            snapshots is None or isinstance(snapshots, ReadsMany)
        ):
            return
        cache, fastforward = self.repository.cache, self.repository.fastforward
        bases: dict[UUID, Any] = {}
        for aggregate_id in {i for event in events for i in self.page_loads(event)}:
            cached = cached_in(cache, aggregate_id)
            if cached is not None and not fastforward:
                continue  # the sole writer's cache is what the store holds
            bases[aggregate_id] = None if cached is None else deepcopy(cached)
        if not bases:
            return
        unknown = [i for i, base in bases.items() if base is None]
        if unknown and snapshots is not None:
            for stored in snapshots.select_latest_of(unknown):
                snapshot = self.mapper.to_domain_event(stored)
                bases[snapshot.originator_id] = snapshot.mutate(None)  # type: ignore[attr-defined]
        after = {i: 0 if base is None else base.version for i, base in bases.items()}
        for stored in self.recorder.select_events_after(after):
            event = self.mapper.to_domain_event(stored)
            aggregate_id = event.originator_id
            bases[aggregate_id] = event.mutate(bases[aggregate_id])  # type: ignore[attr-defined]
        page.read_ahead = {i: base for i, base in bases.items() if base is not None}

    def _remember(self, page: Step) -> None:
        """Keep what a page committed in a cache that fast-forwards (the library keeps
        it only in one that does not): the next page reads only what came after."""
        cache = self.repository.cache
        if cache is not None and self.repository.fastforward:
            for aggregate_id, aggregate in page.aggregates.items():
                cache.put(aggregate_id, aggregate)


def cached_in(cache: Any, aggregate_id: UUID) -> Any:
    """The aggregate ``cache`` holds for this id (any version), or None."""
    if cache is None:
        return None
    try:
        return cache.get(aggregate_id)
    except KeyError:
        return None
