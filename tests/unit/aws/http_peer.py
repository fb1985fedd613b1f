#!/usr/bin/env python3
"""The HTTP peer of imgup's HTTP client tests (http_client_test.cpp): Python's own http.server,
HTTP/1.1 with keep-alive, on 127.0.0.1 and a port the kernel picks, optionally over TLS.

    http_peer.py [--tls CERT KEY]

Prints its port on the first line of stdout, and stops when its standard input closes (so that
it never outlives the test that started it). Paths:
    /echo            the request as JSON: method, path, headers, body, connection number, SNI
    /chunked?parts=N a chunked answer of N parts "part-I\\n"
    /slow?ms=N       answers after N ms
    /close-idle      answers (keeping the connection alive, as far as the client can tell), then
                     closes the connection: a server's idle timeout
    /drop-next       answers; the next request on this connection is read and then the
                     connection is closed without an answer
    /status?code=C&type=T&body=B   that status, content type and body
    /big?bytes=N     N bytes of body
    /eof             an answer without Content-Length or chunking, ended by closing
    /garbage         not HTTP
    /stats           {"connections": accepted so far, "requests": requests so far}
"""
import hashlib
import json
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

lock = threading.Lock()
counts = {"connections": 0, "requests": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with lock:
            counts["connections"] += 1
            self.connection_number = counts["connections"]
        self.drop_next = False

    def answer(self, status, body, content_type="application/octet-stream", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        with lock:
            counts["requests"] += 1
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        if self.drop_next:
            self.close_connection = True
            return
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        route = url.path
        if route == "/echo":
            sni = getattr(self.request, "imgup_sni", None)
            echo = {
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("latin-1"),
                "body_sha256": hashlib.sha256(body).hexdigest(),
                "connection": self.connection_number,
                "sni": sni,
            }
            self.answer(200, json.dumps(echo).encode(), "application/json")
        elif route == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(int(query.get("parts", "3"))):
                part = f"part-{i}\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif route == "/slow":
            time.sleep(int(query.get("ms", "1000")) / 1000)
            self.answer(200, b"slow")
        elif route == "/close-idle":
            self.answer(200, b"closing after this")
            self.close_connection = True
        elif route == "/drop-next":
            self.answer(200, b"the next one is dropped")
            self.drop_next = True
        elif route == "/status":
            self.answer(int(query.get("code", "200")), query.get("body", "").encode(),
                        query.get("type", "text/plain"))
        elif route == "/big":
            self.answer(200, b"x" * int(query.get("bytes", "0")))
        elif route == "/eof":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"until the end")
            self.close_connection = True
        elif route == "/garbage":
            self.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")
            self.close_connection = True
        elif route == "/stats":
            with lock:
                self.answer(200, json.dumps(counts).encode(), "application/json")
        else:
            self.answer(404, b"no such path")

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def handle_error(self, request, client_address):
        # Clients that time out or refuse the certificate hang up mid-answer: expected here.
        pass


def main():
    server = Server(("127.0.0.1", 0), Handler)
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])

        def remember_sni(sock, name, _context):
            sock.imgup_sni = name

        context.sni_callback = remember_sni
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # until the test closes our stdin (or dies)
    server.shutdown()


if __name__ == "__main__":
    main()
