"""Real-looking text that leaves the flow: what must go, and what must stay.

Each case is ``(text, secrets, keep)``: after redaction none of ``secrets`` may
remain and every one of ``keep`` must. Shapes follow what reaches alertflow: log
lines, Alertmanager annotations, label values, series keys, dead-lettered JSON. Keys
and tokens are the documented example values of their vendors, or made up.
"""

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
GOOGLE = "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7Vb3\n-----END RSA PRIVATE KEY-----"

CASES: list[tuple[str, list[str], list[str]]] = [
    ("user alice.smith@example.com failed login from 203.0.113.45",
     ["alice.smith@example.com", "203.0.113.45"], ["failed login from"]),
    ("Disk almost full on db-1 (10.2.3.4); page oncall+db@corp.example.org",
     ["10.2.3.4", "oncall+db@corp.example.org"], ["Disk almost full on db-1"]),
    ("10.40.0.5:9090", ["10.40.0.5"], [":9090"]),
    ('http_requests_total{instance="192.168.1.20:8080",job="api"}',
     ["192.168.1.20"], ['job="api"', "http_requests_total"]),
    (f"upstream call with Authorization: Bearer {JWT} rejected",
     [JWT, "dozjgNryP4J3jVmNHl0w5N"], ["rejected"]),
    (f"token in query string: ?access={JWT}", [JWT], ["token in query string"]),
    ("boto: aws_access_key_id=AKIAIOSFODNN7EXAMPLE region=eu-west-1",
     ["AKIAIOSFODNN7EXAMPLE"], ["region=eu-west-1"]),
    ("GET /api/v1/orders?user_id=84721&token=9f8e7d6c5b4a&page=2 500",
     ["84721", "9f8e7d6c5b4a"], ["page=2 500", "/api/v1/orders"]),
    ("connecting with password=hunter2 db=orders", ["hunter2"], ["db=orders"]),
    (f"git clone https://{GITHUB}@github.com/acme/shop.git", [GITHUB], ["acme/shop.git"]),
    ("slack notify failed, token xoxb-2048-9a8b7c6d5e-f1g2h3", ["xoxb-2048-9a8b7c6d5e-f1g2h3"],
     ["slack notify failed"]),
    ("peer 2001:db8::8a2e:370:7334 reset the connection", ["2001:db8::8a2e:370:7334"],
     ["reset the connection"]),
    (f"loaded key {PEM} from env", ["MIIEowIBAAKCAQEA7Vb3"], ["from env"]),
    ('{"level":"error","msg":"payment failed","customer_id":"C-99812","amount":12.5}',
     ["C-99812"], ['"msg":"payment failed"', '"amount":12.5']),
    ("username: jdoe logged out", ["jdoe"], ["logged out"]),
    (f"maps quota exceeded for key={GOOGLE}", [GOOGLE], ["maps quota exceeded"]),
    ("openai call with sk-proj-T3BlbkFJabcdefghijklmnop failed", ["T3BlbkFJabcdefghijklmnop"],
     ["failed"]),
    ("mailto:bob@example.org?subject=outage", ["bob@example.org"], ["subject=outage"]),
    ("X-Api-Key: 12345abcdef6789 sent by client", ["12345abcdef6789"], ["sent by client"]),
    ("session_id=abc123def456; Path=/", ["abc123def456"], ["Path=/"]),
    ("DB_PASSWORD='s3cr3t!' in config", ["s3cr3t!"], ["in config"]),
    ("login=maria.g from ::ffff:198.51.100.7", ["maria.g", "198.51.100.7"], ["from"]),
    ("Basic dXNlcjpwYXNzd29yZA== sent to proxy", ["dXNlcjpwYXNzd29yZA=="], ["sent to proxy"]),
    # Nothing personal: must come out unchanged.
    ("p99 latency 1.25s over 0.5s since 10:00:00 on 2026-11-25T10:00:00Z", [],
     ["p99 latency 1.25s over 0.5s since 10:00:00 on 2026-11-25T10:00:00Z"]),
    ("pod api-7d9f8c-x2k restarted 3 times, image shop/api:v1.2.3", [],
     ["pod api-7d9f8c-x2k restarted 3 times, image shop/api:v1.2.3"]),
    ("error rate 5.2% > 1% for 10m on service checkout", [],
     ["error rate 5.2% > 1% for 10m on service checkout"]),
    ('node_cpu_seconds_total{cpu="0",mode="idle"}', [], ['node_cpu_seconds_total{cpu="0",mode="idle"}']),
    ("trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7", [],
     ["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"]),
]  # fmt: skip
