"""Request bodies per receiver type: generic webhook, Slack, PagerDuty Events v2, Opsgenie.

``render`` returns the request to send (URL, body, headers) for one notification; the
notification's id is the idempotency key, so retries and replays carry the same key
(PagerDuty and Opsgenie also deduplicate by the incident id).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from alertflow.schemas.jsoncodec import dumps

_PD_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}
_OPSGENIE_PRIORITY = {"critical": "P1", "warning": "P3", "info": "P5"}


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP POST to a receiver."""

    url: str
    body: bytes
    headers: Mapping[str, str]


def render(kind: str, url: str, note: Mapping[str, Any], token: str | None) -> Request:
    """The request that tells a ``kind`` receiver at ``url`` about notification ``note``."""
    if kind == "slack":
        return Request(url, dumps(_slack(note)), {})
    if kind == "pagerduty":
        return Request(url, dumps(_pagerduty(note, token or "")), {})
    if kind == "opsgenie":
        return _opsgenie(url, note, token or "")
    return Request(url, dumps(dict(note)), {})


def _facts(note: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "incident_id": note["incident_id"],
        "incident_version": note["incident_version"],
        "severity": note["severity"],
        "services": note.get("services", []),
        "likely_cause": note.get("root_cause"),
        "domain": note.get("domain"),
        "at": note["ts"],
    }


def _slack(note: Mapping[str, Any]) -> dict[str, Any]:
    facts = _facts(note)
    fields = [
        {"type": "mrkdwn", "text": f"*Severity*\n{facts['severity']}"},
        {"type": "mrkdwn", "text": f"*Likely cause*\n{facts['likely_cause'] or 'unknown'}"},
        {"type": "mrkdwn", "text": f"*Services*\n{', '.join(facts['services']) or '-'}"},
        {"type": "mrkdwn", "text": f"*Incident*\n`{facts['incident_id']}`"},
    ]
    return {
        "text": note["title"],  # what notifications and screen readers show
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": note["title"][:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": note["text"][:3000]}},
            {"type": "section", "fields": fields},
            {"type": "context",
             "elements": [{"type": "mrkdwn", "text": f"alertflow · {facts['at']}"}]},
        ],
    }


def _pagerduty(note: Mapping[str, Any], routing_key: str) -> dict[str, Any]:
    facts = _facts(note)
    action = "resolve" if note["kind"] == "incident_resolved" else "trigger"
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": note["incident_id"],
    }
    if action == "trigger":
        event["payload"] = {
            "summary": note["title"][:1024],
            "source": facts["domain"] or "alertflow",
            "severity": _PD_SEVERITY.get(note["severity"], "warning"),
            "timestamp": note["ts"],
            "component": facts["likely_cause"],
            "group": facts["domain"],
            "custom_details": {**facts, "text": note["text"]},
        }
    return event


def _opsgenie(url: str, note: Mapping[str, Any], api_key: str) -> Request:
    headers = {"Authorization": f"GenieKey {api_key}"}
    alias = note["incident_id"]
    if note["kind"] == "incident_resolved":
        close = f"{url.rstrip('/')}/{quote(alias, safe='')}/close?identifierType=alias"
        return Request(close, dumps({"source": "alertflow", "note": note["text"][:25000]}),
                       headers)
    body = {
        "message": note["title"][:130],
        "alias": alias,
        "description": note["text"][:15000],
        "priority": _OPSGENIE_PRIORITY.get(note["severity"], "P3"),
        "tags": list(note.get("services", []))[:20],
        "details": {k: str(v) for k, v in _facts(note).items() if v is not None},
        "source": "alertflow",
    }
    return Request(url, dumps(body), headers)
