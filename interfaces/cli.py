"""The ``payflow`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from infrastructure.logs import configure_logging
from infrastructure.settings import Settings, SettingsError
from interfaces.bootstrap import bootstrap
from interfaces.http.app import create_app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="payflow", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser(
        "up",
        help="run the API and the saga in one process (embedded SQLite by default)",
    )
    up.add_argument("--host", help="address to listen on (default: HOST or 127.0.0.1)")
    up.add_argument("--port", type=int, help="port to listen on (default: PORT or 3000)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"payflow: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    if args.command == "up":
        return _up(settings, args.host or settings.host, args.port or settings.port)
    return 2


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


if __name__ == "__main__":
    sys.exit(main())
