"""Random ids: version 4 UUIDs, never repeated, in threads and in forked children."""

from __future__ import annotations

import os
import threading
from uuid import UUID

from domain.ids import RandomIds


def test_random_ids_are_version_4_and_distinct_across_refills() -> None:
    ids = RandomIds(batch=4)
    drawn = [ids() for _ in range(50)]  # twelve refills and a half
    assert all(
        isinstance(i, UUID) and i.version == 4 and i.variant == "specified in RFC 4122"
        for i in drawn
    )
    assert len(set(drawn)) == 50


def test_threads_drawing_at_once_never_get_the_same_id() -> None:
    ids = RandomIds(batch=8)
    drawn: list[UUID] = []
    lock = threading.Lock()

    def draw() -> None:
        mine = [ids() for _ in range(500)]
        with lock:
            drawn.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(drawn) == len(set(drawn)) == 4000


def test_a_forked_child_does_not_draw_its_parent_s_bytes() -> None:
    ids = RandomIds(batch=64)
    ids()  # the parent holds 63 ids' worth of bytes
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, ids().bytes)
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    childs = UUID(bytes=os.read(read, 16))
    os.close(read)
    assert childs != ids()  # the parent's next id is not the child's
