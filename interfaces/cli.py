"""The ``payflow`` command: run the service, its workers, and the auditor's tools."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import psycopg
from eventsourcing.persistence import OperationalError, PersistenceError

from domain.errors import DeliveryNotFound, DeliveryPending
from infrastructure.logs import configure_logging
from infrastructure.settings import Settings, SettingsError
from interfaces.audit_command import run_audit
from interfaces.bootstrap import Container, bootstrap
from interfaces.http.app import create_app
from interfaces.http.server import ListenFailed, serve
from interfaces.ids import DELIVERY, MalformedId, parse_id
from interfaces.reports import balance_as_of, export_transfers

log = logging.getLogger("payflow")
# From here on the cycle collector is incremental and its thresholds mean other things:
# PAYFLOW_GC_THRESHOLDS leaves it as the interpreter sets it.
INCREMENTAL_COLLECTOR = (3, 14)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="payflow", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    up = commands.add_parser(
        "up", help="run the API, the saga and the projector in one process (SQLite by default)"
    )
    up.add_argument("--host", help="address to listen on (default: HOST or 127.0.0.1)")
    up.add_argument("--port", type=int, help="port to listen on (default: PORT or 3000)")
    api = commands.add_parser(
        "api", help="server mode: the HTTP API alone (run `payflow saga` and `projector` too)"
    )
    api.add_argument("--host", help="address to listen on (default: HOST or 127.0.0.1)")
    api.add_argument("--port", type=int, help="port to listen on (default: PORT or 3000)")
    commands.add_parser("saga", help="server mode: move transfers through the saga, until stopped")
    commands.add_parser("init", help="create the stores' tables, then exit (before server mode)")
    webhooks = commands.add_parser(
        "webhooks",
        help="server mode: schedule and send webhook deliveries, until stopped; "
        "or `webhooks redeliver dlv_…` to send a delivery again from its first attempt",
    )
    webhooks.add_argument("action", nargs="?", choices=["redeliver"], help="instead of running")
    webhooks.add_argument("delivery", nargs="?", help="the delivery id (dlv_…) to redeliver")
    commands.add_parser("projector", help="keep the read models up to date, until stopped")
    projections = commands.add_parser("projections", help="manage the read models")
    projections.add_argument("action", choices=["rebuild"], help="recreate them from the logs")
    audit = commands.add_parser(
        "audit", help="replay the logs, check the invariants, compare with the read models"
    )
    audit.add_argument("--json", action="store_true", help="print the report as JSON")
    balance = commands.add_parser("balance", help="a wallet's balance at an instant")
    balance.add_argument("wallet", help="a wallet id (wallet_…) or a handle (asha.k@payflow)")
    balance.add_argument("--as-of", required=True, type=_instant, help="ISO-8601, with a zone")
    export = commands.add_parser("export", help="export read models for analysts")
    export.add_argument("what", choices=["transfers"])
    export.add_argument("--from", dest="since", type=_instant, help="initiated at or after")
    export.add_argument("--to", dest="until", type=_instant, help="initiated at or before")
    export.add_argument("--format", choices=["csv"], default="csv")
    export.add_argument("--output", type=Path, help="a file to write (default: stdout)")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        configure_logging()
        log.error(str(error))
        return 2
    configure_logging(settings.log_level)
    if _serves(args) and sys.version_info < INCREMENTAL_COLLECTOR:
        gc.set_threshold(*settings.gc_thresholds)
    if not _makes_stores(args):  # a report on a mistyped store must not make an empty one
        settings = replace(settings, create_tables=False)
        if settings.store == "sqlite" and not (settings.data_dir / "wallets.sqlite").exists():
            where = settings.data_dir.resolve()
            log.error(f"no PayFlow data in {where}: set PAYFLOW_DATA_DIR, or run PayFlow first")
            return 2
    try:
        container = bootstrap(settings, sole_writer=args.command == "up")
    except (PersistenceError, psycopg.Error) as error:
        log.error(f"PayFlow cannot open its stores: {_hint(error, settings)}")
        return 2
    if args.command in ("up", "api"):
        host, port = args.host or settings.host, args.port or settings.port
        return _serve(container, host, port, run_workers=args.command == "up")
    try:
        return _run(container, args)
    finally:
        container.close()


def _serves(args: argparse.Namespace) -> bool:
    """Commands that run until stopped (the API, the workers), not one-off reports."""
    if args.command == "webhooks":
        return args.action is None
    return args.command in ("up", "api", "saga", "projector")


def _makes_stores(args: argparse.Namespace) -> bool:
    """Commands that run PayFlow (and so may create its tables); the auditor's and
    operator's one-off commands only ever read or change what is already there."""
    return _serves(args) or args.command == "init"


