"""Every setting PayFlow reads, from one place: the process environment.

``Settings.from_env()`` validates everything at start-up and names each bad
value; nothing else reads ``os.environ``. Defaults give the embedded mode:
SQLite files under ``./var``, no Redis, port 3000.

Rate limits (API.md "Rate limits") are each one variable ``<hits>/<seconds>``:
``PAYFLOW_RATE_GLOBAL`` (default ``100/900``, per client IP, production mode
only), ``PAYFLOW_RATE_AUTH`` (``5/900``, login and register per IP+email),
``PAYFLOW_RATE_AUTH_IP`` (``30/900``, login and register per IP, whatever the
email) and ``PAYFLOW_RATE_TRANSFERS`` (``10/60``, ``POST /transactions`` per user).
``LOAD_TEST_SECRET`` (unset: no bypass) lets a request whose
``X-Load-Test-Token`` equals it skip every limit. ``REDIS_URL`` (unset: no
Redis, in-memory counters per process) shares the counters between processes,
under keys starting with ``PAYFLOW_REDIS_PREFIX`` (default ``payflow:``); while
Redis does not answer, each process counts on its own and logs a warning.

Webhooks (``WebhookSettings``): ``PAYFLOW_WEBHOOK_ATTEMPTS`` (5),
``PAYFLOW_WEBHOOK_DISABLE_AFTER`` (10 failed attempts in a row),
``PAYFLOW_WEBHOOK_TIMEOUT_MS`` (10000 per attempt), ``PAYFLOW_WEBHOOK_RETRY_BASE_MS``
and ``_CAP_MS`` (10000 and 3600000: full-jitter exponential backoff),
``PAYFLOW_WEBHOOK_ALLOW_PRIVATE`` (``no``: loopback, private and link-local
targets are refused) and ``PAYFLOW_WEBHOOK_CONCURRENCY`` (32 attempts at once).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path

from application.base import SNAPSHOT_INTERVAL
from application.policy import CreditFaults, FaultSettings, InMemoryFaultSettings, Limits
from domain.errors import InvalidAmount
from domain.money import Money
from infrastructure.ratelimit import Rule
from infrastructure.sqlite_store import DEFAULT_SYNCHRONOUS, SYNCHRONOUS_LEVELS

DEVELOPMENT_JWT_SECRET = "payflow-development-secret-change-me"  # noqa: S105
STORES = ("sqlite", "postgres", "memory")
MODES = ("development", "production", "test")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_RULE = re.compile(r"([0-9]{1,9})\s*/\s*([0-9]{1,9})")
_SQL_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_THRESHOLDS = re.compile(r"(-?[0-9]{1,9})\s*,\s*(-?[0-9]{1,9})\s*,\s*(-?[0-9]{1,9})")
# The ledger keeps many objects a few seconds (recent events, cached aggregates) and
# makes few reference cycles (a failure's traceback would hold the frame that holds
# the failure: those frames let go of it). At the interpreter's thresholds (700, 10,
# 10) that turnover reads as growth: under load a full collection every ~1.5 s, 130 ms
# each with the interpreter lock held, finding next to nothing (30 objects in 10).
# Young collections, which find the cycles there are, run every 10,000 allocations.
# Python 3.11-3.13; from 3.14 the collector is incremental and this is not applied.
GC_THRESHOLDS = (10_000, 10, 100)


def default_hash_threads() -> int:
    """Password hashing gets every core but one: the ledger keeps a core of its own."""
    return max(1, (os.cpu_count() or 1) - 1)


class SettingsError(ValueError):
    """One or more settings are missing or malformed; the message lists each."""


@dataclass(frozen=True)
class PostgresSettings:
    host: str = "127.0.0.1"
    port: int = 5432
    dbname: str = "payflow"
    user: str = "postgres"
    password: str = ""
    schema: str = ""


@dataclass(frozen=True)
class RateLimits:
    """How many requests each limited group of routes takes per window."""

    per_client: Rule = Rule(100, 900)
    auth: Rule = Rule(5, 900)
    transfers: Rule = Rule(10, 60)
    auth_per_ip: Rule = Rule(30, 900)  # login and register from one address, any email


@dataclass(frozen=True)
class WebhookSettings:
    """How webhooks are delivered (API.md, "Webhooks"; README, "Webhooks")."""

    attempts: int = 5
    disable_after: int = 10  # failed attempts in a row before an endpoint is disabled
    timeout: float = 10.0  # seconds per attempt, all of it
    retry_base: float = 10.0  # seconds: the first retry waits up to this, doubling after
    retry_cap: float = 3600.0
    allow_private: bool = False  # loopback, private and link-local targets
    concurrency: int = 32


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one PayFlow process."""

    mode: str = "development"
    host: str = "127.0.0.1"
    port: int = 3000
    data_dir: Path = Path("var")
    store: str = "sqlite"
    sqlite_synchronous: str = DEFAULT_SYNCHRONOUS
    postgres: PostgresSettings = field(default_factory=PostgresSettings)
    jwt_secret: str = DEVELOPMENT_JWT_SECRET
    access_token_ttl: int = 15 * 60
    refresh_token_ttl: int = 7 * 24 * 3600
    limits: Limits = field(default_factory=Limits)
    credit_failure_percent: int = 0
    simulation: bool | None = None  # fault injection routes; None: on only in `payflow up`
    saga_poll_interval: float = 1.0
    snapshot_interval: int = SNAPSHOT_INTERVAL
    worker_threads: int = 8  # store access: this many for commands, as many for queries
    store_queue: int = 256
    hash_threads: int = field(default_factory=default_hash_threads)
    hash_queue: int = 8
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    max_body_bytes: int = 64 * 1024
    read_wait: float = 2.0  # seconds a query may wait for the read models
    body_timeout: float = 10.0  # seconds a client has to send a whole request body
    log_level: str = "INFO"
    create_tables: bool = True  # off for server-mode workers: `payflow init` made them
    rate_limits: RateLimits = field(default_factory=RateLimits)
    load_test_secret: str = ""
    redis_url: str = ""
    redis_prefix: str = "payflow:"
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    gc_thresholds: tuple[int, int, int] = GC_THRESHOLDS

    @property
    def is_production(self) -> bool:
        return self.mode == "production"

    def simulation_routes(self, embedded: bool) -> bool:
        """Whether ``/ledger/simulation`` answers: never in production mode; else as
        ``PAYFLOW_SIMULATION`` says, and when it says nothing, only in the embedded
        mode (``payflow up``), where one process runs everything."""
        if self.is_production:
            return False
        return embedded if self.simulation is None else self.simulation

    @property
    def shares_faults(self) -> bool:
        """Server mode with fault injection on: its settings live in PostgreSQL, where
        every API process and the saga process see the same ones."""
        return self.store == "postgres" and self.simulation is True and not self.is_production

    def fault_settings(self) -> FaultSettings:
        """The fault injection to start with, until other settings are saved; always
        off in production mode."""
        percent = 0 if self.is_production else self.credit_failure_percent
        return FaultSettings(enabled=percent > 0, rate=Fraction(percent, 100))

    def credit_faults(self) -> CreditFaults:
        """Fault injection as configured, its settings kept in this process."""
        return CreditFaults(InMemoryFaultSettings(self.fault_settings()))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        reader = _Reader(os.environ if environ is None else environ)
        settings = reader.settings()
        reader.raise_if_invalid()
        return settings


