"""`town bench server` end to end against the loopback server sending deterministic llama.cpp timings
(0.5 ms per prompt token, 5 ms per generated token): the table and the JSON follow from them."""

from __future__ import annotations

import json

import pytest

from typer.testing import CliRunner

from agents.testing import FakeOpenAIServer
from town.app.cli import app as cli


DELAY = 0.5


def as_many_words_as_asked(body: dict) -> str:
    return " ".join(["word"] * body["max_tokens"])


def test_bench_server_reports_the_servers_own_throughput(tmp_path, monkeypatch):
    # each answer takes DELAY s: long enough that the third test's requests overlap on a loaded machine too
    with FakeOpenAIServer(as_many_words_as_asked, delay_s=DELAY, timings=(0.5, 5.0)) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("TOWN_MODEL", "test-model")
        res = CliRunner().invoke(cli, ["bench", "server", "--out", str(tmp_path / "b.json")])
    assert res.exit_code == 0, res.output
    figures = json.loads((tmp_path / "b.json").read_text())
    assert figures["machine"] and figures["server"]["model"] == "test-model"
    assert figures["server"]["embedded"] is False and figures["server"]["parallel"] == 4
    prompt, one, many, plan = figures["server"]["rows"]
    # 3 prompts, each a fresh first line: the fake's one-slot cache reuses none of them
    prompt_bodies = [b for b in srv.bodies if b["max_tokens"] == 1]
    words = sum(len(b["messages"][0]["content"].split()) for b in prompt_bodies)
    assert len(prompt_bodies) == 3 and 3 * 400 < words  # ~1,000 tokens each
    assert prompt["prompt tokens evaluated"] == words and prompt["prompt tok/s (server)"] == 2000.0
    assert prompt["gen tok/s per slot (server)"] is None  # one token per request: it comes with the prompt
    assert prompt["tokens generated"] == 3
    assert (one["requests"], one["tokens generated"], one["gen tok/s per slot (server)"]) == (3, 384, 200.0)
    assert (many["requests"], many["tokens generated"], many["gen tok/s per slot (server)"]) == (4, 512, 200.0)
    assert srv.max_in_flight == 4  # the third test's requests were in flight together
    # the JSON plan is asked under its response schema, which lists every address of the prompt
    plan_bodies = [b for b in srv.bodies if b.get("response_format")]
    assert len(plan_bodies) == 3 and plan["requests"] == 3 and plan["gen tok/s per slot (server)"] == 200.0
    enum = plan_bodies[0]["response_format"]["json_schema"]["schema"]["properties"]["tasks"]["items"]["properties"]
    assert all(address in plan_bodies[0]["messages"][0]["content"] for address in enum["address"]["enum"])
    assert all(row["draft accepted"] is None for row in (prompt, one, many, plan))  # no speculative decoding there
    for row in (prompt, one, many, plan):
        assert row["client wall s"] >= DELAY * (3 if row is not many else 1)
    assert many["tokens/s (client wall)"] == pytest.approx(512 / many["client wall s"], rel=0.01)
    assert prompt["tokens/s (client wall)"] == pytest.approx(words / prompt["client wall s"], rel=0.01)
    assert "model server throughput" in res.stdout and "town bench on" in res.stdout
    assert "2000.0" in res.stdout and "200.0" in res.stdout


def test_a_server_without_timings_shows_dashes_not_zeros(tmp_path, monkeypatch):
    with FakeOpenAIServer(as_many_words_as_asked) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("TOWN_MODEL", "test-model")
        res = CliRunner().invoke(cli, ["bench", "server", "--out", str(tmp_path / "b.json")])
    assert res.exit_code == 0, res.output
    rows = json.loads((tmp_path / "b.json").read_text())["server"]["rows"]
    assert all(r["prompt tok/s (server)"] is None and r["gen tok/s per slot (server)"] is None for r in rows)
    assert rows[1]["tokens generated"] == 384 and rows[1]["tokens/s (client wall)"] > 0


def test_an_endpoint_that_fails_is_one_line_and_exit_2(tmp_path, monkeypatch):
    with FakeOpenAIServer(as_many_words_as_asked, default="401") as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("TOWN_MODEL", "test-model")
        res = CliRunner().invoke(cli, ["bench", "server", "--out", str(tmp_path / "b.json")])
    assert res.exit_code == 2 and "bench server: http://127.0.0.1" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "b.json").exists()


def test_draft_acceptance_is_the_share_of_drafted_tokens_accepted():
    from town.app.bench_server import Sample, _row

    def sample(n, accepted):
        return Sample(1.0, 10, 20, 10, 5.0, 20, 100.0, n, accepted)

    assert _row("t", [sample(10, 8), sample(30, 12)], 2.0)["draft accepted"] == 0.5
    assert _row("t", [sample(10, 8), sample(None, None)], 2.0)["draft accepted"] is None  # one did not say
    assert _row("t", [sample(0, 0)], 1.0)["draft accepted"] is None  # nothing drafted: no share
