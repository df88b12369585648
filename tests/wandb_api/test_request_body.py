"""registry_site/request_body.py: an upload's body is read from gunicorn's socket, with gunicorn's accounting kept."""

import hashlib
import http.client
import os
import socket
from urllib.parse import urlsplit

import pytest
from django.test import RequestFactory
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader

from artifacts.models import ArtifactFile, blob_key
from registry_site.request_body import body_stream
from tests.test_faults import CONTENT, upload_url

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


def test_an_upload_through_gunicorn_is_stored_and_the_connection_serves_the_next_request(
    client, team, project, gunicorn_url, settings
):
    url = urlsplit(upload_url(client, team, project))
    conn = http.client.HTTPConnection(urlsplit(gunicorn_url).hostname, urlsplit(gunicorn_url).port, timeout=60)
    conn.request("PUT", url.path, body=CONTENT, headers={"Content-Type": "application/octet-stream"})
    answer = conn.getresponse()
    assert (answer.status, answer.read()) == (200, b"")
    # Same connection: gunicorn reads the next request where the body ended.
    conn.request("PUT", url.path, body=CONTENT, headers={"Content-Type": "application/octet-stream"})
    again = conn.getresponse()
    assert again.status == 200, again.read()
    conn.close()
    stored = ArtifactFile.objects.select_related("blob").get(path="model.pt")
    assert stored.blob.sha256 == hashlib.sha256(CONTENT).hexdigest() and stored.blob.size == len(CONTENT)
    assert (settings.DATA_DIR / "files" / blob_key(stored.blob.sha256)).read_bytes() == CONTENT
