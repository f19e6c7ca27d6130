"""The HTTP API through a real ``boundary-nlp serve`` process on a free local port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi", reason="the [serve] extra is not installed")
pytest.importorskip("uvicorn", reason="the [serve] extra is not installed")
httpx = pytest.importorskip("httpx", reason="the [serve-test] extra is not installed")

from boundary_nlp import analyze, default_model  # noqa: E402
from boundary_nlp.ledger import FavorLedger  # noqa: E402
from boundary_nlp.serve import is_loopback  # noqa: E402

try:
    from ._server import Server, serve_command
except ImportError:  # tests/ is not a package
    from _server import Server, serve_command

TOKEN = "test-token-0123456789abcdef"
MAX_ITEMS = 10
MAX_TEXT_CHARS = 500
MAX_BODY_BYTES = 64 * 1024
LIMITS = (
    "--max-items", str(MAX_ITEMS),
    "--max-text-chars", str(MAX_TEXT_CHARS),
    "--max-body-bytes", str(MAX_BODY_BYTES),
)  # fmt: skip


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def server(tmp_path_factory, client):
    folder = tmp_path_factory.mktemp("serve")
    with Server("--ledger", str(folder / "ledger.sqlite3"), *LIMITS, log=folder / "server.log") as running:
        yield running.wait(client)


@pytest.fixture(scope="module")
def token_server(tmp_path_factory, client):
    folder = tmp_path_factory.mktemp("serve-token")
    ledger = folder / "ledger.sqlite3"
    with Server(
        "--ledger", str(ledger), log=folder / "server.log", env={"BOUNDARY_NLP_TOKEN": TOKEN}
    ) as running:
        running.ledger = ledger
        yield running.wait(client)


def post(client, server, path: str, body, **headers: str):
    return client.post(server.url + path, json=body, headers=headers)


def assert_error(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in response.text
    for word in words:
        assert word in body["error"], body["error"]
    return body


def library(text: str) -> dict:
    """What the library says about ``text``, as JSON would carry it."""
    return json.loads(json.dumps(default_model().classify(text).to_dict()))


# --- classify and analyze --------------------------------------------------------------------


def test_classify_one_text_answers_courtesy_like_the_readme_example(client, server):
    response = post(client, server, "/v1/classify", {"text": "开完会顺便帮我取个快递"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] == "courtesy"
    assert body["label_zh"] == "人情帮忙"
    assert set(body) >= {"confidence", "probabilities", "uncertain", "evidence", "advice"}
    assert body["advice"]["reply"]


def test_classify_answers_exactly_what_the_library_answers(client, server):
    text = "麻烦把验收报告的日期改成上个月的"
    assert post(client, server, "/v1/classify", {"text": text}).json() == library(text)


def test_classify_a_list_keeps_order_and_matches_the_library(client, server):
    texts = ["周报呢？", "帮我带杯咖啡", "麻烦把验收报告的日期改成上个月的"]
    response = post(client, server, "/v1/classify", {"texts": texts})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["label"] for r in results] == ["in_scope", "courtesy", "prohibited"]
    assert results == [library(text) for text in texts]


def test_classify_threshold_decides_uncertain(client, server):
    body = post(client, server, "/v1/classify", {"text": "帮我带杯咖啡", "threshold": 1.0}).json()
    assert body["uncertain"] is True and body["threshold"] == 1.0


def test_analyze_splits_the_asks_and_the_most_serious_wins(client, server):
    message = "会议纪要发群里，另外帮我把考勤记录改一下"
    response = post(client, server, "/v1/analyze", {"text": message})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["parts"]) == 2
    assert body["overall"]["label"] == "prohibited"
    assert body == json.loads(json.dumps(analyze(message, model=default_model()).to_dict()))


def test_health_and_model_info(client, server):
    health = client.get(server.url + "/v1/health").json()
    assert health["status"] == "ok" and health["auth_required"] is False
    info = client.get(server.url + "/v1/model").json()
    assert info["labels"] == ["courtesy", "in_scope", "prohibited"]
    assert info["labels_zh"]["prohibited"] == "越界禁止"
    assert info["figures"]["test"]["macro_f1"] > 0.9


def test_openapi_schema_lists_the_v1_endpoints(client, server):
    schema = client.get(server.url + "/openapi.json").json()
    assert {"/v1/classify", "/v1/analyze", "/v1/ledger/record", "/v1/ledger/status", "/v1/health"} <= set(
        schema["paths"]
    )


def test_page_and_its_script_are_served_with_a_content_security_policy(client, server):
    page = client.get(server.url + "/")
    assert page.status_code == 200 and "客户请求判断" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get(server.url + "/static/app.js").status_code == 200
    assert client.get(server.url + "/static/../serve.py").status_code == 404


# --- errors: 4xx JSON that says what was wrong -------------------------------------------------


def test_bad_json_is_400(client, server):
    response = client.post(
        server.url + "/v1/classify", content=b'{"text": ', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "not valid JSON")


def test_wrong_types_name_the_field(client, server):
    assert_error(post(client, server, "/v1/classify", {"text": 5}), 422, "text")
    assert_error(post(client, server, "/v1/classify", {"texts": ["周报呢？", None]}), 422, "texts[1]")
    assert_error(post(client, server, "/v1/classify", {"texts": "周报呢？"}), 422, "texts")
    assert_error(post(client, server, "/v1/classify", {"text": "周报", "threshold": "0.5"}), 422, "threshold")
    assert_error(post(client, server, "/v1/classify", ["周报呢？"]), 422)
    assert_error(post(client, server, "/v1/classify", {"txt": "周报呢？"}), 422, "txt")


def test_text_and_texts_together_or_neither_is_refused(client, server):
    assert_error(post(client, server, "/v1/classify", {"text": "a", "texts": ["b"]}), 422, "either")
    assert_error(post(client, server, "/v1/classify", {}), 422, "either")


def test_empty_text_is_refused(client, server):
    assert_error(post(client, server, "/v1/classify", {"text": "  "}), 422, "text is empty")
    assert_error(post(client, server, "/v1/classify", {"texts": ["周报呢？", ""]}), 422, "texts[1] is empty")
    assert_error(post(client, server, "/v1/classify", {"texts": []}), 422, "empty list")
    assert_error(post(client, server, "/v1/analyze", {"text": ""}), 422, "empty")


def test_oversize_text_is_refused_with_the_limit(client, server):
    response = post(client, server, "/v1/classify", {"text": "帮" * (MAX_TEXT_CHARS + 1)})
    assert_error(response, 413, str(MAX_TEXT_CHARS))
    post_ok = post(client, server, "/v1/classify", {"text": "帮" * MAX_TEXT_CHARS})
    assert post_ok.status_code == 200


def test_too_many_items_is_refused_with_the_limit(client, server):
    response = post(client, server, "/v1/classify", {"texts": ["周报呢？"] * (MAX_ITEMS + 1)})
    assert_error(response, 413, f"limit is {MAX_ITEMS}")


def test_oversize_body_is_refused_before_parsing(client, server):
    body = json.dumps({"texts": ["x" * 1000] * 100}).encode()
    assert len(body) > MAX_BODY_BYTES
    response = client.post(
        server.url + "/v1/classify", content=body, headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "body")


def test_a_body_that_is_not_json_is_415(client, server):
    response = client.post(server.url + "/v1/classify", data={"text": "周报呢？"})
    assert_error(response, 415, "application/json")


def test_unknown_endpoint_and_method_are_json_errors(client, server):
    assert_error(client.get(server.url + "/v1/nothing"), 404, "/v1/nothing")
    assert_error(client.get(server.url + "/v1/classify"), 405)


def test_without_a_token_only_loopback_host_names_are_answered(client, server):
    response = client.get(server.url + "/v1/health", headers={"host": "attacker.example"})
    assert_error(response, 403, "--token")
    for host in ("localhost", f"localhost:{server.port}", "127.0.0.2:80", f"[::1]:{server.port}"):
        assert client.get(server.url + "/v1/health", headers={"host": host}).status_code == 200, host


# --- the ledger ------------------------------------------------------------------------------


def test_ledger_record_status_and_history(client, server):
    for text in ("帮我取个快递", "帮我带杯咖啡", "顺路帮我寄个文件", "帮我买个早饭"):
        response = post(client, server, "/v1/ledger/record", {"client": "王经理", "text": text})
        assert response.status_code == 200, response.text
    body = response.json()
    assert body["latest"]["label"] == "courtesy"
    assert body["courtesy_count"] == 4 and body["over_limit"] is True
    status = client.get(server.url + "/v1/ledger/status", params={"client": "王经理"}).json()
    assert status["courtesy_count"] == 4 and status["over_limit"] is True
    history = client.get(server.url + "/v1/ledger/history", params={"client": "王经理", "last": 2}).json()
    assert history["total"] == 4
    assert [e["text"] for e in history["entries"]] == ["顺路帮我寄个文件", "帮我买个早饭"]


def test_ledger_errors(client, server):
    assert_error(
        post(client, server, "/v1/ledger/record", {"client": " ", "text": "帮我取个快递"}), 422, "client"
    )
    assert_error(post(client, server, "/v1/ledger/record", {"client": "王经理"}), 422, "text")
    assert_error(client.get(server.url + "/v1/ledger/status"), 422, "client")


def test_with_a_token_every_endpoint_but_health_needs_it(client, token_server):
    url = token_server.url
    assert client.get(url + "/v1/health").json()["auth_required"] is True
    record = {"client": "李总", "text": "帮我取个快递"}
    assert_error(client.post(url + "/v1/ledger/record", json=record), 401, "token")
    assert_error(client.get(url + "/v1/ledger/status", params={"client": "李总"}), 401, "token")
    assert_error(client.get(url + "/v1/ledger/history", params={"client": "李总"}), 401, "token")
    assert_error(client.post(url + "/v1/classify", json={"text": "周报呢？"}), 401, "token")
    wrong = {"authorization": "Bearer not-the-token-at-all"}
    assert_error(
        client.get(url + "/v1/ledger/status", params={"client": "李总"}, headers=wrong), 401, "wrong"
    )
    with FavorLedger(token_server.ledger) as book:
        assert book.history("李总") == []

    bearer = {"authorization": f"Bearer {TOKEN}"}
    assert client.post(url + "/v1/ledger/record", json=record, headers=bearer).status_code == 200
    header = {"x-api-token": TOKEN}
    status = client.get(url + "/v1/ledger/status", params={"client": "李总"}, headers=header)
    assert status.status_code == 200 and status.json()["courtesy_count"] == 1
    assert client.post(url + "/v1/classify", json={"text": "周报呢？"}, headers=header).status_code == 200


def test_two_workers_recording_into_one_ledger_lose_nothing(tmp_path, client):
    ledger = tmp_path / "ledger.sqlite3"
    clients, each = 8, 25
    with Server("--ledger", str(ledger), "--workers", "2", log=tmp_path / "server.log") as running:
        running.wait(client)

        def record(number: int) -> int:
            with httpx.Client(timeout=30) as own:  # a connection each, so both workers get requests
                codes = [
                    own.post(
                        running.url + "/v1/ledger/record",
                        json={"client": f"客户{number % 2}", "text": f"帮我取个快递 {number}-{i}"},
                    ).status_code
                    for i in range(each)
                ]
            return sum(code == 200 for code in codes)

        with ThreadPoolExecutor(clients) as pool:
            assert sum(pool.map(record, range(clients))) == clients * each
        pids = {line for line in running.output().splitlines() if "Started server process" in line}
    assert len(pids) == 2, running.output()
    with FavorLedger(ledger) as book:
        entries = book.history("客户0") + book.history("客户1")
    assert len(entries) == clients * each
    assert len({e.text for e in entries}) == clients * each


# --- starting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_a_non_loopback_host_without_a_token_refuses_to_start(host, tmp_path):
    result = subprocess.run(
        serve_command("--host", host, "--ledger", str(tmp_path / "l.sqlite3")),
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "BOUNDARY_NLP_TOKEN"},
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "not a loopback address" in lines[0] and "--token" in lines[0]


def test_a_short_token_refuses_to_start(tmp_path):
    result = subprocess.run(
        serve_command("--token", "short", "--ledger", str(tmp_path / "l.sqlite3")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "at least 16 characters" in result.stderr


def test_loopback_addresses():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert is_loopback("127.8.0.1") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("example.com")


def test_without_the_serve_extra_the_command_says_how_to_install_it(monkeypatch, capsys):
    from boundary_nlp import cli

    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "boundary_nlp.serve")
    assert cli.main(["serve"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "pip install 'boundary-nlp[serve]'" in error and "fastapi" in error
