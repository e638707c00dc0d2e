"""Read your writes: log positions on command answers, and queries that wait for them.

Every successful command answer carries ``X-PayFlow-Position`` (for example
``Transfers:45,Wallets:123``): how far each log had got once the command was
committed. A query that sends it back (the same header, or ``?position=``)
waits until the read models have reached it, at most ``PAYFLOW_READ_WAIT_MS``
(2 seconds unless set lower);
if they have not, it answers 503 with code 5006 and ``Retry-After``, rather
than an answer that silently misses the write. A position past the end of a log
is no position any command answered with: 400 at once. A query that sends no
position waits, within the same bound, for everything committed before it
arrived; if that bound runs out it still answers, marked
``X-PayFlow-Consistency: stale``. Every query answer says in
``X-PayFlow-Position`` how far its read models were.

Waiting holds no thread: a waiting query is a future on the event loop, resolved
when the projector of this process says it has committed a page, or when the one
poll shared by every waiter (for a projector in another process) reads the
positions from the read store. Where every command is committed in this process
(``payflow up``) the log ends are known from its own commits and cost nothing to
ask; otherwise they are read once for all the requests that arrived while the
previous read was under way. Past ``MAX_WAITING`` waiting queries, another is
answered 503 at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Mapping
from uuid import UUID

from aiohttp import web
from eventsourcing.system import Leader, RecordingEvent, RecordingEventReceiver

from infrastructure.bulkhead import Bulkhead, Overloaded, SharedCall
from interfaces.http.errors import ApiError, ErrorCode, Handler
from interfaces.http.keys import CONTAINER
from projections.runner import Projector

log = logging.getLogger(__name__)

POSITION_HEADER = "X-PayFlow-Position"
CONSISTENCY_HEADER = "X-PayFlow-Consistency"
POLL_SECONDS = 0.05  # how often the store is asked while anyone waits
MAX_WAITING = 1000
_POSITION = re.compile(r"\s*([A-Za-z]+)\s*:\s*(\d{1,18})\s*")

Positions = dict[str, int]


def format_position(positions: Mapping[str, int]) -> str:
    return ",".join(f"{name}:{at}" for name, at in sorted(positions.items()))


def parse_position(text: str, known: set[str]) -> Positions:
    """``Transfers:45,Wallets:123`` as a dict; a 400 naming the problem otherwise."""
    positions: Positions = {}
    for part in text.split(","):
        match = _POSITION.fullmatch(part)
        if match is None or match.group(1) not in known:
            raise ApiError(
                400,
                ErrorCode.INVALID_INPUT,
                f"{POSITION_HEADER} must look like "
                f"{format_position(dict.fromkeys(sorted(known), 1))}",
            )
        positions[match.group(1)] = int(match.group(2))
    return positions


class LogEnds(RecordingEventReceiver[UUID]):
    """Where each followed log ends: what this process committed, and, when other
    processes commit too, what the store says (read once for all who asked meanwhile)."""

    def __init__(self, projector: Projector, store: Bulkhead, only_writer: bool) -> None:
        self.known: Positions = {leader.name: 0 for leader in projector.leaders}
        self.only_writer = only_writer
        self._lock = threading.Lock()
        self._read = SharedCall(projector.latest_positions, store)
        for leader in projector.leaders:
            if isinstance(leader, Leader):
                leader.lead(self)

    def receive_recording_event(self, new_recording_event: RecordingEvent[UUID]) -> None:
        """A commit in this process (on the thread that made it)."""
        at = new_recording_event.recordings[-1].notification.id
        self._advance({new_recording_event.application_name: at})

    async def latest(self) -> Positions:
        """The log ends as they were at least when this was called."""
        if not self.only_writer:
            return await self.refresh()
        with self._lock:
            return dict(self.known)

    async def refresh(self) -> Positions:
        """The log ends, asking the store (another process may have committed)."""
        return self._advance(await self._read())

    def _advance(self, positions: Mapping[str, int]) -> Positions:
        with self._lock:
            for name, at in positions.items():
                if name in self.known:
                    self.known[name] = max(self.known[name], at)
            return dict(self.known)


class ReadProgress:
    """How far the read models have got, as the event loop knows it; queries wait here."""

    def __init__(self, projector: Projector, store: Bulkhead) -> None:
        self.projector = projector
        self.positions: Positions = {}
        self._store = store
        self._waiters: list[tuple[Mapping[str, int], asyncio.Future[None]]] = []
        self._poller: asyncio.Task[None] | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hear of every page this process's projector commits, on ``loop``."""

        def heard(name: str, at: int) -> None:  # on the projecting thread
            loop.call_soon_threadsafe(self.advance, {name: at})

        self.projector.on_progress(heard)

    def advance(self, positions: Mapping[str, int]) -> None:
        """The read models have reached ``positions``: wake whoever that satisfies."""
        for name, at in positions.items():
            self.positions[name] = max(self.positions.get(name, 0), at)
        waiting = []
        for targets, future in self._waiters:
            if self.reached(targets):
                if not future.done():
                    future.set_result(None)
            else:
                waiting.append((targets, future))
        self._waiters = waiting

    @property
    def waiting(self) -> int:
        """How many queries are waiting for the read models."""
        return len(self._waiters)

    def reached(self, targets: Mapping[str, int]) -> bool:
        return all(self.positions.get(name, 0) >= at for name, at in targets.items())

    async def wait_for(self, targets: Mapping[str, int], timeout: float) -> bool:
        """Whether the read models reach ``targets`` within ``timeout`` seconds."""
        if self.reached(targets):
            return True
        if len(self._waiters) >= MAX_WAITING:
            raise Overloaded("read-your-writes")
        future = asyncio.get_running_loop().create_future()
        entry = (targets, future)
        self._waiters.append(entry)
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll())
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, timeout)
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)
        return self.reached(targets)

    async def refresh(self) -> None:
        """Read the projected positions from the read store (a projector in another
        process commits too)."""
        self.advance(await self._store.run(self.projector.positions))

    async def _poll(self) -> None:
        try:
            while self._waiters:
                try:
                    await self.refresh()
                except Overloaded:
                    pass  # the store's threads are busy: the next round will ask
                except Exception:
                    log.exception("could not read how far the read models are")
                await asyncio.sleep(POLL_SECONDS)  # the interval between two reads
        finally:
            self._poller = None


