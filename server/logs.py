"""Logging set-up: UTC timestamps in the log, connection and consultation ids in each line."""

from __future__ import annotations

import logging
import time


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    formatter = logging.Formatter(
        "%(asctime)sZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aioice logs every candidate pair check at INFO.
    logging.getLogger("aioice").setLevel(logging.WARNING)
