"""The silences file the API edits and the flow re-reads (``notify.silences_file``).

The format is the one :func:`~alertflow.operators.delivery.silences.load_silences` reads
(a JSON list of silence objects), so ``alertflow silence`` and the API share a file. Writes
go to a temporary file that is renamed over the old one: the flow never reads half a file.
"""

import os
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alertflow.operators.delivery.errors import DeliveryConfigError
from alertflow.operators.delivery.matchers import Matcher
from alertflow.operators.delivery.silences import Silence, load_silences
from alertflow.schemas.config_notify import SilenceConfig
from alertflow.schemas.jsoncodec import dumps, loads


class SilenceFile:
    """Read, add and expire silences in one JSON file; one writer at a time in this process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def entries(self) -> list[tuple[dict[str, Any], Silence]]:
        """Each stored object beside its compiled silence (ids filled in), file order."""
        if not self.path.exists():
            return []
        compiled = load_silences(self.path)  # the flow's own validation
        raw = list(loads(self.path.read_bytes()) or [])
        return list(zip(raw, compiled, strict=True))

    def add(self, config: SilenceConfig) -> Silence:
        """Append a silence (matchers already parsed by the caller) and return it compiled."""
        for text in config.matchers:
            Matcher.parse(text)
        entry = config.model_dump(mode="json", exclude_none=True)
        with self._lock:
            stored = [raw for raw, _ in self.entries()]
            silence = Silence.from_config(config)
            if any(s.id == silence.id for _, s in self.entries()):
                raise DeliveryConfigError(f"silence {silence.id} exists already")
            entry["id"] = silence.id  # stored, so an expiry keeps the same id
            self._write([*stored, entry])
        return silence

    def expire(self, silence_id: str, now: datetime | None = None) -> Silence | None:
        """End a silence now; it stays in the file, as Alertmanager keeps expired ones."""
        at = now or datetime.now(UTC)
        with self._lock:
            entries = self.entries()
            hits = [i for i, (_, s) in enumerate(entries) if s.id == silence_id]
            if not hits:
                return None
            stored = [raw for raw, _ in entries]
            for i in hits:
                silence = entries[i][1]
                ends = min(silence.ends_at, at)
                # A pending silence ends as it starts: the file must still say start < end.
                starts = min(silence.starts_at, ends - timedelta(microseconds=1))
                stored[i] = {**stored[i], "id": silence_id, "starts_at": starts.isoformat(),
                             "ends_at": ends.isoformat()}
            self._write(stored)
        return self._by_id(silence_id)

    def _by_id(self, silence_id: str) -> Silence | None:
        return next((s for _, s in self.entries() if s.id == silence_id), None)

    def _write(self, entries: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(dumps(entries))
            os.replace(tmp, self.path)  # atomic: readers see the old file or the new one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
