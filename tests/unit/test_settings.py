"""Settings.from_env: defaults, exact parsing, and every problem named at once."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from domain.money import Money
from infrastructure.settings import (
    DEVELOPMENT_JWT_SECRET,
    PostgresSettings,
    Settings,
    SettingsError,
    WebhookSettings,
)

PRODUCTION_SECRET = "0123456789abcdef0123456789abcdef"  # 32 characters


def problems(environ: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)
    return str(caught.value)


def test_defaults_give_the_embedded_development_setup() -> None:
    settings = Settings.from_env({})
    assert settings.mode == "development"
    assert not settings.is_production
    assert (settings.host, settings.port) == ("127.0.0.1", 3000)
    assert settings.data_dir == Path("var")
    assert settings.store == "sqlite"
    assert settings.sqlite_synchronous == "FULL"
    assert settings.postgres == PostgresSettings("127.0.0.1", 5432, "payflow", "postgres", "", "")
    assert settings.jwt_secret == DEVELOPMENT_JWT_SECRET
    assert (settings.access_token_ttl, settings.refresh_token_ttl) == (900, 604800)
    assert settings.limits.max_transfer == Money(10_000_000, "INR")
    assert settings.limits.max_deposit == Money(10_000_000, "INR")
    assert settings.limits.balance_cap == Money(100_000_000, "INR")
    assert settings.credit_failure_percent == 0
    assert settings.saga_poll_interval == 1.0
    assert settings.worker_threads == 8
    assert (settings.argon2_time_cost, settings.argon2_memory_kib) == (3, 65536)
    assert settings.max_body_bytes == 65536
    assert settings.log_level == "INFO"
    assert settings.gc_thresholds == (10_000, 10, 100)


def test_reads_every_value_it_is_given() -> None:
    settings = Settings.from_env(
        {
            "PAYFLOW_ENV": "test",
            "HOST": "0.0.0.0",
            "PORT": "8080",
            "PAYFLOW_DATA_DIR": "/srv/payflow",
            "PAYFLOW_STORE": "postgres",
            "PAYFLOW_SQLITE_SYNCHRONOUS": "NORMAL",
            "POSTGRES_HOST": "db",
            "POSTGRES_PORT": "6543",
            "POSTGRES_DBNAME": "ledger",
            "POSTGRES_USER": "payflow",
            "POSTGRES_PASSWORD": "pw",
            "POSTGRES_SCHEMA": "s1",
            "JWT_SECRET": "another-secret",
            "JWT_ACCESS_TTL_SECONDS": "60",
            "JWT_REFRESH_TTL_SECONDS": "3600",
            "PAYFLOW_CREDIT_FAILURE_PERCENT": "30",
            "PAYFLOW_SAGA_POLL_MS": "250",
            "PAYFLOW_WORKER_THREADS": "4",
            "PAYFLOW_ARGON2_TIME_COST": "1",
            "PAYFLOW_ARGON2_MEMORY_KIB": "64",
            "PAYFLOW_MAX_BODY_BYTES": "2048",
            "LOG_LEVEL": "DEBUG",
            "PAYFLOW_GC_THRESHOLDS": "2000,5,50",
        }
    )
    assert settings.mode == "test"
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
    assert settings.data_dir == Path("/srv/payflow")
    assert settings.store == "postgres"
    assert settings.sqlite_synchronous == "NORMAL"
    assert settings.postgres == PostgresSettings("db", 6543, "ledger", "payflow", "pw", "s1")
    assert settings.jwt_secret == "another-secret"
    assert (settings.access_token_ttl, settings.refresh_token_ttl) == (60, 3600)
    assert settings.credit_failure_percent == 30
    assert settings.saga_poll_interval == 0.25
    assert settings.worker_threads == 4
    assert (settings.argon2_time_cost, settings.argon2_memory_kib) == (1, 64)
    assert settings.max_body_bytes == 2048
    assert settings.log_level == "DEBUG"
    assert settings.gc_thresholds == (2000, 5, 50)


def test_choices_ignore_case_and_surrounding_spaces() -> None:
    settings = Settings.from_env(
        {
            "PAYFLOW_STORE": " Memory ",
            "PAYFLOW_SQLITE_SYNCHRONOUS": "normal",
            "LOG_LEVEL": "warning",
            "PAYFLOW_ENV": "Test",
        }
    )
    assert settings.store == "memory"
    assert settings.sqlite_synchronous == "NORMAL"
    assert settings.log_level == "WARNING"
    assert settings.mode == "test"


def test_an_empty_number_means_its_default() -> None:
    assert Settings.from_env({"PORT": "", "PAYFLOW_WORKER_THREADS": "  "}).port == 3000


def test_reads_the_process_environment_when_given_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "4321")
    assert Settings.from_env().port == 4321


def test_node_env_sets_the_mode_when_payflow_env_is_absent() -> None:
    assert Settings.from_env({"NODE_ENV": "test"}).mode == "test"
    assert Settings.from_env({"NODE_ENV": "test", "PAYFLOW_ENV": "development"}).mode == (
        "development"
    )


# Malformed values --------------------------------------------------------------------

MALFORMED = [
    ("PAYFLOW_ENV", "staging"),
    ("PAYFLOW_ENV", ""),
    ("NODE_ENV", "staging"),
    ("HOST", "   "),
    ("PORT", "http"),
    ("PORT", "3000.5"),
    ("PORT", "-1"),
    ("PORT", "65536"),
    ("PAYFLOW_DATA_DIR", ""),
    ("PAYFLOW_STORE", "mysql"),
    ("PAYFLOW_SQLITE_SYNCHRONOUS", "FAST"),
    ("POSTGRES_HOST", ""),
    ("POSTGRES_PORT", "0"),
    ("POSTGRES_PORT", "five"),
    ("POSTGRES_DBNAME", " "),
    ("POSTGRES_USER", ""),
    ("JWT_SECRET", "  "),
    ("JWT_ACCESS_TTL_SECONDS", "0"),
    ("JWT_REFRESH_TTL_SECONDS", "1w"),
    ("PAYFLOW_CREDIT_FAILURE_PERCENT", "101"),
    ("PAYFLOW_CREDIT_FAILURE_PERCENT", "-1"),
    ("PAYFLOW_SAGA_POLL_MS", "9"),
    ("PAYFLOW_WORKER_THREADS", "0"),
    ("PAYFLOW_WORKER_THREADS", "257"),
    ("PAYFLOW_ARGON2_TIME_COST", "0"),
    ("PAYFLOW_ARGON2_MEMORY_KIB", "7"),
    ("PAYFLOW_MAX_BODY_BYTES", "1023"),
    ("LOG_LEVEL", "TRACE"),
    ("PAYFLOW_MAX_TRANSFER", "1.234"),
    ("PAYFLOW_MAX_TRANSFER", "0"),
    ("PAYFLOW_MAX_TRANSFER", "-5"),
    ("PAYFLOW_MAX_TRANSFER", "ten"),
    ("PAYFLOW_MAX_TRANSFER", "NaN"),
    ("PAYFLOW_MAX_TRANSFER", "Infinity"),
    ("PAYFLOW_MAX_TRANSFER", "none"),
    ("PAYFLOW_MAX_DEPOSIT", "1e999999"),
    ("PAYFLOW_MAX_DEPOSIT", "none"),
    ("PAYFLOW_WALLET_BALANCE_CAP", "0.001"),
    ("PAYFLOW_WALLET_BALANCE_CAP", "0"),
    ("PAYFLOW_WALLET_BALANCE_CAP", "12345678901234567890123456789.99"),
    ("PAYFLOW_GC_THRESHOLDS", "10000,10"),
    ("PAYFLOW_GC_THRESHOLDS", "10000,10,100,1"),
    ("PAYFLOW_GC_THRESHOLDS", "many,10,100"),
    ("PAYFLOW_GC_THRESHOLDS", "-1,10,100"),
    ("PAYFLOW_GC_THRESHOLDS", "99,10,100"),
    ("PAYFLOW_GC_THRESHOLDS", "10000,0,100"),
    ("PAYFLOW_GC_THRESHOLDS", "10000,10,101"),
    ("PAYFLOW_GC_THRESHOLDS", "100001,10,100"),
    ("PAYFLOW_GC_THRESHOLDS", "10000,101,100"),
    ("PAYFLOW_GC_THRESHOLDS", "\u0661\u0660\u0660\u0660\u0660,10,100"),  # Arabic-Indic digits
]


@pytest.mark.parametrize(("name", "value"), MALFORMED)
def test_a_malformed_value_is_refused_by_name(name: str, value: str) -> None:
    message = problems({name: value})
    assert name in message
    assert message.count("\n- ") == 1


def test_every_bad_value_is_reported_at_once() -> None:
    message = problems(
        {
            "PORT": "http",
            "PAYFLOW_STORE": "mysql",
            "LOG_LEVEL": "TRACE",
            "PAYFLOW_MAX_DEPOSIT": "1.234",
            "PAYFLOW_WORKER_THREADS": "0",
        }
    )
    for name in ("PORT", "PAYFLOW_STORE", "LOG_LEVEL", "PAYFLOW_MAX_DEPOSIT"):
        assert name in message
    assert "PAYFLOW_WORKER_THREADS" in message
    assert message.count("\n- ") == 5


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


# Production --------------------------------------------------------------------------


def test_production_refuses_the_development_secret() -> None:
    assert "JWT_SECRET" in problems({"PAYFLOW_ENV": "production"})
    assert "JWT_SECRET" in problems(
        {"PAYFLOW_ENV": "production", "JWT_SECRET": DEVELOPMENT_JWT_SECRET}
    )


def test_node_env_production_is_production_too() -> None:
    assert "JWT_SECRET" in problems({"NODE_ENV": "production"})
    settings = Settings.from_env({"NODE_ENV": "production", "JWT_SECRET": PRODUCTION_SECRET})
    assert settings.is_production


def test_production_refuses_a_secret_shorter_than_32_characters() -> None:
    message = problems({"PAYFLOW_ENV": "production", "JWT_SECRET": PRODUCTION_SECRET[:31]})
    assert "JWT_SECRET" in message
    assert "32" in message


def test_production_accepts_a_secret_of_32_characters() -> None:
    settings = Settings.from_env({"PAYFLOW_ENV": "production", "JWT_SECRET": PRODUCTION_SECRET})
    assert settings.is_production
    assert settings.jwt_secret == PRODUCTION_SECRET


def test_development_accepts_a_short_secret() -> None:
    assert Settings.from_env({"JWT_SECRET": "dev"}).jwt_secret == "dev"


def test_credit_faults_are_forced_off_in_production() -> None:
    settings = Settings.from_env(
        {
            "PAYFLOW_ENV": "production",
            "JWT_SECRET": PRODUCTION_SECRET,
            "PAYFLOW_CREDIT_FAILURE_PERCENT": "100",
        }
    )
    faults = settings.credit_faults()
    assert faults.rate == 0
    assert all(faults.failure_for(uuid4()) is None for _ in range(200))


def test_credit_faults_follow_the_setting_outside_production() -> None:
    faults = Settings.from_env({"PAYFLOW_CREDIT_FAILURE_PERCENT": "100"}).credit_faults()
    assert faults.rate == 1
    assert all(faults.failure_for(uuid4()) is not None for _ in range(200))
    assert Settings.from_env({}).credit_faults().failure_for(uuid4()) is None


# Money -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minor"),
    [("2500.50", 250050), ("0.1", 10), ("0.01", 1), ("75000", 7500000), (" 42 ", 4200)],
)
def test_money_settings_parse_exactly(text: str, minor: int) -> None:
    limits = Settings.from_env(
        {
            "PAYFLOW_MAX_TRANSFER": text,
            "PAYFLOW_MAX_DEPOSIT": text,
            "PAYFLOW_WALLET_BALANCE_CAP": text,
        }
    ).limits
    assert limits.max_transfer == Money(minor, "INR")
    assert limits.max_deposit == Money(minor, "INR")
    assert limits.balance_cap == Money(minor, "INR")


@pytest.mark.parametrize("word", ["none", "NONE", " None "])
def test_none_disables_the_balance_cap(word: str) -> None:
    limits = Settings.from_env({"PAYFLOW_WALLET_BALANCE_CAP": word}).limits
    assert limits.balance_cap is None
    assert limits.max_transfer == Money(10_000_000, "INR")


def test_server_mode_workers_can_leave_table_creation_to_payflow_init() -> None:
    from infrastructure.stores import env_for

    assert Settings.from_env({}).create_tables is True
    workers = Settings.from_env({"PAYFLOW_CREATE_TABLES": "no"})
    assert workers.create_tables is False
    assert env_for(workers)("Wallets")["CREATE_TABLE"] == "n"
    with pytest.raises(SettingsError, match="PAYFLOW_CREATE_TABLES"):
        Settings.from_env({"PAYFLOW_CREATE_TABLES": "maybe"})


def test_webhook_settings_default_to_safe_and_patient() -> None:
    assert Settings.from_env({}).webhooks == WebhookSettings(
        attempts=5,
        disable_after=10,
        timeout=10.0,
        retry_base=10.0,
        retry_cap=3600.0,
        allow_private=False,
        concurrency=32,
    )


def test_reads_every_webhook_setting() -> None:
    settings = Settings.from_env(
        {
            "PAYFLOW_WEBHOOK_ATTEMPTS": "3",
            "PAYFLOW_WEBHOOK_DISABLE_AFTER": "7",
            "PAYFLOW_WEBHOOK_TIMEOUT_MS": "2500",
            "PAYFLOW_WEBHOOK_RETRY_BASE_MS": "250",
            "PAYFLOW_WEBHOOK_RETRY_CAP_MS": "60000",
            "PAYFLOW_WEBHOOK_ALLOW_PRIVATE": "yes",
            "PAYFLOW_WEBHOOK_CONCURRENCY": "8",
        }
    )
    assert settings.webhooks == WebhookSettings(3, 7, 2.5, 0.25, 60.0, True, 8)


def test_names_every_bad_webhook_setting() -> None:
    said = problems(
        {
            "PAYFLOW_WEBHOOK_ATTEMPTS": "0",
            "PAYFLOW_WEBHOOK_TIMEOUT_MS": "fast",
            "PAYFLOW_WEBHOOK_ALLOW_PRIVATE": "maybe",
        }
    )
    for name in (
        "PAYFLOW_WEBHOOK_ATTEMPTS",
        "PAYFLOW_WEBHOOK_TIMEOUT_MS",
        "PAYFLOW_WEBHOOK_ALLOW_PRIVATE",
    ):
        assert name in said


@pytest.mark.parametrize(
    ("value", "embedded", "server"),
    [(None, True, False), ("on", True, True), ("off", False, False), (" ON ", True, True)],
)
def test_simulation_routes_are_on_by_default_only_in_the_embedded_mode(
    value: str | None, embedded: bool, server: bool
) -> None:
    settings = Settings.from_env({} if value is None else {"PAYFLOW_SIMULATION": value})

    assert settings.simulation_routes(embedded=True) is embedded
    assert settings.simulation_routes(embedded=False) is server


def test_simulation_is_never_on_in_production_mode() -> None:
    secret = {"PAYFLOW_ENV": "production", "JWT_SECRET": "s" * 40}
    assert not Settings.from_env(secret).simulation_routes(embedded=True)
    with pytest.raises(SettingsError, match="PAYFLOW_SIMULATION=on is refused in production"):
        Settings.from_env(secret | {"PAYFLOW_SIMULATION": "on"})
    with pytest.raises(SettingsError, match="PAYFLOW_SIMULATION='maybe' is not one of on, off"):
        Settings.from_env({"PAYFLOW_SIMULATION": "maybe"})


@pytest.mark.parametrize("schema", ["attack-Odd", 'x"; select 1; --', "Upper", "1st", "a" * 64])
def test_a_postgres_schema_must_be_a_plain_sql_name(schema: str) -> None:
    with pytest.raises(SettingsError, match=r"POSTGRES_SCHEMA=.* must be a plain SQL name"):
        Settings.from_env({"POSTGRES_SCHEMA": schema})
    assert Settings.from_env({"POSTGRES_SCHEMA": "payflow_2"}).postgres.schema == "payflow_2"
