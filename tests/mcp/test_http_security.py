"""The HTTP security suite: a real ``serve --transport http`` process attacked over real sockets.

One server for the module, bound to every interface (``--host 0.0.0.0``, auth on) with short
limits in its ``skillz.yaml``, so each attack is seconds: auth variants, Origin, Host (DNS
rebinding, checked on a wildcard bind too), body size, slow headers, slow body, idle and
keep-alive clients, and more connections than the cap. What each defence promises is in
docs/security.md ("HTTP").
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx2
import pytest

from tests.mcp_helpers import write
from tests.served_process import ServerProcess, start_server

CONFIG = """http:
  headerTimeout: 1s
  bodyTimeout: 1s
  keepAliveTimeout: 1s
  maxConnections: 12
  allowedHosts: ["mcp.example.test"]
  allowedOrigins: ["https://app.example.test"]
"""
ECHO = """kind: command
description: Echo text back
inputSchema: {type: object, properties: {text: {type: string}}, required: [text]}
argv: ["echo", "{{ text }}"]
"""
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
SLACK = 2.5  # seconds a timer may take beyond its setting on a loaded CI machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("secure") / "tree"
    write(root / "skillz.yaml", CONFIG)
    write(root / "tools" / "echo" / "manifest.yaml", ECHO)
    srv = start_server(root, "--host", "0.0.0.0", "--no-watch", log=root.parent / "stderr.txt")
    try:
        yield srv
    finally:
        srv.stop()


def post(srv: ServerProcess, headers: dict[str, str], url: str | None = None) -> httpx2.Response:
    with httpx2.Client(timeout=10) as h:
        return h.post(url or srv.url, json=INIT, headers={**MCP_HEADERS, **headers})


def bearer(srv: ServerProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {srv.token}"}


def connect(srv: ServerProcess) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    return s


def closed_within(s: socket.socket, seconds: float) -> tuple[float, bytes]:
    """Read until the server closes ``s``; (seconds it took, what it sent). Fails past ``seconds``."""
    t0, got = time.monotonic(), b""
    s.settimeout(seconds)
    try:
        while chunk := s.recv(4096):
            got += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"still open after {seconds}s (received {got[:80]!r})")
    return time.monotonic() - t0, got


def health_ok(srv: ServerProcess) -> bool:
    try:
        with httpx2.Client(timeout=5) as h:
            return h.get(srv.base + "/health").status_code == 200
    except httpx2.HTTPError:
        return False


# --------------------------------------------------------------------------- who may call


def test_auth_variants_are_refused(server: ServerProcess) -> None:
    """No header, a wrong scheme, a wrong token, the token in the query string: all 401."""
    token = server.token
    refused = [
        {},
        {"Authorization": f"Basic {token}"},
        {"Authorization": f"Token {token}"},
        {"Authorization": token},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {token}x"},
        {"Authorization": "Bearer"},
    ]
    for headers in refused:
        r = post(server, headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "Bearer"
    for query in (f"?token={token}", f"?access_token={token}", f"?authorization=Bearer%20{token}"):
        assert post(server, {}, url=server.url + query).status_code == 401, query
    assert post(server, bearer(server)).status_code == 200


def test_origin_allowed_foreign_and_null(server: ServerProcess) -> None:
    """Loopback and configured origins pass; a foreign one and ``null`` get 403 even with the token."""
    for origin in ("http://localhost:5173", "https://app.example.test"):
        assert post(server, {**bearer(server), "Origin": origin}).status_code == 200, origin
    for origin in ("https://evil.test", "null", "http://localhost.evil.test"):
        assert post(server, {**bearer(server), "Origin": origin}).status_code == 403, origin


def test_host_is_checked_on_a_wildcard_bind(server: ServerProcess) -> None:
    """Bound to 0.0.0.0, ``Host`` must still be loopback or in http.allowedHosts (DNS rebinding: 421)."""
    for host in ("evil.test", f"evil.test:{server.port}", "0.0.0.0", "mcp.example.test.evil.test"):
        assert post(server, {**bearer(server), "Host": host}).status_code == 421, host
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", "mcp.example.test:8443"):
        assert post(server, {**bearer(server), "Host": host}).status_code == 200, host


def test_an_oversized_body_gets_413(server: ServerProcess) -> None:
    """A request body over the SDK's 4 MiB limit is refused before it is parsed."""
    with httpx2.Client(timeout=30) as h:
        big = b"[" + b"0," * (5 * 1024 * 1024 // 2) + b"0]"
        r = h.post(server.url, content=big, headers={**MCP_HEADERS, **bearer(server)})
    assert r.status_code == 413


def test_the_token_is_not_printed_to_a_captured_stderr(server: ServerProcess) -> None:
    """stderr is not a terminal here: the announcement names the token file, not the token."""
    text = server.stderr()
    assert "serving MCP at" in text
    assert server.token not in text and str(server.state / "agent-token") in text
    assert "Host must be one of" in text and "mcp.example.test" in text  # bound to 0.0.0.0


# --------------------------------------------------------------------------- slow and idle clients


def test_a_silent_connection_is_closed(server: ServerProcess) -> None:
    """A client that connects and sends nothing is cut after headerTimeout with a 408."""
    with connect(server) as s:
        took, got = closed_within(s, 1 + SLACK)
    assert took >= 0.8 and got.startswith(b"HTTP/1.1 408")


def test_slowloris_headers_are_cut_on_an_absolute_deadline(server: ServerProcess) -> None:
    """Trickling a header byte every 0.2 s does not extend headerTimeout."""
    with connect(server) as s:
        t0 = time.monotonic()
        request = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Slow: ".encode() + b"a" * 100
        try:
            for byte in request:
                s.sendall(bytes([byte]))
                time.sleep(0.2)
                if time.monotonic() - t0 > 1 + SLACK:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        _, got = closed_within(s, 1 + SLACK)
    assert time.monotonic() - t0 < 1 + SLACK + 0.5
    assert got.startswith(b"HTTP/1.1 408")


def test_a_stalled_body_is_cut(server: ServerProcess) -> None:
    """Headers promise 1000 bytes, 10 arrive, then nothing: closed after bodyTimeout."""
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {server.token}\r\n"
        "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    with connect(server) as s:
        s.sendall(head.encode() + b'{"jsonrpc"')
        took, _ = closed_within(s, 1 + SLACK)
    assert took >= 0.8


def test_a_pipelined_request_with_a_stalled_body_is_cut(server: ServerProcess) -> None:
    """A second request sent behind the first, whose body stalls, is cut once the first is answered."""
    first = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n"
    second = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {server.token}\r\n"
        "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
        'Content-Length: 1000\r\n\r\n{"jsonrpc"'
    )
    with connect(server) as s:
        s.sendall((first + second).encode())
        took, got = closed_within(s, 1 + SLACK)
    assert got.startswith(b"HTTP/1.1 200") and took >= 0.8


