"""WriterReplies: a writer thread's answers reach the event loop a batch at a time."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from interfaces.http.replies import WriterReplies


async def test_answers_given_together_wake_the_loop_once_and_each_reaches_its_future(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    replies = WriterReplies()
    replies.bind(loop)
    wakes: list[Any] = []
    call_soon_threadsafe = loop.call_soon_threadsafe

    def counted(callback: Any, *args: Any) -> Any:
        wakes.append(callback)
        return call_soon_threadsafe(callback, *args)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counted)
    expected = [replies.expect() for _ in range(50)]
    refused = ValueError("insufficient funds")

    def writer() -> None:  # one commit's answers, given while the loop is busy
        for i, (_, reply) in enumerate(expected):
            reply(None, refused) if i == 7 else reply(i, None)

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join()  # the loop runs nothing meanwhile: every answer joins the first one's wake

    outcomes = await asyncio.gather(*(f for f, _ in expected), return_exceptions=True)
    assert outcomes == [refused if i == 7 else i for i in range(50)]
    assert len(wakes) == 1

    later, reply = replies.expect()  # a batch delivered: the next answer wakes it again
    threading.Thread(target=reply, args=("next", None)).start()
    assert await asyncio.wait_for(later, 10) == "next"
    assert len(wakes) == 2


async def test_a_future_nobody_awaits_any_more_is_left_alone() -> None:
    replies = WriterReplies()
    replies.bind(asyncio.get_running_loop())
    gone, reply_gone = replies.expect()
    kept, reply_kept = replies.expect()
    gone.cancel()  # its request went away

    reply_gone("accepted", None)
    reply_kept("accepted", None)

    assert await asyncio.wait_for(kept, 10) == "accepted"
    assert gone.cancelled()


def test_unbound_it_refuses_to_make_a_future_nobody_could_settle() -> None:
    with pytest.raises(RuntimeError, match="not bound"):
        WriterReplies().expect()
