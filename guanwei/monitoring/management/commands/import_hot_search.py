"""`guanwei import_hot_search FILE…` — hot-search boards from a file (JSON Lines, gzip allowed:
{"snapshot", "rank", "title", "heat"[, "category", "ad"]} per line, one board per snapshot, in
time order — the shape of the public hot-search history). Every monitor's hits are recorded;
nothing is sent (the boards are the past). A board already stored is skipped."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guanwei.monitoring import hotsearch


class Command(BaseCommand):
    help = "Import hot-search boards (JSON Lines: snapshot, rank, title, heat)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+")

    def handle(self, *args: Any, **options: Any) -> None:
        boards = rows = 0
        for name in options["files"]:
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"{name}: no such file")
            opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
            current: datetime | None = None
            entries: list[hotsearch.Entry] = []
            with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
                for line_no, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                        at = datetime.fromisoformat(row["snapshot"])
                        if at.tzinfo is None:
                            raise ValueError("snapshot needs a time zone")
                        entry = hotsearch.Entry(int(row["rank"]), str(row["title"])[:200], int(row.get("heat") or 0),
                                                str(row.get("category") or "")[:20])  # fmt: skip
                    except (ValueError, KeyError, TypeError) as exc:
                        raise CommandError(f"{name}:{line_no}: {exc}") from None
                    if row.get("ad"):
                        continue
                    if current is not None and at != current:
                        hotsearch.record(current, entries, tell=False)
                        boards += 1
                        entries = []
                    current = at
                    entries.append(entry)
                    rows += 1
            if current is not None and entries:
                hotsearch.record(current, entries, tell=False)
                boards += 1
        self.stdout.write(f"{boards} boards, {rows} titles")
