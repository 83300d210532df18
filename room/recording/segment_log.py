"""Where finished segments' hashes are recorded apart from the manifest: the database.

`SegmentLog` is what the recorder needs from it. Until the database exists, `JsonSegmentLog`
keeps the records in one JSON file in the data directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from room.recording.segments import Status


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    recording_id: str
    participant: str
    file: str  # relative to the recording's directory, with "/"
    sha256: str
    size: int
    status: Status
    start_ms: int | None
    end_ms: int | None
    finished_at: str  # ISO 8601, UTC

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SegmentRecord:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


class SegmentLog(Protocol):
    async def add(self, record: SegmentRecord) -> None:
        """Store a finished segment's record durably before returning."""

    async def segments(self, recording_id: str) -> list[SegmentRecord]:
        """Every record of a recording, in the order added."""


class JsonSegmentLog:
    """A `SegmentLog` in one JSON file, replaced atomically on each add (a stand-in: the
    whole file is rewritten, fine for thousands of segments, not for years of them)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Adds come from the event loop and from recovery threads alike.
        self._lock = threading.Lock()

    async def add(self, record: SegmentRecord) -> None:
        await asyncio.to_thread(self._add, record)

    async def segments(self, recording_id: str) -> list[SegmentRecord]:
        records = await asyncio.to_thread(self._load)
        return [r for r in records if r.recording_id == recording_id]

    def segments_sync(self, recording_id: str) -> list[SegmentRecord]:
        return [r for r in self._load() if r.recording_id == recording_id]

    def _load(self) -> list[SegmentRecord]:
        if not self.path.exists():
            return []
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return [SegmentRecord.from_json(item) for item in data["segments"]]

    def _add(self, record: SegmentRecord) -> None:
        with self._lock:
            records = self._load()
            records.append(record)
            text = json.dumps({"segments": [asdict(r) for r in records]}, indent=1)
            temp = self.path.with_name(self.path.name + ".tmp")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with temp.open("w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, self.path)
