"""``alertflow serve`` serves the console and keeps API-set silences where its flow reads them."""

import json

import httpx

from tests.api.servers import ServeProcess

TOKEN = "serve-console-token"


def test_serve_hands_the_console_and_a_silences_file_beside_the_store(tmp_path):
    serve = ServeProcess(f"sqlite:///{tmp_path / 'serve.db'}", TOKEN)
    try:
        serve.wait_healthy()
        page = httpx.get(serve.url + "/", timeout=30)
        assert page.status_code == 200 and "<h1>alertflow</h1>" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        script = httpx.get(serve.url + "/console/console.js", timeout=30)
        assert script.headers["content-type"].startswith("text/javascript")
        assert "/api/v1/silences" in script.text
        assert httpx.get(serve.url + "/console/console.py", timeout=30).status_code == 404
        auth = {"Authorization": f"Bearer {TOKEN}"}
        made = httpx.post(serve.url + "/api/v1/silences", headers=auth, timeout=30,
                          json={"matchers": ["service=checkout"], "comment": "deploy"})
        assert made.status_code == 201, made.text
        stored = json.loads((tmp_path / "alertflow-silences.json").read_text())
        assert [s["id"] for s in stored] == [made.json()["id"]]
    finally:
        code = serve.stop()
    assert code == 0, serve.output()
    assert "Traceback" not in serve.output()
