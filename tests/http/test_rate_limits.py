"""Rate limits over HTTP, as API.md "Rate limits" states them, with small limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from interfaces.bootstrap import bootstrap
from interfaces.http.app import create_app
from interfaces.http.keys import CONTAINER
from tests.conftest import REDIS_URL, closed_port_url, make_settings
from tests.http.conftest import AiohttpClient
from tests.http.support import PASSWORD, Account, Api, failure, success

PRODUCTION = {"PAYFLOW_ENV": "production", "JWT_SECRET": "p" * 32}
HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
LOAD_TEST = "X-Load-Test-Token"
ClientFactory = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def make_client(aiohttp_client: AiohttpClient, tmp_path: Path) -> ClientFactory:
    """Builds an app on settings with the given overrides; each call is one process."""

    async def build(**overrides: str) -> TestClient:
        settings = make_settings("memory", tmp_path, **overrides)
        return await aiohttp_client(create_app(bootstrap(settings)))

    return build


async def login(
    client: TestClient, email: str = "asha@example.com", **headers: str
) -> ClientResponse:
    return await client.post(
        "/auth/login", json={"email": email, "password": PASSWORD}, headers=headers
    )


def limit_headers(response: ClientResponse) -> tuple[int, int, int]:
    limit, remaining, reset = (int(response.headers[name]) for name in HEADERS)
    return limit, remaining, reset


def has_no_limit_headers(response: ClientResponse) -> bool:
    return not any(name in response.headers for name in (*HEADERS, "Retry-After"))


async def test_auth_answers_carry_the_limit_the_remainder_and_the_reset(
    make_client: ClientFactory,
) -> None:
    client = await make_client(PAYFLOW_RATE_AUTH="5/900")

    registered = await Api(client).client.post(
        "/auth/register", json={"name": "Asha", "email": "asha@example.com", "password": PASSWORD}
    )
    logged_in = await login(client)

    await success(registered, 201)
    await success(logged_in)
    assert limit_headers(registered)[:2] == (5, 4)
    limit, remaining, reset = limit_headers(logged_in)
    assert (limit, remaining) == (5, 3)  # register and login count together per IP+email
    assert 0 < reset <= 900
    assert "Retry-After" not in logged_in.headers


async def test_the_sixth_login_attempt_is_refused_with_4002_and_retry_after(
    make_client: ClientFactory,
) -> None:
    client = await make_client(PAYFLOW_RATE_AUTH="5/900")
    for _ in range(5):
        await failure(await login(client), 401, 1004)  # wrong attempts count too

    refused = await login(client)

    await failure(refused, 429, 4002)
    assert limit_headers(refused)[:2] == (5, 0)
    assert 0 < int(refused.headers["Retry-After"]) <= 900


async def test_login_attempts_count_per_email(make_client: ClientFactory) -> None:
    client = await make_client(PAYFLOW_RATE_AUTH="1/900")
    await Api(client).register("Ravi Shah", "ravi@example.com")
    await login(client, "asha@example.com")

    await failure(await login(client, "asha@example.com"), 429, 4002)
    await failure(await login(client, "ASHA@example.com "), 429, 4002)  # same address
    await failure(await login(client, "ravi@example.com"), 429, 4002)  # used by register
    assert limit_headers(await login(client, "kiran@example.com"))[1] == 0


async def test_a_body_that_is_not_json_is_counted_and_still_refused_by_the_route(
    make_client: ClientFactory,
) -> None:
    client = await make_client(PAYFLOW_RATE_AUTH="1/900")
    headers = {"Content-Type": "application/json"}

    await failure(await client.post("/auth/login", data=b"{oops", headers=headers), 400, 2001)
    await failure(await client.post("/auth/login", data=b"[1]", headers=headers), 429, 4002)


async def test_transfers_past_the_limit_are_refused_with_4003_per_user(
    make_client: ClientFactory,
) -> None:
    api = Api(await make_client(PAYFLOW_RATE_TRANSFERS="2/60"))
    asha, ravi = await api.register(), await api.register("Ravi Shah", "ravi@example.com")
    await api.deposit(asha, "10")
    await api.deposit(ravi, "10")

    sent = [await api.send(asha, {"receiverId": ravi.user_id, "amount": 1}) for _ in range(2)]
    refused = await api.send(asha, {"receiverId": ravi.user_id, "amount": 1})
    ravi_sends = await api.send(ravi, {"receiverId": asha.user_id, "amount": 1})

    assert [limit_headers(r)[:2] for r in sent] == [(2, 1), (2, 0)]
    await success(sent[1], 201)
    await failure(refused, 429, 4003)
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    await success(ravi_sends, 201)  # asha's count is hers alone
    assert limit_headers(ravi_sends)[:2] == (2, 1)


async def test_an_unauthenticated_transfer_is_a_401_and_counts_for_no_one(
    make_client: ClientFactory,
) -> None:
    api = Api(await make_client(PAYFLOW_RATE_TRANSFERS="1/60"))

    for _ in range(2):
        response = await api.client.post("/transactions", json={"amount": 1})
        await failure(response, 401, 1001)
        assert has_no_limit_headers(response)


async def test_the_global_limit_applies_per_client_in_production_mode(
    make_client: ClientFactory,
) -> None:
    client = await make_client(**PRODUCTION, PAYFLOW_RATE_GLOBAL="2/900")

    first, second = await client.get("/"), await client.get("/nowhere")
    refused = await client.get("/")

    assert limit_headers(first)[:2] == (2, 1)
    await failure(second, 404, 2001)
    await failure(refused, 429, 4001)
    assert "Retry-After" in refused.headers


@pytest.mark.parametrize(
    ("global_rule", "auth_rule", "expected"),
    [("100/900", "2/900", (2, 1)), ("3/900", "100/900", (3, 2))],
)
async def test_the_tightest_limit_is_the_one_in_the_headers(
    make_client: ClientFactory, global_rule: str, auth_rule: str, expected: tuple[int, int]
) -> None:
    client = await make_client(
        **PRODUCTION, PAYFLOW_RATE_GLOBAL=global_rule, PAYFLOW_RATE_AUTH=auth_rule
    )

    assert limit_headers(await login(client))[:2] == expected


async def test_a_refusal_shows_in_the_headers_when_another_limit_is_as_tight(
    make_client: ClientFactory,
) -> None:
    client = await make_client(**PRODUCTION, PAYFLOW_RATE_GLOBAL="2/900", PAYFLOW_RATE_AUTH="1/900")
    await login(client)

    refused = await login(client)  # the global limit's last hit; auth's first refusal

    await failure(refused, 429, 4002)
    assert limit_headers(refused)[:2] == (1, 0)
    assert "Retry-After" in refused.headers


async def test_there_is_no_global_limit_outside_production_mode(
    make_client: ClientFactory,
) -> None:
    client = await make_client(PAYFLOW_RATE_GLOBAL="1/900")

    for _ in range(3):
        response = await client.get("/")
        await success(response)
        assert has_no_limit_headers(response)


@pytest.mark.parametrize("path", ["/health", "/health/live", "/health/ready", "/metrics"])
async def test_health_and_metrics_are_never_limited(make_client: ClientFactory, path: str) -> None:
    client = await make_client(**PRODUCTION, PAYFLOW_RATE_GLOBAL="1/900")

    for _ in range(3):
        response = await client.get(path)
        assert response.status == 200
        assert has_no_limit_headers(response)


async def test_the_load_test_token_bypasses_every_limit(make_client: ClientFactory) -> None:
    client = await make_client(
        **PRODUCTION,
        PAYFLOW_RATE_GLOBAL="1/900",
        PAYFLOW_RATE_AUTH="1/900",
        LOAD_TEST_SECRET="k6-load-secret",
    )

    for _ in range(3):
        response = await login(client, **{LOAD_TEST: "k6-load-secret"})
        await failure(response, 401, 1004)
        assert has_no_limit_headers(response)
    await failure(await login(client, **{LOAD_TEST: "k6-load-secreT"}), 401, 1004)
    await failure(await login(client, **{LOAD_TEST: "k6-load-secreT"}), 429, 4001)


@pytest.mark.parametrize("token", ["", "anything"])
async def test_no_token_bypasses_the_limits_when_no_secret_is_set(
    make_client: ClientFactory, token: str
) -> None:
    client = await make_client(PAYFLOW_RATE_AUTH="1/900")

    await login(client, **{LOAD_TEST: token})

    await failure(await login(client, **{LOAD_TEST: token}), 429, 4002)


async def test_requests_are_served_and_limited_in_memory_when_redis_is_down(
    make_client: ClientFactory,
) -> None:
    client = await make_client(REDIS_URL=closed_port_url(), PAYFLOW_RATE_AUTH="2/900")

    registered = await Api(client).client.post(
        "/auth/register", json={"name": "Asha", "email": "asha@example.com", "password": PASSWORD}
    )
    await success(registered, 201)
    assert limit_headers(registered)[:2] == (2, 1)
    await success(await login(client))
    await failure(await login(client), 429, 4002)


async def test_api_processes_on_one_redis_share_their_counts(
    make_client: ClientFactory, redis_prefix: str
) -> None:
    shared = {"REDIS_URL": REDIS_URL, "PAYFLOW_REDIS_PREFIX": redis_prefix}
    first = await make_client(**shared, PAYFLOW_RATE_AUTH="2/900")
    second = await make_client(**shared, PAYFLOW_RATE_AUTH="2/900")
    account: Account = await Api(first).register()

    assert limit_headers(await login(second, account.email))[:2] == (2, 0)
    await failure(await login(first, account.email), 429, 4002)


async def test_a_request_the_service_could_not_serve_does_not_count(
    make_client: ClientFactory,
) -> None:
    client = await make_client(PAYFLOW_RATE_TRANSFERS="2/60")
    api = Api(client)
    asha, ravi = await api.register(), await api.register("Ravi Shah", "ravi@example.com")
    await api.deposit(asha, "10")
    probe = client.app[CONTAINER].probe
    assert probe is not None
    body = {"receiverId": ravi.user_id, "amount": 1}

    probe.is_up = False  # the store is away: every write is refused at once, 503
    for _ in range(3):
        await failure(await api.send(asha, body), 503, 5002)
    probe.is_up = True

    for _ in range(2):  # the limit is whole again
        await success(await api.send(asha, body), 201)
    await failure(await api.send(asha, body), 429, 4003)
