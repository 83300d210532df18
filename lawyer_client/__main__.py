"""`python -m lawyer_client --server URL`: go on duty and accept every consultation offered."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from lawyer_client.desk import start_desk
from room.ice import use_host_addresses
from room.synthetic import SIDE_LAWYER
from room.tracks import media_source, ws_url
from signaling.messages import Role


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m lawyer_client", description=__doc__)
    p.add_argument("--server", required=True, help="the Lawroom server, e.g. http://127.0.0.1:8080")
    p.add_argument("--identity", default="lawyer-1")
    p.add_argument("--token", default="demo-lawyer-1")
    p.add_argument("--role", default="lawyer", choices=["lawyer", "mediator"])
    source = p.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, help="OpenCV camera index")
    source.add_argument("--synthetic", default="640x480", help="synthetic video size")
    p.add_argument(
        "--ice-host-address",
        action="append",
        default=[],
        help="offer only this host address (repeatable; 127.0.0.1 keeps media on loopback)",
    )
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    if args.ice_host_address:
        use_host_addresses(args.ice_host_address)
    tracks = media_source(SIDE_LAWYER, camera=args.camera, synthetic=args.synthetic)
    desk = await start_desk(
        ws_url(args.server), args.identity, args.token, tracks, role=Role(args.role)
    )
    print("已上班，等待咨询…", flush=True)
    try:
        while True:
            offer = await desk.offers.get()
            print(f"接听：{offer.village}，{offer.topic}，{offer.language}", flush=True)
            await desk.ended.wait()
            desk.ended.clear()
            print("通话结束", flush=True)
    finally:
        await desk.close()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    try:
        return asyncio.run(run(parse_args(argv)))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
