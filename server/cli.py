"""The `lawroom` command: serve, demo, schema."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from aiohttp import web

from server import settings as settings_mod
from server.db.cli import DB_COMMANDS, add_db_commands, run_db_command
from server.logs import configure_logging
from server.settings import SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lawroom", description="Lawroom legal consultation server"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    settings_mod.add_arguments(serve)

    demo = commands.add_parser(
        "demo", help="run one scripted consultation between two Python clients and print it"
    )
    demo.add_argument("--size", default="640x480", help="synthetic video size (default 640x480)")
    demo.add_argument("--seconds", type=float, default=3.0, help="how long the call lasts")

    commands.add_parser("schema", help="print the protocol's JSON Schema")
    add_db_commands(commands)
    recording = commands.add_parser("recording", help="recordings of consultations")
    recording.add_subparsers(dest="recording_command", required=True).add_parser(
        "verify", help="check a recording against its signed manifest (ID [--data-dir DIR])"
    )

    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["recording", "verify"]:
        # Its own parser: the recorder package owns its arguments.
        from room.recording.cli import verify_main

        return verify_main(argv[2:])
    args = parser.parse_args(argv)
    if args.command in DB_COMMANDS:
        configure_logging("WARNING")
        return run_db_command(args)
    if args.command == "schema":
        from signaling.messages import json_schema

        print(json.dumps(json_schema(), ensure_ascii=False, indent=2))
        return 0
    if args.command == "demo":
        from server.demo import run_demo

        configure_logging("WARNING")
        return asyncio.run(run_demo(args.size, args.seconds))
    try:
        settings = settings_mod.load(vars(args))
    except SettingsError as exc:
        print(f"lawroom: {exc}", file=sys.stderr)
        return 2
    return serve_forever(settings)


def serve_forever(settings: settings_mod.Settings) -> int:
    from server.app import init_app

    configure_logging(settings.log_level)
    log = logging.getLogger("lawroom")
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    app = init_app(settings)
    scheme = "https" if settings.tls_cert else "http"
    base = f"{scheme}://{settings.host}:{settings.port}"

    def ready(_: str) -> None:
        # Called by aiohttp once the socket listens.
        log.info("Lawroom on %s — village page %s/village, lawyer page %s/lawyer", base, base, base)
        if settings.demo:
            log.info(
                "demo: sign in at %s/lawyer as lawyer-1 / lawyer-1-password (supervisor: "
                "supervisor / supervisor-password at %s/supervisor); terminal %s/village?identity="
                "village-1; Python clients: --token demo-lawyer-1 / demo-village-1",
                base,
                base,
                base,
            )

    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        ssl_context=settings.ssl_context(),
        print=ready,
        shutdown_timeout=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
