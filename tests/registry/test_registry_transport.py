"""The HTTP transport against scripted loopback servers: what it sends, and its errors."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from minikit.registry.transport import RetryPolicy, Timeouts, Transport, TransportError


class ScriptedServer:
    """Accepts connections on 127.0.0.1 and sends each one ``reply(request_head)``."""

    def __init__(self, reply: Callable[[bytes], bytes | None]) -> None:
        self.reply = reply
        self.heads: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                self.heads.append(head)
                answer = self.reply(head)
                if answer:
                    conn.sendall(answer)

    def close(self) -> None:
        # Closing the socket alone leaves the thread able to call accept on
        # the same descriptor number after another socket of this process
        # reuses it, and reply to connections meant for that socket. shutdown
        # wakes a blocked accept, and the join waits for the thread to end.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[bytes], bytes | None]], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(reply: Callable[[bytes], bytes | None]) -> ScriptedServer:
        server = ScriptedServer(reply)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _transport() -> Transport:
    return Transport(Timeouts(connect=5, read=5), RetryPolicy(attempts=1))


def test_request_identity_encoding(serve) -> None:
    server = serve(lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    with _transport().request("GET", f"http://127.0.0.1:{server.port}/v2/") as response:
        assert response.read(100) == b"ok"
    head = server.heads[0].lower()
    assert b"accept-encoding: identity\r\n" in head
    assert f"host: 127.0.0.1:{server.port}\r\n".encode() in head


def test_close_without_answer(serve) -> None:
    server = serve(lambda head: None)
    with pytest.raises(TransportError) as caught:
        _transport().request("GET", f"http://127.0.0.1:{server.port}/v2/")
    assert caught.value.reason == "the server closed the connection without an answer"


def test_body_cut_short(serve) -> None:
    server = serve(lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
    with _transport().request("GET", f"http://127.0.0.1:{server.port}/blob") as response:
        with pytest.raises(TransportError) as caught:
            response.read(1000)
    assert caught.value.reason == "the connection closed before the whole body arrived"
    assert caught.value.retryable


def test_body_framed_by_close(serve) -> None:
    server = serve(lambda head: b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end")
    with _transport().request("GET", f"http://127.0.0.1:{server.port}/blob") as response:
        assert response.read(1000) == b"to the end"


def test_repeated_headers_keep_their_order(serve) -> None:
    server = serve(
        lambda head: b"HTTP/1.1 401 Unauthorized\r\n"
        b'WWW-Authenticate: Bearer realm="a"\r\n'
        b'www-authenticate: Basic realm="b"\r\n'
        b"Content-Length: 0\r\n\r\n"
    )
    with _transport().request("GET", f"http://127.0.0.1:{server.port}/v2/") as response:
        assert response.status == 401
        assert response.header_values("WWW-Authenticate") == ['Bearer realm="a"', 'Basic realm="b"']
        assert response.header("Www-Authenticate") == 'Bearer realm="a"'


def test_invalid_header_hides_value(serve) -> None:
    server = serve(lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    headers = {"Authorization": "Bearer s3cr3t-token\nInjected: 1"}
    with pytest.raises(TransportError) as caught:
        _transport().request("GET", f"http://127.0.0.1:{server.port}/v2/", headers=headers)
    assert "invalid HTTP request" in caught.value.reason
    assert "s3cr3t-token" not in str(caught.value)
