"""`medagent serve`: run the FHIR R4 server (seeding the cohort on first start).

    medagent serve [--host 127.0.0.1] [--port 8080] [--db PATH] [--token-file FILE]
                   [--public-url URL] [--seed S] [--patients N] [--profile NAME] [--no-seed]
                   [--no-sessions] [--workers N]

Without ``--db`` (or ``MEDAGENT_DB``) the server uses the cohort's one default database,
``medagent.embedded.cohort_db_path(seed, patients, profile)`` — the same file ``medagent bench`` and
``medagent seed`` use, so a cohort is generated and loaded once. Flags override the
``MEDAGENT_*`` environment settings (see ``fhir_server.settings``). On SIGINT/SIGTERM the
server stops gracefully and checkpoints the database (no WAL file is left behind).

``--workers N`` runs N server processes on the one port and the one database (uvicorn's
worker processes; the settings reach them through ``MEDAGENT_*`` variables). Sessions and
writes are rows of that database, so every worker sees every session, and each write is
committed (WAL, fsync as with one process) before it is acknowledged.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys


class _Stopped(Exception):
    """SIGTERM, re-raised by uvicorn after its graceful shutdown."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped


def register(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    parser = sub.add_parser(
        "serve", help="run the FHIR R4 server (base URL http://HOST:PORT/fhir)",
        description="Run the FHIR R4 server. On first start the cohort's database is seeded with "
                    "the deterministic synthetic cohort (unless --no-seed).",
    )
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1, env MEDAGENT_HOST)")
    parser.add_argument("--port", type=int, help="TCP port (default 8080, env MEDAGENT_PORT)")
    parser.add_argument("--db", help="SQLite database path (default: MEDAGENT_DB, else the cohort's "
                                     "shared database under $MEDAGENT_HOME/db/)")
    parser.add_argument("--token", help="require 'Authorization: Bearer TOKEN' (visible in the "
                        "process list: prefer MEDAGENT_TOKEN or --token-file)")
    parser.add_argument("--token-file", help="read the bearer token from this file "
                        "(env MEDAGENT_TOKEN_FILE)")
    parser.add_argument("--public-url", help="root URL written into links and Location headers, "
                        "e.g. https://ehr.example.org (default: the bound address; env "
                        "MEDAGENT_PUBLIC_URL)")
    parser.add_argument("--seed", type=int, default=None, help="cohort seed (default: patients' default)")
    parser.add_argument("--patients", type=int, default=100, help="cohort size when seeding (100)")
    parser.add_argument("--no-seed", action="store_true", help="serve the database as it is")
    parser.add_argument("--no-sessions", action="store_true",
                        help="serve plain FHIR only, without the /sessions API (env MEDAGENT_SESSIONS=false)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="server processes over the one database (default 1; see docs/scaling.md)")
    from .seed import profile_arg

    profile_arg(parser)
    parser.set_defaults(func=run)


def settings_env(settings) -> dict[str, str]:  # noqa: ANN001 - fhir_server.ServerSettings
    """The resolved settings as ``MEDAGENT_*`` variables, for worker processes."""
    import json

    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None or name == "token_file":  # the token itself is passed, resolved
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list | dict):
            text = json.dumps(value)
        else:
            text = str(value)
        env[f"MEDAGENT_{name.upper()}"] = text
    return env


def settings_from_args(args: argparse.Namespace):  # noqa: ANN201 - fhir_server.ServerSettings
    from medagent.fhir_server import ServerSettings

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("db", args.db),
                                   ("token", args.token), ("token_file", args.token_file),
                                   ("public_url", args.public_url)) if v is not None}
    if getattr(args, "no_sessions", False):
        overrides["sessions"] = False
    if "db" not in overrides and not os.environ.get("MEDAGENT_DB"):
        from medagent.patients import DEFAULT_SEED

        from medagent.embedded import cohort_db_path

        seed = args.seed if args.seed is not None else DEFAULT_SEED
        overrides["db"] = cohort_db_path(seed, args.patients, args.profile)
    return ServerSettings(**overrides)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from medagent.fhir_server import Store, create_app

    settings = settings_from_args(args)
    if args.workers < 1:
        from medagent.errors import ConfigError

        raise ConfigError("--workers must be at least 1")
    sock = bind_port(settings.host, settings.port)  # before seeding: a busy port fails at once, in one line
    store = Store(settings.db)
    try:
        if not args.no_seed:
            from medagent import patients

            if store.get_meta("cohort_checksum") is None:
                kwargs = {"n_patients": args.patients, "profile": args.profile}
                if args.seed is not None:
                    kwargs["seed"] = args.seed
                print(f"medagent: seeding {settings.db} with {args.patients} patients ({args.profile})…",
                      file=sys.stderr)
                patients.seed_store(store, **kwargs)
                store.checkpoint()  # the load's WAL (as large as the database) is not kept
            patients.ensure_marker(store)
        app = create_app(settings, store)
        sessions = "" if settings.sessions else ", without the session API"
        print(f"medagent: FHIR server at {settings.base_url} (database {settings.db}{sessions})",
              file=sys.stderr, flush=True)
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal: a
        # SIGTERM that killed the process there would skip the checkpoint below
        signal.signal(signal.SIGTERM, _stop)
        try:
            # proxy_headers off: forwarded headers are read by the app, from trusted_proxies only
            if args.workers > 1:  # N processes, each opening the database from the same settings
                sock.close()  # uvicorn's supervisor binds the port itself and shares it with its workers
                os.environ.update(settings_env(settings))
                uvicorn.run("medagent.fhir_server.app:create_app", factory=True, workers=args.workers, host=settings.host,
                            port=settings.port, log_level="warning", access_log=False, lifespan="off",
                            proxy_headers=False)
            else:
                config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                                        access_log=False, lifespan="off", proxy_headers=False)
                uvicorn.Server(config).run(sockets=[sock])
        except (_Stopped, KeyboardInterrupt):  # SIGINT re-raised after the graceful shutdown (as uvicorn.run)
            pass
    finally:
        store.checkpoint()
        store.close()
    return 0


def bind_port(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port``; a port in use is one ``FhirServerError`` line."""
    from medagent.fhir_server.errors import FhirServerError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise FhirServerError(f"port {port} on {host} is in use (another server?); "
                                  "choose another with --port") from None
        raise FhirServerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock
