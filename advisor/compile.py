"""`python -m advisor.compile`: (re)build `advisor/data/corpus.jsonl.gz` from the shared laws.

The compiled file is committed, since a fresh clone has no `../shared`. Output is deterministic
(sorted as the source index lists the laws, gzip without a timestamp) so a rebuild from the same
source changes no bytes, and a test compares it with the source when the source is present.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.corpus import CORPUS_FORMAT, CORPUS_PATH

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LAWS_DIR = REPO_ROOT.parent / "shared" / "laws"
SNAPSHOT = "LawRefBook/Laws@2f4c5c23716267af9dbebbbbd6cbbf732b101981"

_SECTION = re.compile(r"^## (?P<short>\S+) — `(?P<file>[^`]+)`", re.M)
_FILE_DATE = re.compile(r"file date (\d{4}-\d{2}-\d{2})")
_PATH = re.compile(r"^- path: `([^`]+)`", re.M)
_LATEST = re.compile(
    r"^- latest dated event in source header: (\d{4})年(\d{1,2})月(\d{1,2})日", re.M
)


@dataclass(frozen=True, slots=True)
class SourceInfo:
    version: str
    paths: tuple[str, ...]


def parse_sources(text: str) -> dict[str, SourceInfo]:
    """Version date and source paths per law short name, from the source's SOURCES.md."""
    found: dict[str, SourceInfo] = {}
    starts = list(_SECTION.finditer(text))
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        body = text[match.end() : end]
        # The file date is the version LawRefBook names the text by; without one (民法典, 宪法)
        # the latest event in the source header is the version.
        dates = _FILE_DATE.findall(body)
        if dates:
            version = max(dates)
        elif latest := _LATEST.search(body):
            y, m, d = (int(g) for g in latest.groups())
            version = f"{y:04d}-{m:02d}-{d:02d}"
        else:
            raise ValueError(f"SOURCES.md: no version date for {match['short']}")
        found[match["short"]] = SourceInfo(version, tuple(_PATH.findall(body)))
    return found


def version_note(version: str) -> str:
    y, m, d = (int(p) for p in version.split("-"))
    return f"{y}年{m}月{d}日版本文本（2025年4月资料快照，之后的修订未核对）"


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def compile_corpus(laws_dir: Path) -> bytes:
    """The compiled corpus as gzip bytes: a header line with the laws, then one article a line."""
    index = json.loads((laws_dir / "index.json").read_text(encoding="utf-8"))
    sources = parse_sources((laws_dir / "SOURCES.md").read_text(encoding="utf-8"))
    laws: list[dict[str, Any]] = []
    lines: list[str] = []
    for entry in index:
        short = entry["short"]
        info = sources[short]
        rows = list(read_jsonl(laws_dir / entry["file"]))
        if len(rows) != entry["n"]:
            raise ValueError(f"{entry['file']}: {len(rows)} articles, index says {entry['n']}")
        laws.append(
            {
                "slug": entry["slug"],
                "short": short,
                "name": entry["law"],
                "version": info.version,
                "version_note": version_note(info.version),
                "source": f"{SNAPSHOT}: " + "; ".join(info.paths),
                "article_count": len(rows),
            }
        )
        for number, row in enumerate(rows, start=1):
            if row["short"] != short or row["article"] != number:
                raise ValueError(f"{entry['file']}: article {row['article']} out of order")
            lines.append(
                json.dumps(
                    {
                        "law": short,
                        "article": row["article"],
                        "label": row["article_label"],
                        "part": row["part"],
                        "text": row["text"],
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
            )
    header = json.dumps(
        {"format": CORPUS_FORMAT, "laws": laws}, ensure_ascii=False, separators=(",", ":")
    )
    payload = "\n".join([header, *lines]) + "\n"
    return gzip.compress(payload.encode("utf-8"), compresslevel=9, mtime=0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--laws", type=Path, default=DEFAULT_LAWS_DIR, help="source directory")
    parser.add_argument("--out", type=Path, default=CORPUS_PATH, help="compiled corpus")
    parser.add_argument("--check", action="store_true", help="fail if --out is out of date")
    args = parser.parse_args(argv)
    data = compile_corpus(args.laws)
    if args.check:
        current = args.out.read_bytes() if args.out.exists() else b""
        if current != data:
            print(f"{args.out} is out of date: run python -m advisor.compile", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
