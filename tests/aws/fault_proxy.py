"""A small fault-injecting HTTP/1.1 proxy for the AWS client's fault tests (test_faults.py).

It sits between imgup's client and a peer (versitygw, moto) on a free 127.0.0.1 port, in a thread
of the test process, and forwards each request as it came (the Host header too, so the client's
SigV4 signature still holds at the peer) unless a fault says otherwise:

    proxy = FaultProxy("http://127.0.0.1:7070")     # the peer
    proxy.add(Answer(503, SLOW_DOWN, times=2), method="PUT")
    ... point the client at proxy.url ...
    proxy.seen("PUT")  # every PUT that reached the proxy, faulted or not
    proxy.stop()

Faults:
    Answer(status, body, headers, times, delay_s)  answers for the peer (the peer sees nothing)
    DropMidBody(times)  passes the request line, the headers and half of the body on to the
                        peer, then closes both connections (the client's with a reset): an upload
                        cut off half-way, as the peer sees it
    LoseAnswer(times)   forwards the request whole, lets the peer answer, and resets the client's
                        connection instead of passing the answer on
A fault applies to the requests its filter matches (method, path prefix, X-Amz-Target suffix),
`times` of them (None: all), then lets them through.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><RequestId>FAULTPROXY</RequestId></Error>"
)
INTERNAL_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message>"
    b"<RequestId>FAULTPROXY</RequestId></Error>"
)
THROTTLING = (
    b'{"__type":"com.amazon.coral.availability#ThrottlingException",'
    b'"message":"Rate of requests exceeds the allowed throughput."}'
)
DYNAMO_INTERNAL = b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}'


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    fault: str = "pass"

    @property
    def target(self) -> str:
        return self.headers.get("x-amz-target", "")


@dataclass
class Fault:
    times: int | None = None  # None: every matching request
    method: str | None = None
    path_prefix: str | None = None
    target_suffix: str | None = None
    used: int = 0

    def matches(self, request: Request) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.method and request.method != self.method:
            return False
        if self.path_prefix and not request.path.startswith(self.path_prefix):
            return False
        if self.target_suffix and not request.target.endswith(self.target_suffix):
            return False
        return True


@dataclass
class Answer(Fault):
    status: int = 500
    body: bytes = INTERNAL_ERROR
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    name = "answer"


@dataclass
class DropMidBody(Fault):
    name = "drop_mid_body"


@dataclass
class LoseAnswer(Fault):
    name = "lose_answer"


class _Closed(Exception):
    pass


def _reset(sock: socket.socket) -> None:
    """Closes with a TCP reset (SO_LINGER 0), as a crashed peer or a middlebox would."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class _Reader:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _Closed()
        self.buffer += chunk

    def head(self) -> bytes:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        return head

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def rest(self) -> bytes:
        while True:
            try:
                self._fill()
            except _Closed:
                data, self.buffer = self.buffer, b""
                return data


def _parse_head(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    return lines[0], [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]


def _read_body(reader: _Reader, headers: dict[str, str], *, no_body: bool = False) -> bytes:
    if no_body:
        return b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(reader.line().split(b";")[0], 16)
            if size == 0:
                while reader.line():
                    pass
                return body
            body += reader.exactly(size)
            reader.line()
    if "content-length" in headers:
        return reader.exactly(int(headers["content-length"]))
    return b""


class FaultProxy:
    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                proxy._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def add(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def seen(self, method: str | None = None, target_suffix: str | None = None) -> list[Request]:
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method)
                and (target_suffix is None or r.target.endswith(target_suffix))
            ]

    def _fault_for(self, request: Request) -> Fault | None:
        with self.lock:
            self.requests.append(request)
            for fault in self.faults:
                if fault.matches(request):
                    fault.used += 1
                    request.fault = fault.name
                    return fault
        return None

    def _serve(self, client: socket.socket) -> None:
        reader = _Reader(client)
        upstream: socket.socket | None = None
        try:
            while True:
                head = reader.head()
                request_line, header_list = _parse_head(head)
                headers = {name.lower(): value for name, value in header_list}
                method, path, _ = request_line.split(" ", 2)
                content_length = int(headers.get("content-length", "0") or 0)
                fault_probe = Request(method, path, headers, b"")
                fault = self._fault_for(fault_probe)
                if isinstance(fault, DropMidBody):
                    half = reader.exactly(content_length // 2)
                    cut = socket.create_connection(self.upstream)
                    cut.sendall(head + b"\r\n\r\n" + half)
                    time.sleep(0.05)  # let the peer read the part it got
                    _reset(cut)
                    _reset(client)
                    return
                body = _read_body(reader, headers)
                fault_probe.body = body
                if isinstance(fault, Answer):
                    if fault.delay_s:
                        time.sleep(fault.delay_s)
                    extra = "".join(f"{k}: {v}\r\n" for k, v in fault.headers.items())
                    content_type = (
                        "application/x-amz-json-1.0"
                        if fault.body.startswith(b"{")
                        else "application/xml"
                    )
                    client.sendall(
                        f"HTTP/1.1 {fault.status} Fault\r\nContent-Type: {content_type}\r\n"
                        f"Content-Length: {len(fault.body)}\r\n{extra}\r\n".encode("latin-1")
                        + (b"" if method == "HEAD" else fault.body)
                    )
                    continue
                # A connection to the peer per request, closed after it: the client's connection
                # is the one kept alive (moto's server does not always keep its side open).
                upstream = socket.create_connection(self.upstream)
                upstream_reader = _Reader(upstream)
                forwarded = [
                    f"{name}: {value}"
                    for name, value in header_list
                    if name.lower() not in ("content-length", "transfer-encoding", "connection")
                ]
                forwarded += [f"Content-Length: {len(body)}", "Connection: close"]
                upstream.sendall(
                    (request_line + "\r\n" + "\r\n".join(forwarded) + "\r\n\r\n").encode("latin-1")
                    + body
                )
                answer_head = upstream_reader.head()
                status_line, answer_headers = _parse_head(answer_head)
                answer_map = {name.lower(): value for name, value in answer_headers}
                status = int(status_line.split(" ")[1])
                no_body = method == "HEAD" or status in (204, 304)
                if (
                    not no_body
                    and "content-length" not in answer_map
                    and "chunked" not in answer_map.get("transfer-encoding", "").lower()
                ):
                    answer_body = upstream_reader.rest()
                    upstream.close()
                    upstream = None
                else:
                    answer_body = _read_body(upstream_reader, answer_map, no_body=no_body)
                    upstream.close()
                    upstream = None
                if isinstance(fault, LoseAnswer):
                    _reset(client)
                    return
                kept = [
                    f"{name}: {value}"
                    for name, value in answer_headers
                    if name.lower() not in ("content-length", "transfer-encoding", "connection")
                ]
                length = answer_map.get("content-length") if method == "HEAD" else str(len(answer_body))
                if length is not None and status not in (204, 304):
                    kept.append(f"Content-Length: {length}")
                client.sendall(
                    (status_line + "\r\n" + "\r\n".join(kept) + "\r\n\r\n").encode("latin-1")
                    + answer_body
                )
        except (_Closed, ConnectionError, OSError):
            pass
        finally:
            if upstream is not None:
                upstream.close()
            try:
                client.close()
            except OSError:
                pass
