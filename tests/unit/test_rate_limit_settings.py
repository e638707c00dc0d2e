"""Settings for rate limits, the load-test bypass and Redis."""

from __future__ import annotations

import pytest

from infrastructure.ratelimit import Rule
from infrastructure.settings import RateLimits, Settings, SettingsError


def problems(environ: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)
    return str(caught.value)


def test_defaults_are_the_api_contracts_limits_without_redis_or_bypass() -> None:
    settings = Settings.from_env({})

    assert settings.rate_limits == RateLimits(
        Rule(100, 900), Rule(5, 900), Rule(10, 60), auth_per_ip=Rule(30, 900)
    )
    assert settings.load_test_secret == ""
    assert settings.redis_url == ""
    assert settings.redis_prefix == "payflow:"


def test_reads_each_limit_as_hits_per_seconds() -> None:
    settings = Settings.from_env(
        {
            "PAYFLOW_RATE_GLOBAL": "1000/60",
            "PAYFLOW_RATE_AUTH": " 3 / 300 ",
            "PAYFLOW_RATE_TRANSFERS": "20/1",
            "PAYFLOW_RATE_AUTH_IP": "50/600",
            "LOAD_TEST_SECRET": "k6-secret",
            "REDIS_URL": "redis://127.0.0.1:6379/2",
            "PAYFLOW_REDIS_PREFIX": "staging:",
        }
    )

    assert settings.rate_limits == RateLimits(
        Rule(1000, 60), Rule(3, 300), Rule(20, 1), auth_per_ip=Rule(50, 600)
    )
    assert settings.load_test_secret == "k6-secret"
    assert settings.redis_url == "redis://127.0.0.1:6379/2"
    assert settings.redis_prefix == "staging:"


@pytest.mark.parametrize("value", ["5", "five/900", "5/", "/900", "5/900/1", "-5/900", "5.5/900"])
def test_a_limit_not_written_as_hits_per_seconds_is_named(value: str) -> None:
    assert f"PAYFLOW_RATE_AUTH={value!r} is not like 5/900" in problems(
        {"PAYFLOW_RATE_AUTH": value}
    )


@pytest.mark.parametrize("value", ["0/900", "5/0"])
def test_a_limit_needs_a_hit_and_a_second(value: str) -> None:
    assert "PAYFLOW_RATE_TRANSFERS" in problems({"PAYFLOW_RATE_TRANSFERS": value})


def test_every_bad_limit_is_named_at_once() -> None:
    text = problems({"PAYFLOW_RATE_GLOBAL": "x", "PAYFLOW_RATE_AUTH": "0/1"})

    assert "PAYFLOW_RATE_GLOBAL" in text
    assert "PAYFLOW_RATE_AUTH" in text


def test_a_redis_url_must_name_a_redis_scheme_without_echoing_it() -> None:
    text = problems({"REDIS_URL": "http://user:hunter2@cache:6379"})

    assert "REDIS_URL must start with" in text
    assert "hunter2" not in text
