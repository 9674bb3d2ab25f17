"""``alertflow silence`` and ``alertflow notify``: silences file and outbox, from a shell."""

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alertflow.dataflows.notify_outbox import Outbox
from alertflow.operators.delivery.matchers import Matcher
from alertflow.operators.delivery.silences import load_silences
from alertflow.schemas.config import ConfigError
from alertflow.schemas.jsoncodec import dumps, loads

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_parsers(sub: Any) -> None:
    """Register ``silence`` and ``notify`` on the top-level subparsers."""
    silence = sub.add_parser(
        "silence", help="add, list and expire silences (the file notify.silences_file names)",
    ).add_subparsers(dest="silence", required=True)
    add = silence.add_parser("add", help="hold back matching notifications for a while")
    add.add_argument("matchers", nargs="+", metavar="MATCHER",
                     help="label matchers: service=api, severity!=info, team=~db.*")
    add.add_argument("--for", dest="duration", default="2h",
                     help="how long from now (or --start): 30m, 2h, 1d (default 2h)")
    add.add_argument("--start", type=_instant, help="RFC 3339 start (default now)")
    add.add_argument("--by", default="cli", help="who sets it")
    add.add_argument("--comment", default="", help="why")
    for name in ("add", "list", "expire"):
        parser = add if name == "add" else silence.add_parser(
            name, help={"list": "silences in force or to come",
                        "expire": "end a silence now"}[name])
        parser.add_argument("--file", type=Path, required=True,
                            help="the silences file (notify.silences_file)")
        if name == "expire":
            parser.add_argument("id", help="the silence's id (from list)")
    notify = sub.add_parser("notify", help="the notification outbox").add_subparsers(
        dest="notify", required=True)
    status = notify.add_parser("status", help="deliveries per receiver and state; dead letters")
    retry = notify.add_parser("retry-dead", help="queue dead deliveries again (after a fix)")
    for parser in (status, retry):
        parser.add_argument("outbox", type=Path, help="the outbox file (notify-outbox.sqlite)")


def run(args: argparse.Namespace) -> None:
    """Carry out a ``silence`` or ``notify`` command."""
    if args.command == "silence":
        {"add": _add, "list": _list, "expire": _expire}[args.silence](args)
    elif args.notify == "status":
        _status(_open(args.outbox))
    else:
        print(f"{_open(args.outbox).revive_dead(datetime.now(UTC).timestamp())} dead "
              "deliveries queued again")


def _instant(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time") from None
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a timezone, e.g. Z or +01:00")
    return at


def _duration(text: str) -> timedelta:
    found = _DURATION.match(text)
    if found is None:
        raise ConfigError(f"--for {text!r}: expected a number and s, m, h or d (e.g. 2h)")
    return timedelta(seconds=float(found[1]) * _UNITS[found[2]])


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    load_silences(path)  # the same validation as the flow's
    return list(loads(path.read_bytes()) or [])


def _write(path: Path, silences: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(dumps(silences))
    tmp.replace(path)  # the flow never reads a half-written file


def _add(args: argparse.Namespace) -> None:
    for text in args.matchers:
        Matcher.parse(text)
    start = args.start or datetime.now(UTC)
    entry = {"matchers": args.matchers, "starts_at": start.isoformat(),
             "ends_at": (start + _duration(args.duration)).isoformat(),
             "created_by": args.by, "comment": args.comment}
    silences = _read(args.file)
    silences.append(entry)
    _write(args.file, silences)
    added = load_silences(args.file)[-1]
    print(f"silence {added.id} until {added.ends_at.isoformat()}: {' '.join(args.matchers)}")


def _list(args: argparse.Namespace) -> None:
    now = datetime.now(UTC)
    live = [s for s in (load_silences(args.file) if args.file.exists() else ()) if s.ends_at > now]
    if not live:
        print("no silences in force or to come")
    for s in live:
        state = "active " if s.starts_at <= now else "pending"
        print(f"{s.id}  {state}  until {s.ends_at.isoformat()}  by {s.created_by}  "
              f"{' '.join(f'{m.name}{m.op}{m.value}' for m in s.matchers)}"
              f"{'  # ' + s.comment if s.comment else ''}")


def _expire(args: argparse.Namespace) -> None:
    entries = _read(args.file)
    compiled = load_silences(args.file) if entries else ()
    now = datetime.now(UTC).isoformat()
    hits = [i for i, s in enumerate(compiled) if s.id == args.id]
    if not hits:
        raise ConfigError(f"no silence {args.id!r} in {args.file}")
    for i in hits:
        entries[i] = {**entries[i], "id": compiled[i].id, "ends_at": now}
    _write(args.file, entries)
    print(f"silence {args.id} expired")


def _open(path: Path) -> Outbox:
    if not path.is_file():
        raise ConfigError(f"no outbox at {path}")
    return Outbox(path)


def _status(outbox: Outbox) -> None:
    counts = outbox.counts()
    if not counts:
        print("the outbox is empty")
    for (receiver, state), n in sorted(counts.items()):
        print(f"{receiver:20} {state:10} {n}")
    for dead in outbox.dead_letters():
        print(f"dead: {dead['notification_id']} -> {dead['receiver']} after "
              f"{dead['attempts']} attempt(s): {dead['error']}", file=sys.stdout)
