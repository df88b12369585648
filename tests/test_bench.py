"""The benchmark harness (bench/, `make bench`) at a tiny scale: its data is what the services would write, and
its measuring pieces return sane numbers. No timing is asserted."""

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from artifacts.models import Artifact, ArtifactAlias, ArtifactFile, ArtifactVersion
from artifacts.storage import manifest_digest
from bench import flow, measure, populate, stub
from registry.models import Link, LinkAlias, RegisteredModel


@pytest.mark.django_db
def test_bulk_data_is_numbered_and_counted_as_the_services_would_write_it():
    out = populate.populate(models=12, api_sources=3, concurrent_sources=4)

    assert out["counts"]["registered_models"] == 12 + 2
    assert out["counts"]["links"] == 12 + 11 * populate.LINKS_PER_MODEL
    assert out["counts"]["big_versions"] == 12
    big = Artifact.objects.get(name=populate.BIG_ARTIFACT)
    indexes = sorted(big.versions.values_list("index", flat=True))
    assert indexes == list(range(12)) and big.next_index == 12
    for artifact in Artifact.objects.all():
        assert artifact.num_versions == artifact.versions.filter(state="COMMITTED").count()
    assert ArtifactAlias.objects.get(artifact=big, name="latest").version.index == 11
    assert ArtifactFile.objects.filter(version__artifact=big).count() == 12
    assert all(v.is_committed for v in ArtifactVersion.objects.all())
    for rm in RegisteredModel.objects.all():
        links = sorted(Link.objects.filter(registered_model=rm).values_list("index", flat=True))
        assert links == list(range(rm.next_index)) and rm.num_versions == len(links)
        latest = LinkAlias.objects.filter(registered_model=rm, name="latest")
        assert [a.link.index for a in latest] == ([rm.next_index - 1] if links else [])
    assert populate.check(populate.BIG_MODEL) == {"indexes": list(range(12)), "next_index": 12, "latest": 11}
    assert len(out["api_sources"]) == 3 and len(out["concurrent_sources"]) == 4
    assert RegisteredModel.objects.get(name=populate.CONCURRENT_MODEL).next_index == 0
    assert out["api_key"] and out["cookie"].startswith("sessionid=")


def test_the_replay_computes_digests_as_the_sdk_and_the_server_do():
    files = {flow.FILE: flow.b64md5(flow.content(7))}
    assert flow.manifest_digest(files) == manifest_digest(files)
    assert len(flow.content(1)) == len(flow.content(99_999_999)) and flow.content(1) != flow.content(2)
    mapping: dict[str, str] = {}
    flow._diff(
        {"a": {"id": "QXJ0aWZhY3Q6MQ==", "n": 1}, "b": ["same-value"]},
        {"a": {"id": "QXJ0aWZhY3Q6Mg==", "n": 2}, "b": ["same-value"]},
        mapping,
    )
    assert mapping == {"QXJ0aWZhY3Q6MQ==": "QXJ0aWZhY3Q6Mg=="}
    assert flow._substitute('{"artifactID": "QXJ0aWZhY3Q6MQ=="}', mapping) == '{"artifactID": "QXJ0aWZhY3Q6Mg=="}'


def test_the_stub_answers_recorded_responses_and_drains_bodies(monkeypatch):
    recorded = (201, [("Content-Type", "text/plain"), ("Content-Length", "2")], b"hi")
    monkeypatch.setattr(stub, "_RESPONSES", [recorded])
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, headers

    environ = {"wsgi.input": io.BytesIO(b"x" * 3_000_000), "HTTP_X_BENCH_SEQ": "0"}
    assert stub.application(environ, start_response) == [b"hi"]
    assert seen["status"] == "201 Created" and environ["wsgi.input"].read() == b""
    assert stub.application({"wsgi.input": io.BytesIO(b"")}, start_response) == [b'{"data": {}}']
    assert json.loads(stub.CANNED[2]) == {"data": {}}


def test_measuring_pieces_return_sane_numbers(tmp_path):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        timed = measure.time_get(server.server_address[1], "/", {}, n=5, warmup=1)
        port = server.server_address[1]
        pair = measure.time_get_pair([(port, "/", {}), (port, "/other", {})], n=4, warmup=1)
        both = measure.run_concurrently(
            3, lambda i: [measure.Http(server.server_address[1]).request("GET", "/")[3] for _ in range(2)]
        )
    finally:
        server.shutdown()
    assert timed["n"] == 5 and 0 < timed["median"] <= timed["p95"] < 10 and timed["bytes"] == 5
    assert [p["n"] for p in pair] == [4, 4] and all(p["bytes"] == 5 and p["median"] > 0 for p in pair)
    assert len(both["latencies"]) == 6 and not both["errors"] and both["wall"] > 0

    src = tmp_path / "f.bin"
    measure.make_file(src, 2 * measure.MiB)
    rate, digest = measure.hash_rate(src, "md5", repeat=1)
    assert rate > 0 and base64.b64decode(digest) and digest == flow.b64md5(src.read_bytes())
    assert measure.dd_rate(src, tmp_path / "copy", repeat=1) > 0 and not (tmp_path / "copy").exists()
    s = measure.stats([3.0, 1.0, 2.0, 10.0])
    assert s["median"] == 2.5 and s["p95"] == 10.0 and s["n"] == 4
