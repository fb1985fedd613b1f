#!/usr/bin/env python3
"""moto server (PyPI moto[server]) answering one request at a time.

`moto_server` serves each request on a thread of its own, and moto's DynamoDB backend is not
thread-safe: two conditional updates of one item at once can both pass their condition, and a
transaction racing a write answers 500 ("dictionary keys changed during iteration"). DynamoDB
makes each request atomic (a conditional write per item, a transaction as a whole); serving
moto's requests one at a time gives the tests that atomicity, and nothing more: concurrent
clients still interleave request by request (docs/dynamodb.md, "Where moto differs").

Usage: moto_server.py [-H 127.0.0.1] [-p PORT]   (PORT 0: a free one, printed as moto_server does)
The environment is moto's own (INITIAL_NO_AUTH_ACTION_COUNT for the auth mode, ...).
"""

import argparse
import os
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


class OneAtATime:
    """WSGI middleware: the wrapped app runs for one request at a time, body included."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # The body is produced inside the lock too (moto may render it lazily).
            return list(self.app(environ, start_response))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    # Connections are still accepted on threads: a slow client does not hold the others' accept.
    run_simple(args.host, args.port, OneAtATime(app), threaded=True)


if __name__ == "__main__":
    main()
