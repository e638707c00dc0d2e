"""Commit hints over Redis pub/sub, so workers in other processes wake at once.

A hint says only "log X has new events". It is a shortcut, never a source of
truth: workers also poll the store, so a hint lost while Redis is down or flushed
only delays them. Publishing never blocks a commit: hints queue (bounded) for a
thread of their own, and are dropped when Redis does not answer.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from uuid import UUID

import redis
from eventsourcing.system import RecordingEvent, RecordingEventReceiver

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0


class RedisHints:
    """Publishes and receives commit hints on ``<prefix>hint:<log name>`` channels."""

    def __init__(self, url: str, prefix: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._channel = f"{prefix}hint:"
        self._outbox: queue.Queue[str] = queue.Queue(maxsize=1000)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def publish(self, log_name: str) -> None:
        """Queue a hint; never blocks, drops it if the queue is full."""
        with contextlib.suppress(queue.Full):
            self._outbox.put_nowait(log_name)

    def start(self, on_hint: Callable[[str], None] | None) -> None:
        """Send queued hints; with ``on_hint``, also call it for every hint received."""
        self._spawn(self._send, "hints-out")
        if on_hint is not None:
            self._spawn(lambda: self._receive(on_hint), "hints-in")

    def stop(self) -> None:
        self._stopping.set()
        self._outbox.put(None)  # type: ignore[arg-type]  # wakes the sender
        for thread in self._threads:
            thread.join(5)
        self._client.close()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _send(self) -> None:
        while not self._stopping.is_set():
            log_name = self._outbox.get()
            if log_name is None:
                return
            try:
                self._client.publish(self._channel + log_name, "1")
            except (redis.RedisError, OSError):
                log.debug("hint for %s not sent: Redis does not answer", log_name)

    def _receive(self, on_hint: Callable[[str], None]) -> None:
        while not self._stopping.is_set():
            try:
                subscription = self._client.pubsub(ignore_subscribe_messages=True)
                subscription.psubscribe(self._channel + "*")
                while not self._stopping.is_set():
                    message = subscription.get_message(timeout=0.5)
                    if message is not None:
                        channel = message["channel"].decode()
                        on_hint(channel.removeprefix(self._channel))
                subscription.close()
            except (redis.RedisError, OSError):
                log.info("no commit hints while Redis does not answer; polling only")
                self._stopping.wait(RETRY_SECONDS)


class HintOnCommit(RecordingEventReceiver[UUID]):
    """Publishes a hint whenever its leader commits new events in this process."""

    def __init__(self, hints: RedisHints, log_name: str) -> None:
        self.hints = hints
        self.log_name = log_name

    def receive_recording_event(self, new_recording_event: RecordingEvent[UUID]) -> None:
        self.hints.publish(self.log_name)
