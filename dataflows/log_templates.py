"""``alertflow logs templates``: the template of every line of a log file, as the flow mines it.

A line is one message, or, when it starts with ``{``, a JSON log the flow accepts (a plain
JSON line or an OTLP logs document; every record counts, mined per service). Each line gets
the template it has after the whole file was read: a template that widened later is shown
as it ended. A line that cannot be read (bad JSON, a missing field)
keeps its place with the reason, and the rest goes on.
"""

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from alertflow.operators.log_miner import Template, TemplateMiner
from alertflow.schemas import jsoncodec
from alertflow.schemas.config import ConfigError
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.otlp_logs import decode_logs

MAX_TEMPLATES = 100_000  # per service: a file is bounded, its templates should all stay


@dataclass(slots=True)
class Mined:
    """One record of the file: its line, service, and template (or why it was not read)."""

    line: int
    service: str = ""
    template: Template | None = None
    error: str = ""


def mine_file(path: Path) -> list[Mined]:
    """Every record of the file in order, each with its final template."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    miners: dict[str, TemplateMiner] = {}
    out: list[Mined] = []
    with handle:
        for number, raw in enumerate(handle, 1):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            try:
                records = _records(text)
            except DecodeError as exc:
                out.append(Mined(number, error=exc.reason))
                continue
            for service, message in records:
                miner = miners.get(service)
                if miner is None:
                    miner = miners[service] = TemplateMiner(max_templates=MAX_TEMPLATES)
                out.append(Mined(number, service, miner.add(message)))
                miner.dropped.clear()
    return out  # each Template object holds its final text


def _records(text: str) -> list[tuple[str, str]]:
    if not text.lstrip().startswith("{"):
        return [("", text)]
    records = [(event.service, event.message) for event in decode_logs(text.encode())]
    if not records:
        raise DecodeError("a logs document without log records")
    return records


def print_templates(path: Path, as_json: bool = False, out: TextIO | None = None) -> int:
    """Print every line's template (``as_json``: one JSON object per record) or a summary.

    Returns how many lines could not be read; each is also named on stderr.
    """
    out = out or sys.stdout
    mined = mine_file(path)
    bad = [m for m in mined if m.template is None]
    for m in bad[:20]:
        print(f"alertflow: {path}:{m.line}: {m.error}", file=sys.stderr)
    if as_json:
        for m in mined:
            if m.template is None:
                row = {"line": m.line, "error": m.error}
            else:
                row = {
                    "line": m.line,
                    "service": m.service,
                    "template_id": m.template.template_id,
                    "template": m.template.template(),
                }
            out.write(jsoncodec.dumps(row).decode() + "\n")
        return len(bad)
    counts = Counter((m.service, m.template.template_id) for m in mined if m.template is not None)
    shown = {(m.service, m.template.template_id): m.template for m in mined if m.template}
    services = {service for service, _ in counts}
    out.write(f"{'count':>8}  {'template_id':<16}  {'service  ' if len(services) > 1 else ''}")
    out.write("template\n")
    for (service, tid), count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        where = f"{service or '-'}  " if len(services) > 1 else ""
        out.write(f"{count:>8}  {tid:<16}  {where}{shown[service, tid].template()}\n")
    lines = len({m.line for m in mined})
    out.write(f"{lines} lines, {len(counts)} templates, {len(bad)} lines not read\n")
    return len(bad)