def test_an_idle_keep_alive_connection_is_closed(server: ServerProcess) -> None:
    """After a complete response, an idle connection lasts keepAliveTimeout."""
    with connect(server) as s:
        s.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        s.settimeout(5)
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        took, _ = closed_within(s, 1 + SLACK)
    assert took >= 0.8


def test_connections_beyond_the_cap_get_503_and_the_server_recovers(server: ServerProcess) -> None:
    """12 idle sockets fill maxConnections: one more is answered 503 at once; once the idle ones are
    timed out the server answers again."""
    idle = [connect(server) for _ in range(12)]
    try:
        time.sleep(0.2)
        with connect(server) as extra:
            took, got = closed_within(extra, 2)
        assert got.startswith(b"HTTP/1.1 503") and took < 1.5
    finally:
        for s in idle:
            s.close()
    deadline = time.monotonic() + 1 + SLACK
    while not health_ok(server):
        assert time.monotonic() < deadline, "the server did not recover"
        time.sleep(0.1)


def test_many_connections_are_all_timed_out(server: ServerProcess) -> None:
    """200 half-open clients (more than the cap) are all gone within headerTimeout, and /health works."""
    socks = []
    for _ in range(200):
        try:
            s = connect(server)
        except OSError:
            break
        s.sendall(b"GET /health HTTP/1.1\r\n")
        socks.append(s)
    try:
        for s in socks:
            closed_within(s, 1 + 2 * SLACK)
    finally:
        for s in socks:
            s.close()
    assert health_ok(server)
