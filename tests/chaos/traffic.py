"""Concurrent transfers through both API processes, sent the way a careful client sends
them: every transfer carries an idempotency key, and a request that gets no answer
(a refused connection, a dropped one, a 5xx, a 429) is sent again with the same key,
to the other API process, until it is answered or the client gives up.

Some keys are reused on purpose: a transfer sent to both APIs at once, and transfers
sent again long after their first answer. Every answer is recorded per key, so a test
can check that no key ever named two transfers.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import simplejson

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=15)
GIVE_UP_AFTER = 60.0  # seconds a client keeps retrying one transfer
WAIT_FOR_A_REQUEST = 30.0  # seconds, at most, until the next request reaches a server
PASSWORD = "Passw0rd1"


@dataclass(frozen=True)
class Account:
    user_id: str
    token: str
    email: str


@dataclass(frozen=True)
class Intent:
    """One transfer a client means to make, exactly once."""

    sender: Account
    receiver: Account
    amount: Decimal
    key: str

    @property
    def body(self) -> dict[str, Any]:
        return {"receiverId": self.receiver.user_id, "amount": self.amount}


@dataclass
class Traffic:
    """Sends intents and keeps every answer."""

    urls: list[str]
    rng: random.Random
    accounts: list[Account] = field(default_factory=list)
    answers: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    intents: list[Intent] = field(default_factory=list)
    given_up: list[Intent] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    sending: dict[str, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))
    deposited: Decimal = Decimal(0)
    _session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Traffic:
        tracing = aiohttp.TraceConfig()
        tracing.on_request_headers_sent.append(self._sent)
        self._session = aiohttp.ClientSession(timeout=REQUEST_TIMEOUT, trace_configs=[tracing])
        return self

    async def _sent(
        self, _: object, __: object, sent: aiohttp.TraceRequestHeadersSentParams
    ) -> None:
        """The request has reached its server, and its answer is still to come."""
        self.sending[f"{sent.url.scheme}://{sent.url.host}:{sent.url.port}"].set()

    async def __aexit__(self, *exc: object) -> None:
        assert self._session is not None
        await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None
        return self._session

    # Set-up ------------------------------------------------------------------------

    async def open_accounts(self, count: int, deposit: Decimal, poor: int = 1) -> None:
        """``count`` users, each with ``deposit`` paid in, but for ``poor`` of them, who
        hold almost nothing and so make some transfers fail for want of funds."""
        for n in range(count):
            email = f"user{n}-{uuid.uuid4().hex[:8]}@example.com"
            registration = {"name": f"User {n}", "email": email, "password": PASSWORD}
            status, body = await self._call(self.urls[0], "POST", "/auth/register", registration)
            assert status == 201, body
            data = body["data"]
            account = Account(data["user"]["userId"], data["tokens"]["accessToken"], email)
            amount = Decimal("5.00") if n < poor else deposit
            status, body = await self._call(
                self.urls[n % len(self.urls)],
                "POST",
                "/wallets/me/deposit",
                {"amount": amount, "idempotencyKey": f"opening-{n}"},
                token=account.token,
            )
            assert status == 200, body
            self.deposited += amount
            self.accounts.append(account)

    # Load ----------------------------------------------------------------------------

    async def run(
        self, seconds: float, clients: int = 8, until: asyncio.Event | None = None
    ) -> None:
        """``clients`` concurrent clients sending transfers for ``seconds``, and on until
        ``until`` is set: however slow the machine, the load lasts as long as the chaos."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        done = until or asyncio.Event()
        if until is None:
            done.set()

        def going() -> bool:
            return loop.time() < deadline or not done.is_set()

        await asyncio.gather(*(self._client(going) for _ in range(clients)))

    async def _client(self, going: Callable[[], bool]) -> None:
        while going():
            roll = self.rng.random()
            if roll < 0.15 and self.intents:  # the same transfer again, later
                await self.send(self.rng.choice(self.intents))
            elif roll < 0.30:  # the same transfer to both APIs at once
                intent = self._new_intent()
                await asyncio.gather(self.send(intent, first=0), self.send(intent, first=1))
            else:
                await self.send(self._new_intent())

    def _new_intent(self) -> Intent:
        sender, receiver = self.rng.sample(self.accounts, 2)
        amount = Decimal(self.rng.randint(100, 3000)) / 100
        intent = Intent(sender, receiver, amount, f"chaos-{uuid.uuid4().hex[:20]}")
        self.intents.append(intent)
        return intent

    async def send(self, intent: Intent, first: int | None = None) -> None:
        """Send until an answer other than "try again" comes back, or give up."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + GIVE_UP_AFTER
        turn = self.rng.randrange(len(self.urls)) if first is None else first
        backoff = 0.05
        while loop.time() < give_up:
            url = self.urls[turn % len(self.urls)]
            turn += 1
            try:
                status, body = await self._call(
                    url,
                    "POST",
                    "/transactions",
                    intent.body,
                    token=intent.sender.token,
                    headers={"X-Idempotency-Key": intent.key},
                )
            except (aiohttp.ClientError, TimeoutError) as error:
                self.outcomes[f"no answer ({type(error).__name__})"] += 1
            else:
                self.outcomes[str(status)] += 1
                if status == 201:
                    transfer_id = body["data"]["transaction"]["transactionId"]
                    self.answers[(intent.sender.user_id, intent.key)].add(transfer_id)
                    return
                if status < 500 and status != 429:
                    raise AssertionError(f"{intent} was refused: {status} {body}")
            await asyncio.sleep(backoff)  # a client's back-off before trying again
            backoff = min(backoff * 2, 1.0)
        self.given_up.append(intent)

    async def _call(
        self,
        url: str,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        sent = {"Content-Type": "application/json"} | (headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = None if body is None else simplejson.dumps(body, use_decimal=True)
        async with self.session.request(method, url + path, data=data, headers=sent) as response:
            return response.status, await response.json(content_type=None)

    async def call_as(
        self, account: Account, method: str, path: str, body: Any = None
    ) -> tuple[int, Any]:
        return await self._call(self.urls[0], method, path, body, token=account.token)

    async def post(self, url: str, path: str, body: Any) -> tuple[int, Any]:
        """POST as the first client's user (the routes that need a caller need one)."""
        return await self._call(url, "POST", path, body, token=self.accounts[0].token)

    async def get(self, url: str, path: str) -> tuple[int, Any]:
        return await self._call(url, "GET", path, token=self.accounts[0].token)

    async def next_request_to(self, url: str) -> None:
        """Returns when the next request to ``url`` has reached it (AssertionError if
        none does within ``WAIT_FOR_A_REQUEST`` seconds)."""
        self.sending[url].clear()
        try:
            await asyncio.wait_for(self.sending[url].wait(), WAIT_FOR_A_REQUEST)
        except TimeoutError:
            raise AssertionError(f"no request reached {url} in {WAIT_FOR_A_REQUEST} s") from None

    # What was sent -----------------------------------------------------------------------

    @property
    def acknowledged(self) -> dict[tuple[str, str], set[str]]:
        """(sender, key) → the transfer ids the API answered with."""
        return {key: ids for key, ids in self.answers.items() if ids}

    @property
    def keys(self) -> set[tuple[str, str]]:
        return {(i.sender.user_id, i.key) for i in self.intents}