def _hint(error: Exception, settings: Settings) -> str:
    """The store's complaint, and what to do about the ones a newcomer meets."""
    said = (str(error).strip().splitlines() or [type(error).__name__])[0]
    pg = settings.postgres
    if "does not exist" in said and ("schema" in said or "relation" in said):
        return f"{said}: run `payflow init` first (scripts/server-mode does) or fix POSTGRES_SCHEMA"
    unreachable = isinstance(error, OperationalError | psycopg.OperationalError)
    if settings.store == "postgres" and unreachable:
        return f"{said}: is PostgreSQL running at {pg.host}:{pg.port} (POSTGRES_HOST, _PORT)?"
    return said


def _run(container: Container, args: argparse.Namespace) -> int:
    commands: dict[str, Callable[[], int]] = {
        "projector": lambda: _until_stopped(
            "projector",
            lambda: _start_listening(
                container, lambda: container.projector.start(container.settings.saga_poll_interval)
            ),
            container.projector.stop,
        ),
        "saga": lambda: _until_stopped(
            "saga", lambda: _start_listening(container, container.saga.start), container.saga.stop
        ),
        "webhooks": lambda: _webhooks(container, args.action, args.delivery),
        "projections": lambda: _rebuild(container),
        "init": lambda: _init(container),
        "audit": lambda: run_audit(container, as_json=args.json),
        "balance": lambda: balance_as_of(container, args.wallet, args.as_of),
        "export": lambda: _export(container, args),
    }
    return commands[args.command]()


def _start_listening(container: Container, start: Callable[[], None]) -> None:
    container.share_commits(listen=True)
    start()


def _webhooks(container: Container, action: str | None, delivery: str | None) -> int:
    if action is None:
        return asyncio.run(_run_webhooks(container))
    try:
        delivery_id = parse_id(DELIVERY, delivery or "")
        redelivered = container.ledger.webhooks.redeliver(delivery_id)
    except (MalformedId, DeliveryNotFound, DeliveryPending) as error:
        print(f"payflow: {error}", file=sys.stderr)
        return 1
    return _say(f"Delivery {delivery} will be sent again ({redelivered.event_type}).")


async def _run_webhooks(container: Container) -> int:
    """The webhook worker until SIGTERM or Ctrl-C; the attempts in hand finish first."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    container.share_commits(listen=True)
    await container.webhook_worker.start()
    log.info("PayFlow webhooks is running.")
    await stopping.wait()
    await container.webhook_worker.stop()
    log.info("PayFlow webhooks stopped cleanly.")
    return 0


def _init(container: Container) -> int:
    """Building the container made the event and read-model tables; the table of the
    shared simulation settings (server mode) is made here."""
    if container.shared_faults is not None:
        container.shared_faults.create_table()
    return _say("PayFlow stores are ready.")


def _say(message: str) -> int:
    print(message, flush=True)
    return 0


def _export(container: Container, args: argparse.Namespace) -> int:
    if args.output is None:
        return _to_stdout(lambda: export_transfers(container, args.since, args.until, sys.stdout))
    try:
        out = args.output.open("w", newline="", encoding="utf-8-sig")
    except OSError as error:
        print(f"payflow: cannot write {args.output}: {error.strerror}", file=sys.stderr)
        return 1
    with out:
        return export_transfers(container, args.since, args.until, out)


def _to_stdout(write: Callable[[], int]) -> int:
    """Run ``write``; if the reader of stdout has gone (``payflow export | head``), stop
    quietly, with the status a program killed by SIGPIPE has, as shell tools do."""
    try:
        code = write()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        return 128 + signal.SIGPIPE
    return code


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 instant: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone, e.g. {text}Z or {text}+05:30")
    return moment


def _serve(container: Container, host: str, port: int, run_workers: bool) -> int:
    """The HTTP API, with the saga and projector in-process when ``run_workers``."""
    settings = container.settings
    app = create_app(container, run_workers=run_workers)
    where = str(settings.data_dir.resolve()) if settings.store == "sqlite" else settings.store
    try:
        serve(app, host, port, store=where)
    except ListenFailed as failure:
        log.error(str(failure))
        return 1
    log.info("PayFlow stopped cleanly.")
    return 0


def _until_stopped(name: str, start: Callable[[], None], stop: Callable[[], None]) -> int:
    """Run a worker until SIGTERM or Ctrl-C; it finishes the step in hand first."""
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    start()
    log.info(f"PayFlow {name} is running.")
    stopping.wait()
    stop()
    log.info(f"PayFlow {name} stopped cleanly.")
    return 0


def _rebuild(container: Container) -> int:
    """Recreate the read models from the logs while the service goes on serving."""
    started = time.monotonic()
    reached = container.projector.rebuild()
    where = ", ".join(f"{name} to position {at}" for name, at in sorted(reached.items()))
    took = time.monotonic() - started
    print(f"Rebuilt the read models ({where or 'empty logs'}) in {took:.1f} s.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
