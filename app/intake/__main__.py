"""`python -m app.intake --db URL --listen 127.0.0.1:PORT`: the receiver alone, for tests and the bench
only (`journeys serve` is the product: the receiver with all of the engine's jobs). It applies stored
requests only while it holds the engine lease (app/intake/standalone.py); while the service or the
app's window runs the engine it only stores them, and they are applied there."""
from __future__ import annotations

import argparse
import logging
import sys

import uvicorn


def main(argv: list[str] | None = None) -> int:
    from app.store.db import open_database, resolve_database_url
    from app.store.errors import StoreError

    from .standalone import LeasedApplier
    from .config import DEFAULT_LISTEN, parse_listen, receiver_token
    from .runner import uvicorn_config
    from .server import create_app

    parser = argparse.ArgumentParser(prog="python -m app.intake", description=__doc__)
    parser.add_argument("--db", help="database file or URL (default: $JOURNEYS_DB, else the app's own)")
    parser.add_argument("--listen", default=DEFAULT_LISTEN, help="HOST:PORT (default %(default)s)")
    parser.add_argument("--no-apply", action="store_true", help="store requests only; apply none (bench)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        host, port = parse_listen(args.listen)
        db = open_database(resolve_database_url(args.db))
        receiver_token(db)
    except (ValueError, StoreError) as exc:
        print(f"python -m app.intake: {exc}", file=sys.stderr)
        return 2
    applier = None if args.no_apply else LeasedApplier(db).start()
    app = create_app(db, engine_wakeup=applier.wake if applier else None)
    server = uvicorn.Server(uvicorn_config(app, host, port))
    try:
        server.run()
    finally:
        if applier is not None:
            applier.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
