"""The composition root: builds the whole object graph from one Settings object.

Nothing is built at import time. Tests call ``bootstrap`` with their own
settings (temporary directories, in-memory stores, a cheap password hash).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from eventsourcing.persistence import OperationalError, ProgrammingError
from redis.asyncio import Redis

from application.policy import CreditFaults
from application.saga import Ledger
from application.service import PayFlow
from application.webhooks import WebhookRules
from infrastructure.bulkhead import Bulkhead
from infrastructure.fault_settings import PostgresFaultSettings
from infrastructure.followers import SagaRunner
from infrastructure.hints import HintOnCommit, RedisHints
from infrastructure.passwords import Argon2Hasher
from infrastructure.ratelimit import InMemoryRateLimiter, RateLimiter
from infrastructure.redis_ratelimit import RedisRateLimiter, connect
from infrastructure.response_cache import NoResponseCache, RedisResponseCache, ResponseCache
from infrastructure.settings import Settings
from infrastructure.store_probe import StoreProbe
from infrastructure.stores import ensure_schema, env_for, read_store_env
from infrastructure.tokens import TokenService
from interfaces.webhook_dispatcher import render_body
from interfaces.webhook_worker import WebhookWorker
from projections.runner import Projector
from projections.store import open_read_store

log = logging.getLogger(__name__)


@dataclass
class Container:
    """Everything one PayFlow process runs on."""

    settings: Settings
    ledger: Ledger
    payflow: PayFlow
    tokens: TokenService
    saga: SagaRunner
    commands: Bulkhead  # threads for store access by commands
    queries: Bulkhead  # and by queries, apart, so a flood of reads cannot hold up a transfer
    hashing: Bulkhead  # threads for password hashing, apart so logins cannot starve the ledger
    checks: Bulkhead  # a thread for health checks, so a busy store pool never slows /health
    projector: Projector
    webhook_worker: WebhookWorker
    rate_limiter: RateLimiter = field(default_factory=InMemoryRateLimiter)
    redis: Redis | None = None  # opened and closed by the HTTP app's cleanup context
    responses: ResponseCache = field(default_factory=NoResponseCache)  # on ``redis``
    hints: RedisHints | None = None
    probe: StoreProbe | None = None
    shared_faults: PostgresFaultSettings | None = None  # server mode: simulation settings

    def share_commits(self, listen: bool, on_hint: Callable[[str], None] | None = None) -> None:
        """With Redis: hint other processes of this one's commits, and, with ``listen``,
        wake this process's workers on theirs (they poll the store regardless); else
        call ``on_hint`` (if any) with the name of each log another process hints of."""
        if self.hints is None:
            return
        for app in (self.ledger.wallets, self.ledger.transfers, self.ledger.webhooks):
            app.lead(HintOnCommit(self.hints, app.name))
        self.hints.start(self._woken_by if listen else on_hint)

    def _woken_by(self, log_name: str) -> None:
        self.saga.wake(log_name)
        self.projector.wake()
        self.webhook_worker.wake(log_name)

    def close(self) -> None:
        """Stop the workers after their current step, then release threads and stores."""
        self.saga.stop()
        self.webhook_worker.scheduler.stop()
        self.projector.stop()
        if self.probe is not None:
            self.probe.stop()
        if self.hints is not None:
            self.hints.stop()
        self.commands.shutdown()
        self.queries.shutdown()
        self.hashing.shutdown()
        self.checks.shutdown()
        self.projector.store.datastore.close()
        self.ledger.close()
        if self.shared_faults is not None:
            self.shared_faults.close()


def rate_limiting(settings: Settings) -> tuple[RateLimiter, Redis | None]:
    """Counters in Redis when ``REDIS_URL`` is set (memory while it is down), else memory."""
    memory = InMemoryRateLimiter()
    if not settings.redis_url:
        return memory, None
    redis = connect(settings.redis_url)
    return RedisRateLimiter(redis, memory, prefix=f"{settings.redis_prefix}rl:"), redis


def response_cache(settings: Settings, redis: Redis | None) -> ResponseCache:
    """Idempotent answers cached in Redis when it is configured; else none at all."""
    if redis is None:
        return NoResponseCache()
    return RedisResponseCache(redis, prefix=f"{settings.redis_prefix}idem:")


def credit_faults(settings: Settings) -> tuple[CreditFaults, PostgresFaultSettings | None]:
    """Fault injection, its settings in PostgreSQL when every process must share them
    (server mode with PAYFLOW_SIMULATION=on); in this process otherwise, and always
    off in production mode."""
    if not settings.shares_faults:
        return settings.credit_faults(), None
    shared = PostgresFaultSettings.for_settings(settings)
    return CreditFaults(shared), shared


def require_tables(ledger: Ledger) -> None:
    """Ask each store once, so that a process started before `payflow init` made its
    tables says so now (a ProgrammingError) instead of failing at every step. A store
    that does not answer yet is the store probe's business, not a reason to stop."""
    for app in (ledger.accounts, ledger.wallets, ledger.transfers, ledger.webhooks):
        try:
            app.recorder.max_notification_id()
        except OperationalError as error:
            if "no such table" in str(error):  # SQLite says so as an operational error
                raise ProgrammingError(str(error)) from error
            return


def bootstrap(settings: Settings, sole_writer: bool = False) -> Container:
    """The object graph; ``sole_writer`` for ``payflow up``, the one process that
    writes wallets and transfers (see ``infrastructure.stores.env_for``)."""
    ensure_schema(settings)
    faults, shared_faults = credit_faults(settings)
    hooks = settings.webhooks
    ledger = Ledger.build(
        env_for(settings, sole_writer),
        limits=settings.limits,
        faults=faults,
        webhook_rules=WebhookRules(hooks.attempts, hooks.disable_after, render_body),
        snapshot_interval=settings.snapshot_interval,
    )
    if not settings.create_tables:
        require_tables(ledger)
    hasher = Argon2Hasher(settings.argon2_time_cost, settings.argon2_memory_kib)
    payflow = PayFlow(ledger.accounts, ledger.wallets, ledger.transfers, hasher)
    tokens = TokenService(
        settings.jwt_secret, settings.access_token_ttl, settings.refresh_token_ttl
    )
    rate_limiter, redis = rate_limiting(settings)
    commands = Bulkhead("command", settings.worker_threads, settings.store_queue)
    return Container(
        settings=settings,
        ledger=ledger,
        payflow=payflow,
        tokens=tokens,
        saga=SagaRunner(ledger, poll_interval=settings.saga_poll_interval),
        commands=commands,
        queries=Bulkhead("query", settings.worker_threads, settings.store_queue),
        hashing=Bulkhead("hashing", settings.hash_threads, settings.hash_queue),
        checks=Bulkhead("checks", 1, 1),
        projector=Projector(
            open_read_store(read_store_env(settings)),
            [ledger.transfers, ledger.wallets, ledger.webhooks],
        ),
        webhook_worker=WebhookWorker(
            ledger,
            hooks,
            require_https=settings.is_production,
            poll_interval=settings.saga_poll_interval,
            executor=commands.executor,
        ),
        rate_limiter=rate_limiter,
        redis=redis,
        responses=response_cache(settings, redis),
        hints=RedisHints(settings.redis_url, settings.redis_prefix) if settings.redis_url else None,
        probe=StoreProbe(settings),
        shared_faults=shared_faults,
    )
