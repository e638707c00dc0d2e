"""The ``payflow`` command: run the service, its workers, and the auditor's tools."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from aiohttp import web

from infrastructure.logs import configure_logging
from infrastructure.settings import Settings, SettingsError
from interfaces.audit_command import run_audit
from interfaces.bootstrap import Container, bootstrap
from interfaces.http.app import create_app
from interfaces.reports import balance_as_of, export_transfers


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="payflow", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    up = commands.add_parser(
        "up", help="run the API, the saga and the projector in one process (SQLite by default)"
    )
    up.add_argument("--host", help="address to listen on (default: HOST or 127.0.0.1)")
    up.add_argument("--port", type=int, help="port to listen on (default: PORT or 3000)")
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
        print(f"payflow: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    if args.command == "up":
        return _up(settings, args.host or settings.host, args.port or settings.port)
    container = bootstrap(settings)
    try:
        return _run(container, args)
    finally:
        container.close()


def _run(container: Container, args: argparse.Namespace) -> int:
    if args.command == "projector":
        return _projector(container)
    if args.command == "projections":
        return _rebuild(container)
    if args.command == "audit":
        return run_audit(container, as_json=args.json)
    if args.command == "balance":
        return balance_as_of(container, args.wallet, args.as_of)
    if args.output is None:
        return export_transfers(container, args.since, args.until, sys.stdout)
    with args.output.open("w", newline="", encoding="utf-8-sig") as out:
        return export_transfers(container, args.since, args.until, out)


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 instant: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone, e.g. {text}Z or {text}+05:30")
    return moment


def _up(settings: Settings, host: str, port: int) -> int:
    container = bootstrap(settings)
    app = create_app(container)
    where = settings.data_dir.resolve() if settings.store == "sqlite" else settings.store

    async def announce(app: web.Application) -> None:
        print(f"PayFlow is listening on http://{host}:{port} (store: {where})", flush=True)

    app.on_startup.append(announce)
    logging.getLogger(__name__).info("starting", extra={"host": host, "port": port})
    web.run_app(app, host=host, port=port, print=None, handle_signals=True)
    print("PayFlow stopped cleanly.", flush=True)
    return 0


def _rebuild(container: Container) -> int:
    """Recreate the read models from the logs while the service goes on serving."""
    started = time.monotonic()
    reached = container.projector.rebuild()
    where = ", ".join(f"{name} to position {at}" for name, at in sorted(reached.items()))
    took = time.monotonic() - started
    print(f"Rebuilt the read models ({where or 'empty logs'}) in {took:.1f} s.", flush=True)
    return 0


def _projector(container: Container) -> int:
    """Project until SIGTERM or Ctrl-C, finishing the page in hand."""
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    container.projector.start(container.settings.saga_poll_interval)
    print("PayFlow projector is running.", flush=True)
    stopping.wait()
    container.projector.stop()
    print("PayFlow projector stopped cleanly.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