class _Reader:
    """Reads and checks each variable, collecting every problem before failing."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.env = environ
        self.problems: list[str] = []

    def settings(self) -> Settings:
        mode_name = "PAYFLOW_ENV" if "PAYFLOW_ENV" in self.env else "NODE_ENV"
        mode = self.choice(mode_name, MODES, "development")
        settings = Settings(
            mode=mode,
            host=self.text("HOST", "127.0.0.1"),
            port=self.integer("PORT", 3000, low=0, high=65535),
            data_dir=Path(self.text("PAYFLOW_DATA_DIR", "var")),
            store=self.choice("PAYFLOW_STORE", STORES, "sqlite"),
            sqlite_synchronous=self.choice(
                "PAYFLOW_SQLITE_SYNCHRONOUS", SYNCHRONOUS_LEVELS, DEFAULT_SYNCHRONOUS
            ),
            postgres=self.postgres(),
            jwt_secret=self.text("JWT_SECRET", DEVELOPMENT_JWT_SECRET),
            access_token_ttl=self.integer("JWT_ACCESS_TTL_SECONDS", 900, low=1),
            refresh_token_ttl=self.integer("JWT_REFRESH_TTL_SECONDS", 604800, low=1),
            limits=self.limits(),
            credit_failure_percent=self.integer(
                "PAYFLOW_CREDIT_FAILURE_PERCENT", 0, low=0, high=100
            ),
            simulation=self.switch("PAYFLOW_SIMULATION"),
            saga_poll_interval=self.integer("PAYFLOW_SAGA_POLL_MS", 1000, low=10) / 1000,
            snapshot_interval=self.integer(
                "PAYFLOW_SNAPSHOT_INTERVAL", SNAPSHOT_INTERVAL, low=1, high=1_000_000
            ),
            worker_threads=self.integer("PAYFLOW_WORKER_THREADS", 8, low=1, high=256),
            store_queue=self.integer("PAYFLOW_STORE_QUEUE", 256, low=0, high=100_000),
            hash_threads=self.integer(
                "PAYFLOW_HASH_THREADS", default_hash_threads(), low=1, high=256
            ),
            hash_queue=self.integer("PAYFLOW_HASH_QUEUE", 8, low=0, high=10_000),
            argon2_time_cost=self.integer("PAYFLOW_ARGON2_TIME_COST", 3, low=1),
            argon2_memory_kib=self.integer("PAYFLOW_ARGON2_MEMORY_KIB", 65536, low=8),
            max_body_bytes=self.integer("PAYFLOW_MAX_BODY_BYTES", 65536, low=1024),
            read_wait=self.integer("PAYFLOW_READ_WAIT_MS", 2000, low=0, high=10_000) / 1000,
            body_timeout=self.integer("PAYFLOW_BODY_TIMEOUT_MS", 10_000, low=100, high=60_000)
            / 1000,
            log_level=self.choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
            create_tables=self.choice("PAYFLOW_CREATE_TABLES", ("yes", "no"), "yes") == "yes",
            rate_limits=self.rate_limits(),
            load_test_secret=self.env.get("LOAD_TEST_SECRET", ""),
            redis_url=self.redis_url(),
            redis_prefix=self.env.get("PAYFLOW_REDIS_PREFIX", "payflow:"),
            webhooks=self.webhooks(),
            gc_thresholds=self.gc_thresholds(),
        )
        if settings.is_production and settings.simulation:
            self.problems.append("PAYFLOW_SIMULATION=on is refused in production mode")
        if settings.is_production and settings.jwt_secret == DEVELOPMENT_JWT_SECRET:
            self.problems.append("JWT_SECRET must be set to a secret of your own in production")
        if settings.is_production and len(settings.jwt_secret) < 32:
            self.problems.append("JWT_SECRET must be at least 32 characters in production")
        return settings

    def postgres(self) -> PostgresSettings:
        schema = self.env.get("POSTGRES_SCHEMA", "").strip()
        if schema and not _SQL_NAME.fullmatch(schema):
            self.problems.append(
                f"POSTGRES_SCHEMA={schema!r} must be a plain SQL name: lower-case letters, "
                "digits and _, not starting with a digit, at most 63 characters"
            )
            schema = ""
        return PostgresSettings(
            host=self.text("POSTGRES_HOST", "127.0.0.1"),
            port=self.integer("POSTGRES_PORT", 5432, low=1, high=65535),
            dbname=self.text("POSTGRES_DBNAME", "payflow"),
            user=self.text("POSTGRES_USER", "postgres"),
            password=self.env.get("POSTGRES_PASSWORD", ""),
            schema=schema,
        )

    def webhooks(self) -> WebhookSettings:
        return WebhookSettings(
            attempts=self.integer("PAYFLOW_WEBHOOK_ATTEMPTS", 5, low=1, high=20),
            disable_after=self.integer("PAYFLOW_WEBHOOK_DISABLE_AFTER", 10, low=1),
            timeout=self.integer("PAYFLOW_WEBHOOK_TIMEOUT_MS", 10_000, low=100, high=60_000) / 1000,
            retry_base=self.integer("PAYFLOW_WEBHOOK_RETRY_BASE_MS", 10_000, low=1) / 1000,
            retry_cap=self.integer("PAYFLOW_WEBHOOK_RETRY_CAP_MS", 3_600_000, low=1) / 1000,
            allow_private=self.choice("PAYFLOW_WEBHOOK_ALLOW_PRIVATE", ("yes", "no"), "no")
            == "yes",
            concurrency=self.integer("PAYFLOW_WEBHOOK_CONCURRENCY", 32, low=1, high=1024),
        )

    def limits(self) -> Limits:
        defaults = Limits()
        cap = self.money("PAYFLOW_WALLET_BALANCE_CAP", defaults.balance_cap, may_be_none=True)
        return Limits(
            max_transfer=self.money("PAYFLOW_MAX_TRANSFER", defaults.max_transfer)
            or defaults.max_transfer,
            max_deposit=self.money("PAYFLOW_MAX_DEPOSIT", defaults.max_deposit)
            or defaults.max_deposit,
            balance_cap=cap,
            daily_amount=self.money("PAYFLOW_DAILY_MAX_AMOUNT", defaults.daily_amount)
            or defaults.daily_amount,
            daily_count=self.integer("PAYFLOW_DAILY_MAX_COUNT", defaults.daily_count, low=1),
        )

    def rate_limits(self) -> RateLimits:
        defaults = RateLimits()
        return RateLimits(
            per_client=self.rule("PAYFLOW_RATE_GLOBAL", defaults.per_client),
            auth=self.rule("PAYFLOW_RATE_AUTH", defaults.auth),
            auth_per_ip=self.rule("PAYFLOW_RATE_AUTH_IP", defaults.auth_per_ip),
            transfers=self.rule("PAYFLOW_RATE_TRANSFERS", defaults.transfers),
        )

    def rule(self, name: str, default: Rule) -> Rule:
        """A rate limit written ``<hits>/<seconds>``, both whole numbers above zero."""
        match = self.written_as(name, _RULE, "is not like 5/900 (hits/seconds)")
        if match is None:
            return default
        rule = Rule(int(match[1]), int(match[2]))
        if rule.limit < 1 or rule.window < 1:
            self.problems.append(f"{name}={match.string!r} needs at least 1 hit and 1 second")
            return default
        return rule

    def gc_thresholds(self) -> tuple[int, int, int]:
        """The cycle collector's three thresholds, as ``gc.set_threshold`` takes them."""
        name = "PAYFLOW_GC_THRESHOLDS"
        match = self.written_as(name, _THRESHOLDS, "is not three whole numbers like 10000,10,100")
        if match is None:
            return GC_THRESHOLDS
        first, second, third = (int(part) for part in match.groups())
        if not (100 <= first <= 100_000 and 1 <= second <= 100 and 1 <= third <= 100):
            self.problems.append(f"{name}={match.string!r} is outside 100..100000, 1..100, 1..100")
            return GC_THRESHOLDS
        return first, second, third

    def written_as(self, name: str, form: re.Pattern[str], otherwise: str) -> re.Match[str] | None:
        """The value, matched whole by ``form``; None if it is unset or blank (its
        default), or if it does not match, which is noted as ``otherwise``."""
        raw = self.env.get(name, "").strip()
        match = form.fullmatch(raw) if raw else None
        if raw and match is None:
            self.problems.append(f"{name}={raw!r} {otherwise}")
        return match

    def redis_url(self) -> str:
        url = self.env.get("REDIS_URL", "").strip()
        if url and not url.startswith(REDIS_SCHEMES):
            self.problems.append(f"REDIS_URL must start with one of {', '.join(REDIS_SCHEMES)}")
            return ""
        return url

    def text(self, name: str, default: str) -> str:
        value = self.env.get(name, default).strip()
        if not value:
            self.problems.append(f"{name} must not be empty")
        return value or default

    def switch(self, name: str) -> bool | None:
        """``on`` or ``off``; None when unset (the default depends on how PayFlow runs)."""
        if not self.env.get(name, "").strip():
            return None
        return self.choice(name, ("on", "off"), "off") == "on"

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.env.get(name, default).strip()
        match = {a.lower(): a for a in allowed}.get(value.lower())
        if match is None:
            self.problems.append(f"{name}={value!r} is not one of {', '.join(allowed)}")
            return default
        return match

    def integer(
        self, name: str, default: int, low: int | None = None, high: int | None = None
    ) -> int:
        raw = self.env.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not a whole number")
            return default
        if (low is not None and value < low) or (high is not None and value > high):
            self.problems.append(f"{name}={value} is outside {low}..{high}")
            return default
        return value

    def money(self, name: str, default: Money | None, may_be_none: bool = False) -> Money | None:
        raw = self.env.get(name)
        if raw is None or raw.strip() == "":
            return default
        if raw.strip().lower() == "none":
            if may_be_none:
                return None
            self.problems.append(f"{name} cannot be 'none': this limit is required")
            return default
        try:
            amount = Money.parse(Decimal(raw.strip()))
        except (InvalidOperation, InvalidAmount):
            self.problems.append(f"{name}={raw!r} is not an amount like 100000.00")
            return default
        if not amount.is_positive:
            self.problems.append(f"{name} must be greater than zero")
            return default
        return amount

    def raise_if_invalid(self) -> None:
        if self.problems:
            raise SettingsError("invalid settings:\n- " + "\n- ".join(self.problems))
