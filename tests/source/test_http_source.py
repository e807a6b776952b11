"""ADD downloads: a body shorter than its Content-Length is rejected."""

import socket
import threading

import pytest

from minikit.errors import HTTPSourceError
from minikit.session.secrets import SecretStore
from minikit.source.http import HTTPSource


def _serve_once(response: bytes) -> tuple[int, threading.Thread]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer() -> None:
        connection, _ = server.accept()
        connection.recv(65536)
        connection.sendall(response)
        connection.close()
        server.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return server.getsockname()[1], thread


def test_truncated_download_rejected(tmp_path):
    port, thread = _serve_once(b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nshort")
    source = HTTPSource(SecretStore(), tmp_path)
    with pytest.raises(HTTPSourceError, match="received 5 of 100 bytes"):
        source.download(f"http://127.0.0.1:{port}/file")
    thread.join(timeout=5)


def test_complete_download_kept(tmp_path):
    port, thread = _serve_once(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nwhole")
    download = HTTPSource(SecretStore(), tmp_path).download(f"http://127.0.0.1:{port}/file")
    thread.join(timeout=5)
    assert download.path.read_bytes() == b"whole"
    assert download.filename == "file"
