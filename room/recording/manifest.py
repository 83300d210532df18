"""A recording's manifest: one JSON line per event (start, each finished segment, end), each
line chained to the one before by SHA-256 and signed with the server's Ed25519 key; and the
check of a recording's files against it and against the segment log.

Line i carries `prev` (line i-1's `hash`, or a hash of the recording id on line 1), `hash`
(SHA-256 of the line's canonical JSON without `hash` and `sig`) and `sig` (Ed25519 over that
hash). Changing any line breaks its hash or signature; removing one breaks the next `prev`;
removing the last ones is caught by the segment log and the missing `end` line.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from room.recording.segment_log import SegmentRecord
from room.recording.segments import PARTIAL, parse_segment_name, sha256_file
from room.recording.signing import public_key_hex

MANIFEST: Final = "manifest.jsonl"
VERSION: Final = 1

EntryType = Literal["start", "segment", "end"]


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def genesis(recording_id: str) -> str:
    """The `prev` of line 1: binds the chain to its recording, so manifests cannot be swapped."""
    return hashlib.sha256(f"lawroom-recording:{recording_id}".encode()).hexdigest()


def entry_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


class ManifestError(RuntimeError):
    pass


class Manifest:
    """Appends signed, chained lines to a recording's manifest. Blocking (fsync per line):
    call from a thread. Safe to share between threads."""

    def __init__(self, directory: Path, recording_id: str, key: Ed25519PrivateKey) -> None:
        self.path = directory / MANIFEST
        self.recording_id = recording_id
        self._key = key
        self._lock = threading.Lock()
        self._prev = genesis(recording_id)
        self._seq = 0
        self.finished = False
        if self.path.exists():
            # Continuing after a restart: follow on from the last line as it stands.
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self._prev, self._seq = entry["hash"], entry["seq"]
                    self.finished = entry["type"] == "end"

    @property
    def started(self) -> bool:
        return self._seq > 0

    def append(self, entry_type: EntryType, fields: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self.finished:
                raise ManifestError(f"recording {self.recording_id} is finished")
            body = {
                **fields,
                "v": VERSION,
                "seq": self._seq + 1,
                "type": entry_type,
                "recording_id": self.recording_id,
                "prev": self._prev,
            }
            digest = entry_hash(body)
            entry = {**body, "hash": digest, "sig": self._key.sign(bytes.fromhex(digest)).hex()}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
            self._prev, self._seq = digest, body["seq"]
            self.finished = entry_type == "end"
            return entry

    def start(self, created_at: str) -> None:
        if not self.started:
            public = public_key_hex(self._key.public_key())
            self.append("start", {"created_at": created_at, "public_key": public})

    def segment(self, record: SegmentRecord) -> None:
        fields = {
            "participant": record.participant,
            "file": record.file,
            "sha256": record.sha256,
            "size": record.size,
            "status": record.status,
            "start_ms": record.start_ms,
            "end_ms": record.end_ms,
            "finished_at": record.finished_at,
        }
        self.append("segment", fields)

    def end(self, reason: str, at: str) -> None:
        if not self.finished:
            self.append("end", {"reason": reason, "at": at})


# -- verification ---------------------------------------------------------------------------

ProblemCode = Literal[
    "manifest_missing",
    "manifest_unreadable",
    "manifest_entry_altered",
    "signature_invalid",
    "chain_broken",
    "segment_missing",
    "segment_altered",
    "segment_unlisted",
    "not_in_database",
    "database_mismatch",
    "not_in_manifest",
]


@dataclass(frozen=True, slots=True)
class Problem:
    code: ProblemCode
    file: str | None  # the segment concerned, relative to the recording's directory
    detail: str

    def __str__(self) -> str:
        where = f" {self.file}" if self.file else ""
        return f"{self.code}:{where} {self.detail}"


@dataclass(frozen=True, slots=True)
class SegmentCheck:
    file: str
    participant: str
    status: str  # "complete" or "interrupted", as the manifest says
    ok: bool


@dataclass(frozen=True, slots=True)
class VerifyReport:
    recording_id: str
    segments: list[SegmentCheck] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    finished: bool = False  # the manifest has its `end` line

    @property
    def ok(self) -> bool:
        return not self.problems

    def files_with(self, code: ProblemCode) -> list[str]:
        return [p.file for p in self.problems if p.code == code and p.file is not None]


def verify(
    directory: Path,
    recording_id: str,
    public_key: Ed25519PublicKey,
    database: Sequence[SegmentRecord] | None,
) -> VerifyReport:
    """Check a recording's files against its manifest, the signatures and the database records.
    Blocking (hashes every segment): call from a thread."""
    problems: list[Problem] = []
    checks: list[SegmentCheck] = []
    path = directory / MANIFEST
    if not path.exists():
        problems.append(Problem("manifest_missing", None, f"{path} does not exist"))
        entries: list[dict[str, Any]] = []
    else:
        entries = _check_chain(path, recording_id, public_key, problems)
    finished = bool(entries) and entries[-1].get("type") == "end"

    listed: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry.get("type") != "segment" or not isinstance(entry.get("file"), str):
            continue
        name = entry["file"]
        listed[name] = entry
        ok = _check_file(directory, name, entry, problems)
        checks.append(SegmentCheck(name, str(entry.get("participant")), str(entry["status"]), ok))

    for name in _segment_files(directory):
        if name.endswith(PARTIAL) and not finished:
            continue  # being written now (or awaiting the restart that closes it)
        if name not in listed:
            problems.append(Problem("segment_unlisted", name, "on disk but not in the manifest"))

    if database is not None:
        in_db = {r.file: r for r in database if r.recording_id == recording_id}
        for name, entry in listed.items():
            record = in_db.get(name)
            if record is None:
                problems.append(Problem("not_in_database", name, "in the manifest only"))
            elif record.sha256 != entry.get("sha256") or record.size != entry.get("size"):
                problems.append(
                    Problem("database_mismatch", name, "manifest and database disagree on it")
                )
        for name in in_db.keys() - listed.keys():
            problems.append(Problem("not_in_manifest", name, "in the database only"))
            if not (directory / name).exists():
                problems.append(Problem("segment_missing", name, "recorded in the database"))
    return VerifyReport(recording_id, checks, problems, finished)


def _check_chain(
    path: Path, recording_id: str, public_key: Ed25519PublicKey, problems: list[Problem]
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    prev = genesis(recording_id)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
            stated = str(entry["hash"])
            signature = bytes.fromhex(str(entry["sig"]))
        except (ValueError, KeyError) as exc:
            problems.append(Problem("manifest_unreadable", None, f"line {number}: {exc}"))
            continue
        name = entry.get("file") if isinstance(entry.get("file"), str) else None
        body = {k: v for k, v in entry.items() if k not in ("hash", "sig")}
        if entry.get("prev") != prev or entry.get("seq") != number:
            problems.append(
                Problem("chain_broken", name, f"line {number} does not follow line {number - 1}")
            )
        if entry.get("recording_id") != recording_id:
            problems.append(Problem("chain_broken", name, f"line {number} is of another recording"))
        if entry_hash(body) != stated:
            problems.append(Problem("manifest_entry_altered", name, f"line {number} was changed"))
        else:
            try:
                public_key.verify(signature, bytes.fromhex(stated))
            except (InvalidSignature, ValueError):
                problems.append(
                    Problem("signature_invalid", name, f"line {number} is not signed by our key")
                )
        prev = stated
        entries.append(entry)
    return entries


def _check_file(directory: Path, name: str, entry: dict[str, Any], problems: list[Problem]) -> bool:
    path = directory / name
    if ".." in Path(name).parts or not path.is_file():
        problems.append(Problem("segment_missing", name, "listed in the manifest, not on disk"))
        return False
    digest, size = sha256_file(path)
    if digest != entry.get("sha256") or size != entry.get("size"):
        problems.append(
            Problem(
                "segment_altered",
                name,
                f"sha256 {digest[:16]}... ({size} bytes), manifest says "
                f"{str(entry.get('sha256'))[:16]}... ({entry.get('size')} bytes)",
            )
        )
        return False
    return True


def _segment_files(directory: Path) -> list[str]:
    """Segment files (finished or not) under the recording's participant directories."""
    names = []
    for path in sorted(directory.glob("*/*")):
        if parse_segment_name(path.name) is not None:
            names.append(path.relative_to(directory).as_posix())
    return names
