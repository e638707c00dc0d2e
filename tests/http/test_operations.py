"""Operations routes: Prometheus metrics, liveness and readiness."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from domain.webhook import Delivery
from interfaces.bootstrap import bootstrap
from interfaces.http.app import create_app
from interfaces.http.keys import CONTAINER
from interfaces.http.metrics import METRICS, HttpMetrics, metrics_middleware
from interfaces.http.metrics import routes as metrics_routes
from tests.conftest import REDIS_URL, closed_port_url, make_settings, require_redis
from tests.http.conftest import AiohttpClient
from tests.http.support import Account

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: TestClient) -> Samples:
    """Every sample of ``GET /metrics``, by name and labels."""
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    return samples_of(await response.text())


def samples_of(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def requests(samples: Samples, method: str, route: str, status: int) -> float:
    labels = frozenset({"method": method, "route": route, "status": str(status)}.items())
    return samples.get(("payflow_http_requests_total", labels), 0.0)


async def test_requests_are_counted_by_route_template_and_status(
    client: TestClient, asha: Account
) -> None:
    for _ in range(2):
        await client.get("/transactions/txn_00000000000000000000000000000000", headers=asha.auth)
    await client.get("/transactions/txn_nonsense", headers=asha.auth)
    await client.get("/wallets/me", headers=asha.auth)

    samples = await scrape(client)

    assert requests(samples, "GET", "/transactions/{id}", 404) == 3
    assert requests(samples, "GET", "/wallets/me", 200) == 1
    assert requests(samples, "POST", "/auth/register", 201) == 1
    assert not any("txn_" in dict(labels).get("route", "") for _, labels in samples)


async def test_unknown_routes_count_as_unmatched(client: TestClient) -> None:
    await client.get("/no/such/place")
    await client.post("/wallets/me/nowhere")

    samples = await scrape(client)

    assert requests(samples, "GET", "unmatched", 404) == 1
    assert requests(samples, "POST", "unmatched", 404) == 1


async def test_request_durations_are_a_histogram_by_route_template_and_status(
    client: TestClient,
) -> None:
    await client.get("/")
    await client.get("/")
    await client.get("/transactions/txn_nope")  # 401: a histogram of its own

    samples = await scrape(client)

    labels = frozenset({"method": "GET", "route": "/", "status": "200"}.items())
    assert samples[("payflow_http_request_duration_seconds_count", labels)] == 2
    assert samples[("payflow_http_request_duration_seconds_sum", labels)] > 0
    inf = frozenset({"method": "GET", "route": "/", "status": "200", "le": "+Inf"}.items())
    assert samples[("payflow_http_request_duration_seconds_bucket", inf)] == 2
    refused = {"method": "GET", "route": "/transactions/{id}", "status": "401"}
    assert samples[("payflow_http_request_duration_seconds_count", frozenset(refused.items()))] == 1


async def test_each_app_counts_in_its_own_registry(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    first = await aiohttp_client(create_app(bootstrap(make_settings("memory", tmp_path))))
    second = await aiohttp_client(create_app(bootstrap(make_settings("memory", tmp_path))))

    await first.get("/")

    assert requests(await scrape(first), "GET", "/", 200) == 1
    assert requests(await scrape(second), "GET", "/", 200) == 0


async def bare_app_client(aiohttp_client: AiohttpClient) -> TestClient:
    """Only the metrics middleware, over routes that let failures escape it."""

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/")

    async def crash(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("boom")

    app = web.Application(middlewares=[metrics_middleware])
    app[METRICS] = HttpMetrics()
    app.add_routes(metrics_routes)
    app.router.add_get("/old/{page}", redirect)
    app.router.add_get("/boom", crash)
    return await aiohttp_client(app)


async def test_an_escaping_http_exception_is_counted_with_its_status(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await bare_app_client(aiohttp_client)

    response = await client.get("/old/7", allow_redirects=False)

    assert response.status == 302
    assert requests(await scrape(client), "GET", "/old/{page}", 302) == 1


async def test_an_escaping_error_is_counted_as_a_500(aiohttp_client: AiohttpClient) -> None:
    client = await bare_app_client(aiohttp_client)

    assert (await client.get("/boom")).status == 500
    assert requests(await scrape(client), "GET", "/boom", 500) == 1


async def test_an_unusual_method_is_labelled_other(client: TestClient) -> None:
    await client.request("PROPFIND", "/")

    assert requests(await scrape(client), "OTHER", "unmatched", 405) == 1


async def test_liveness_is_plain_and_alive(client: TestClient) -> None:
    response = await client.get("/health/live")

    assert response.status == 200
    assert await response.json() == {"status": "alive"}


async def test_ready_when_the_event_store_answers(client: TestClient) -> None:
    response = await client.get("/health/ready")

    assert response.status == 200
    assert await response.json() == {"status": "ready", "services": {"eventStore": "up"}}


async def test_not_ready_when_the_event_store_does_not_answer(
    client: TestClient, store_down: None
) -> None:
    response = await client.get("/health/ready")

    assert response.status == 503
    body = await response.json()
    assert body == {"status": "not ready", "services": {"eventStore": "down"}}


async def test_not_ready_when_the_configured_redis_does_not_answer(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    settings = make_settings("memory", tmp_path, REDIS_URL=closed_port_url())
    client = await aiohttp_client(create_app(bootstrap(settings)))

    response = await client.get("/health/ready")

    assert response.status == 503
    body = await response.json()
    assert body["services"] == {"eventStore": "up", "redis": "down"}
    assert (await client.get("/health/live")).status == 200
    health = await client.get("/health")  # serving, without what Redis adds
    assert health.status == 200
    assert (await health.json())["status"] == "degraded"


async def test_ready_when_the_configured_redis_answers(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    require_redis()
    settings = make_settings("memory", tmp_path, REDIS_URL=REDIS_URL)
    client = await aiohttp_client(create_app(bootstrap(settings)))

    response = await client.get("/health/ready")

    assert response.status == 200
    assert (await response.json())["services"] == {"eventStore": "up", "redis": "up"}


async def test_webhook_deliveries_are_counted_by_event_and_status(client: TestClient) -> None:
    worker = client.app[CONTAINER].webhook_worker
    owed = Delivery(
        webhook_id=uuid4(),
        owner_id=uuid4(),
        event_type="TRANSACTION_COMPLETED",
        transfer_id=uuid4(),
        body="{}",
        due_at=datetime.now(UTC),
        max_attempts=1,
    )
    worker.metrics.observe(owed)
    owed.record_attempt(datetime.now(UTC), False, 500, 3, "HTTP 500", retry_in=1.0)
    worker.metrics.observe(owed)  # its only attempt failed: dead-lettered

    samples = await scrape(client)
    for status in ("PENDING", "DEAD"):
        labels = frozenset({"event": "TRANSACTION_COMPLETED", "status": status}.items())
        assert samples[("payflow_webhook_deliveries_total", labels)] == 1
