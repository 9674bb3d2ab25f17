"""Breach thresholds from Prometheus alerting rules (``prediction.alert_rules`` files).

Only an alert whose ``expr`` is a plain comparison of one series selector with a number
can be a threshold: ``metric{label="v", other=~"re.*"} > 0.9`` (or ``>=``, ``<``, ``<=``;
the number may come first). Anything else (functions, arithmetic, ``and``/``or``, ``!=``
matchers, ``==``) has no single level to forecast against, and is refused with the file,
the alert and the reason. ``>=`` is read as ``above`` (a forecast never lands exactly on
the level). Recording rules are skipped.

>>> threshold_of('disk_used_ratio{host="a", mount=~"/data.*"} > 0.9', "DiskFull")
{'match': {'__name__': 'disk_used_ratio', 'host': 'a', 'mount': '=~/data.*'}, 'above': 0.9, \
'name': 'DiskFull'}
>>> threshold_of("0.2 > free_ratio", "LowFree")["below"]
0.2
"""

import re
from pathlib import Path
from typing import Any

import yaml
from alertflow.schemas.errors import AlertflowError

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|Inf|NaN)"
_SELECTOR = rf"(?P<name>{_NAME})?\s*(?:\{{(?P<matchers>[^{{}}]*)\}})?"
_OP = r"(?P<op>>=|<=|>|<)"
_LEFT = re.compile(rf"^\s*{_SELECTOR}\s*{_OP}\s*(?P<number>{_NUMBER})\s*$")
_RIGHT = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*{_OP}\s*{_SELECTOR}\s*$")
_MATCHER = re.compile(
    r'\s*(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*'
    r'(?P<value>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`)\s*(?:,|$)'
)
_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">="}
_SHAPE = "only `metric{label=\"value\"} > number` comparisons (>, >=, <, <=) can be thresholds"


class AlertRuleError(AlertflowError):
    """An alerting rule cannot become a breach threshold, or its file is unreadable."""


def threshold_of(expr: str, alert: str) -> dict[str, Any]:
    """The threshold (as config data) for one alert's ``expr``; AlertRuleError if none."""
    m = _LEFT.match(expr)
    op = m["op"] if m else None
    if m is None:
        m = _RIGHT.match(expr)
        op = _FLIP[m["op"]] if m else None
    if m is None or op is None:
        raise AlertRuleError(f"{_SHAPE}; found {expr.strip()!r}")
    match = _matchers(m["matchers"] or "")
    if m["name"]:
        if "__name__" in match:
            raise AlertRuleError(f"{expr.strip()!r}: the metric name is given twice")
        match = {"__name__": m["name"], **match}
    if not match:
        raise AlertRuleError(f"{expr.strip()!r}: no metric name or label to select series by")
    level = float(m["number"])
    if level != level or level in (float("inf"), float("-inf")):
        raise AlertRuleError(f"{expr.strip()!r}: the level must be a finite number")
    side = "above" if op in (">", ">=") else "below"
    return {"match": match, side: level, "name": alert}


def _matchers(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(text.strip()) and text[pos:].strip():
        m = _MATCHER.match(text, pos)
        if m is None:
            raise AlertRuleError(f"cannot read the label matchers {{{text}}}: {_SHAPE}")
        if m["op"] in ("!=", "!~"):
            raise AlertRuleError(
                f"{m['label']}{m['op']}...: negative matchers cannot select a threshold's series"
            )
        raw = m["value"]
        value = raw[1:-1] if raw[0] == "`" else re.sub(r"\\(.)", r"\1", raw[1:-1])
        if m["op"] == "=~":
            try:
                re.compile(value)
            except re.error as exc:
                message = f"{m['label']}=~{raw}: bad regular expression: {exc}"
                raise AlertRuleError(message) from None
        out[m["label"]] = f"=~{value}" if m["op"] == "=~" else value
        pos = m.end()
    return out


def thresholds_from_rules(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Every alert of a rules file as threshold data, and why the others were skipped.

    A real rules file mixes plain comparisons with ``rate(...)``, arithmetic and joins:
    those have no single level to forecast against, so they are skipped with the reason
    (the caller warns). A file that cannot be read, has the wrong shape, an alert without
    ``expr`` or no usable alert at all raises AlertRuleError.
    """
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise AlertRuleError(f"cannot read alert rules {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise AlertRuleError(f"alert rules {path} are not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise AlertRuleError(f"alert rules {path}: expected `groups:`, a list of rule groups")
    out, skipped = [], []
    for group in doc["groups"]:
        name = group.get("name", "?") if isinstance(group, dict) else "?"
        rules = group.get("rules") if isinstance(group, dict) else None
        if not isinstance(rules, list):
            raise AlertRuleError(f"alert rules {path}: group {name!r} has no `rules:` list")
        for rule in rules:
            if not isinstance(rule, dict) or "alert" not in rule:
                continue  # a recording rule: nothing to breach
            where = f"alert rules {path}: group {name!r}, alert {rule['alert']!r}"
            expr = rule.get("expr")
            if not isinstance(expr, str | int | float):
                raise AlertRuleError(f"{where}: `expr` is missing")
            try:
                out.append(threshold_of(str(expr), str(rule["alert"])))
            except AlertRuleError as exc:
                skipped.append(f"{where}: {exc}")
    if not out:
        reasons = "".join(f"\n  {reason}" for reason in skipped)
        raise AlertRuleError(f"alert rules {path}: no alert can be a threshold{reasons}")
    return out, skipped
