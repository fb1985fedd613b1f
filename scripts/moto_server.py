#!/usr/bin/env python3
"""moto server (PyPI moto[server]) answering one request at a time.

`moto_server` serves each request on a thread of its own, and moto's DynamoDB backend is not
thread-safe: two conditional updates of one item at once can both pass their condition, and a
transaction racing a write answers 500 ("dictionary keys changed during iteration"). DynamoDB
makes each request atomic (a conditional write per item, a transaction as a whole); serving
moto's requests one at a time gives the tests that atomicity, and nothing more: concurrent
clients still interleave request by request (docs/dynamodb.md, "Where moto differs").

Usage: moto_server.py [-H 127.0.0.1] [-p PORT] [--journal FILE]
  (PORT 0: a free one, printed as moto_server does)
The environment is moto's own (INITIAL_NO_AUTH_ACTION_COUNT for the auth mode, ...).

--journal FILE (for `make run-aws`, whose images must outlive a restart): moto keeps everything
in memory, so every DynamoDB write it accepted (2xx) is appended to FILE as a JSON line, and at
start the lines already there are sent to the fresh moto again, in order, before it serves. The
requests carry all the data (items, conditions, client tokens), so the replay rebuilds the same
tables. Not for auth mode (the replayed signatures are not re-checked, and its IAM state is not
journaled).
"""

import argparse
import base64
import io
import json
import os
import sys
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


# The DynamoDB operations that change state (X-Amz-Target: DynamoDB_20120810.<op>).
DYNAMODB_WRITES = {"CreateTable", "DeleteTable", "UpdateTable", "UpdateTimeToLive", "PutItem", "UpdateItem",
                   "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


class Journal:
    """WSGI middleware inside OneAtATime: appends each accepted DynamoDB write to a file."""

    def __init__(self, app, path):
        self.app = app
        self.path = path

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB_") or target.split(".")[-1] not in DYNAMODB_WRITES:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        status = []

        def capture(code, headers, exc_info=None):
            status.append(int(code.split()[0]))
            return start_response(code, headers, exc_info)

        out = list(self.app(environ, capture))
        if status and 200 <= status[0] < 300:
            headers = {k: v for k, v in environ.items() if k.startswith("HTTP_") or k == "CONTENT_TYPE"}
            line = {"path": environ.get("PATH_INFO", "/"), "headers": headers,
                    "body": base64.b64encode(body).decode()}
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
                f.flush()
                os.fsync(f.fileno())
        return out


def replay(app, path):
    """Sends the journal's requests to `app` again, in order; returns how many."""
    from werkzeug.test import EnvironBuilder

    n = 0
    with open(path, encoding="utf-8") as f:
        for text in f:
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                break  # a line cut short by a crash: the end of the journal
            body = base64.b64decode(line["body"])
            environ = EnvironBuilder(path=line["path"], method="POST", data=body).get_environ()
            environ.update(line["headers"])
            environ["CONTENT_LENGTH"] = str(len(body))
            list(app(environ, lambda *a, **k: None))
            n += 1
    return n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=0)
    parser.add_argument("--journal", help="keep DynamoDB writes in this file and replay them at start")
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    if args.journal:
        if os.path.exists(args.journal):
            print(f"moto_server: replayed {replay(app, args.journal)} DynamoDB writes from {args.journal}",
                  file=sys.stderr, flush=True)
        app = Journal(app, args.journal)
    # Connections are still accepted on threads: a slow client does not hold the others' accept.
    run_simple(args.host, args.port, OneAtATime(app), threaded=True)


if __name__ == "__main__":
    main()