PROGRESS = web.AppKey("read_progress", ReadProgress)
LOG_ENDS = web.AppKey("log_ends", LogEnds)


def install(app: web.Application, only_writer: bool) -> None:
    """Give the app its read progress and log ends, and bind them when it starts.
    ``only_writer``: every command is committed in this process (``payflow up``)."""
    holder = app[CONTAINER]
    progress = ReadProgress(holder.projector, holder.queries)
    ends = LogEnds(holder.projector, holder.queries, only_writer)
    app[PROGRESS], app[LOG_ENDS] = progress, ends

    async def bind(app: web.Application) -> None:
        progress.bind(asyncio.get_running_loop())
        with contextlib.suppress(Exception):  # a store that is down is /health's to report
            await progress.refresh()
            await ends.refresh()

    app.on_startup.append(bind)


async def caught_up(request: web.Request) -> dict[str, str]:
    """Wait until the read models show what this request must see; the answer's headers."""
    progress, log_ends = request.app[PROGRESS], request.app[LOG_ENDS]
    ends = await log_ends.latest()
    asked = request.headers.get(POSITION_HEADER) or request.query.get("position")
    targets = ends
    if asked:
        targets = parse_position(asked, set(ends))
        if not _within(targets, ends):  # committed elsewhere a moment ago, or never
            ends = await log_ends.refresh()
            _require_within(targets, ends)
    reached = await progress.wait_for(targets, request.app[CONTAINER].settings.read_wait)
    now = format_position({name: progress.positions.get(name, 0) for name in ends})
    if not reached and asked:
        raise ApiError(
            503,
            ErrorCode.READ_MODEL_BEHIND,
            f"The read models have reached {now}, not yet {asked}; retry",
            headers={"Retry-After": "1", POSITION_HEADER: now},
        )
    headers = {POSITION_HEADER: now}
    if not reached:
        headers[CONSISTENCY_HEADER] = "stale"
    return headers


def _within(targets: Positions, ends: Positions) -> bool:
    return all(at <= ends[name] for name, at in targets.items())


def _require_within(targets: Positions, ends: Positions) -> None:
    beyond = {name: at for name, at in targets.items() if at > ends[name]}
    if beyond:
        raise ApiError(
            400,
            ErrorCode.INVALID_INPUT,
            f"{POSITION_HEADER} {format_position(beyond)} is beyond the end of the log "
            f"({format_position(ends)}): no command answered with it",
        )


@web.middleware
async def position_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Stamp each successful command answer with the log positions it produced."""
    response = await handler(request)
    if request.method == "POST" and 200 <= response.status < 300:
        positions = await request.app[LOG_ENDS].latest()
        response.headers[POSITION_HEADER] = format_position(positions)
    return response
