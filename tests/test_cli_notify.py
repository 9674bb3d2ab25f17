"""``alertflow silence`` and ``alertflow notify`` from a shell."""

import subprocess
import sys
from datetime import UTC, datetime

from alertflow.dataflows.notify_outbox import Delivery, Outbox
from alertflow.operators.delivery.silences import load_silences


def _af(*args):
    return subprocess.run([sys.executable, "-m", "alertflow.dataflows.cli", *args],
                          capture_output=True, text=True, timeout=60)


def test_add_list_and_expire_a_silence(tmp_path):
    path = tmp_path / "silences.json"
    added = _af("silence", "add", "service=api", "severity!=info", "--for", "30m", "--by", "ana",
                "--comment", "deploy", "--file", str(path))
    assert added.returncode == 0, added.stderr
    sid = added.stdout.split()[1]
    (silence,) = load_silences(path)
    assert silence.id == sid and silence.created_by == "ana"
    assert 1790 < (silence.ends_at - silence.starts_at).total_seconds() <= 1800
    listed = _af("silence", "list", "--file", str(path))
    assert sid in listed.stdout and "active" in listed.stdout and "# deploy" in listed.stdout
    assert _af("silence", "expire", sid, "--file", str(path)).returncode == 0
    (expired,) = load_silences(path)
    assert expired.id == sid and expired.ends_at <= datetime.now(UTC)
    assert "no silences" in _af("silence", "list", "--file", str(path)).stdout


def test_silence_mistakes_are_one_line(tmp_path):
    path = tmp_path / "s.json"
    for args, needle in ((["add", "x=~(", "--file", str(path)], "bad regex"),
                         (["add", "x=1", "--for", "2x", "--file", str(path)], "--for '2x'"),
                         (["expire", "nope", "--file", str(path)], "no silence 'nope'")):
        done = _af("silence", *args)
        assert done.returncode == 2 and needle in done.stderr and "Traceback" not in done.stderr
    path.write_text("{not json")
    done = _af("silence", "list", "--file", str(path))
    assert done.returncode == 2 and "is not valid" in done.stderr


def test_notify_status_and_retry_dead(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite")
    outbox.add([Delivery("k1", "n1", "pager", "http://x", b"{}", {}, 1.0, 0),
                Delivery("k2", "n2", "pager", "http://x", b"{}", {}, 1.0, 0)])
    outbox.dead("k2", "rejected with HTTP 400: bad key")
    outbox.close()
    status = _af("notify", "status", str(tmp_path / "o.sqlite"))
    assert "pending" in status.stdout and "dead" in status.stdout
    assert "n2 -> pager after 1 attempt(s): rejected with HTTP 400" in status.stdout
    retried = _af("notify", "retry-dead", str(tmp_path / "o.sqlite"))
    assert retried.stdout.startswith("1 dead")
    assert Outbox(tmp_path / "o.sqlite").pending() == 2
    missing = _af("notify", "status", str(tmp_path / "none.sqlite"))
    assert missing.returncode == 2 and "no outbox" in missing.stderr
