"""The composition root: builds the whole object graph from one Settings object.

Nothing is built at import time. Tests call ``bootstrap`` with their own
settings (temporary directories, in-memory stores, a cheap password hash).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from application.saga import Ledger, SagaRunner
from application.service import PayFlow
from infrastructure.passwords import Argon2Hasher
from infrastructure.settings import Settings
from infrastructure.stores import env_for
from infrastructure.tokens import TokenService

log = logging.getLogger(__name__)


@dataclass
class Container:
    """Everything one PayFlow process runs on."""

    settings: Settings
    ledger: Ledger
    payflow: PayFlow
    tokens: TokenService
    saga: SagaRunner
    executor: ThreadPoolExecutor

    def close(self) -> None:
        """Stop the saga after its current step, then release threads and stores."""
        self.saga.stop()
        self.executor.shutdown(wait=True)
        self.ledger.close()


def bootstrap(settings: Settings) -> Container:
    ledger = Ledger.build(
        env_for(settings), limits=settings.limits, faults=settings.credit_faults()
    )
    hasher = Argon2Hasher(settings.argon2_time_cost, settings.argon2_memory_kib)
    payflow = PayFlow(ledger.accounts, ledger.wallets, ledger.transfers, hasher, settings.limits)
    tokens = TokenService(
        settings.jwt_secret, settings.access_token_ttl, settings.refresh_token_ttl
    )
    return Container(
        settings=settings,
        ledger=ledger,
        payflow=payflow,
        tokens=tokens,
        saga=SagaRunner(ledger, poll_interval=settings.saga_poll_interval),
        executor=ThreadPoolExecutor(
            max_workers=settings.worker_threads, thread_name_prefix="payflow-io"
        ),
    )
