"""registry_site/request_body.py: an upload's body is read from gunicorn's socket, with gunicorn's accounting kept."""

import hashlib
import http.client
import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader

from artifacts.models import ArtifactFile, blob_key
from registry_site.request_body import body_stream
from tests.test_faults import CONTENT, upload_url
from tests.test_s3_storage import free_port
from tests.webhooks import database_url

PREFIX = b"received with the headers;"
NEXT = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"


class CountingUnreader(SocketUnreader):
    """gunicorn's own socket reader, counting the reads it makes."""

    reads = 0

    def chunk(self, size_hint=None):
        self.reads += 1
        return super().chunk(size_hint)


@pytest.fixture
def connected():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    yield client, server
    client.close()
    server.close()


def _request_over(server: socket.socket, body_length: int, *, buffered: bytes):
    """A request whose body gunicorn is about to read from `server`, `buffered` received with its headers."""
    unreader = CountingUnreader(server)
    unreader.unread(buffered)
    body = Body(LengthReader(unreader, body_length))
    request = RequestFactory().put("/files/upload/x", content_type="application/octet-stream")
    request.META["wsgi.input"] = body
    return request, body, unreader


def test_the_body_is_read_from_the_socket_and_gunicorn_knows_where_the_next_request_starts(connected):
    client, server = connected
    rest = os.urandom(3 * 1024 * 1024 + 5)
    request, body, unreader = _request_over(server, len(PREFIX) + len(rest), buffered=PREFIX)
    client.sendall(rest + NEXT)

    stream = body_stream(request)
    assert stream is not request
    chunks = []
    while chunk := stream.read(1024 * 1024):
        assert isinstance(chunk, bytes)
        chunks.append(chunk)
    assert b"".join(chunks) == PREFIX + rest
    assert chunks[0] == PREFIX  # what gunicorn had received already comes first, through its own reader
    assert unreader.reads == 0, "gunicorn's reader received part of the body"
    assert body.reader.length == 0 and stream.read(10) == b"" and not body.failed
    # The next request on the connection is where gunicorn will look for it.
    assert unreader.read(len(NEXT)) == NEXT


def test_a_client_that_goes_away_leaves_a_short_body(connected):
    client, server = connected
    request, body, _ = _request_over(server, 10_000, buffered=b"")
    client.sendall(b"x" * 1000)
    client.close()
    stream = body_stream(request)
    assert stream.read(10_000) == b"x" * 1000
    assert stream.read(10_000) == b""


def test_a_failed_read_marks_the_body_failed_so_gunicorn_closes_the_connection(connected):
    _, server = connected
    request, body, _ = _request_over(server, 10_000, buffered=b"")
    server.settimeout(0.05)
    with pytest.raises(TimeoutError):
        body_stream(request).read(10_000)
    assert body.failed


def test_anything_else_is_read_as_the_request(connected):
    assert body_stream(RequestFactory().put("/x", data=b"abc", content_type="text/plain")).read() == b"abc"

    client, server = connected
    request, body, _ = _request_over(server, 10, buffered=b"0123456789")
    body.read(3)  # part of the body read through gunicorn already
    assert body_stream(request) is request


@pytest.mark.django_db(transaction=True)
def test_an_upload_through_gunicorn_is_stored_and_the_connection_serves_the_next_request(
    client, team, project, tmp_path
):
    url = urlsplit(upload_url(client, team, project))
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "DATA_DIR": str(tmp_path), "PORT": str(port)}
    env |= {"MANIFEST_STATIC": "false", "TASK_WORKERS": "0", "SECRET_KEY": django_settings.SECRET_KEY}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "registry_site/gunicorn_conf.py", "registry_site.wsgi"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("PUT", url.path, body=CONTENT, headers={"Content-Type": "application/octet-stream"})
        answer = conn.getresponse()
        assert (answer.status, answer.read()) == (200, b"")
        # Same connection: gunicorn reads the next request where the body ended.
        conn.request("PUT", url.path, body=CONTENT, headers={"Content-Type": "application/octet-stream"})
        again = conn.getresponse()
        assert again.status == 200, again.read()
        conn.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    stored = ArtifactFile.objects.select_related("blob").get(path="model.pt")
    assert stored.blob.sha256 == hashlib.sha256(CONTENT).hexdigest() and stored.blob.size == len(CONTENT)
    assert (tmp_path / "files" / blob_key(stored.blob.sha256)).read_bytes() == CONTENT
