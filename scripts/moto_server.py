#!/usr/bin/env python3
"""moto server (PyPI moto[server]) answering one request at a time.

`moto_server` serves each request on a thread of its own, and moto's DynamoDB backend is not
thread-safe: two conditional updates of one item at once can both pass their condition, and a
transaction racing a write answers 500 ("dictionary keys changed during iteration"). DynamoDB
makes each request atomic (a conditional write per item, a transaction as a whole); serving
moto's requests one at a time gives the tests that atomicity, and nothing more: concurrent
clients still interleave request by request (docs/dynamodb.md, "Where moto differs").

Usage: moto_server.py [-H 127.0.0.1] [-p PORT] [--journal FILE] [--stock-transactions]
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


def item_level_transactions():
    """Makes moto's TransactWriteItems cost what its items cost, not what the table holds.

    moto 5.2.1 backs up each table a transaction names with copy.deepcopy before writing, once per
    item of the transaction, to put the tables back if it is cancelled. An upload's transaction
    (the record and its sha256 marker) thus copied the whole table twice: measured under `make
    run-aws`, 8.5 ms per transaction with ~1 500 items, and growing with every image. Served one
    request at a time (OneAtATime), a transaction can instead keep the items it names as they
    were and put those back: the same outcome, and the tables are no longer copied.
    """
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    class TablesNotCopied:
        """moto's module `copy`, except that a Table is not copied (only transactions copy one)."""

        def __getattr__(self, name):
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value, memo=None):
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = TablesNotCopied()
    backend_class = models.DynamoDBBackend
    transact = backend_class.transact_write_items

    def key_of(table, op_type, op):
        attrs = op["Item"] if op_type == "Put" else op["Key"]
        hash_value = DynamoType(attrs[table.hash_key_attr])
        range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
        return hash_value, range_value

    def transact_write_items(self, transact_items):
        kept = []  # (table, hash, range, the item as it was or None)
        for entry in transact_items:
            try:
                op_type, op = next(iter(entry.items()))
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                hash_value, range_value = key_of(table, op_type, op)
            except (KeyError, StopIteration, AttributeError, TypeError):
                continue  # malformed: moto's own checks answer it
            kept.append((table, hash_value, range_value,
                         copy.deepcopy(table.get_item(hash_value, range_value))))
        try:
            return transact(self, transact_items)
        except BaseException:
            for table, hash_value, range_value, item in reversed(kept):
                if item is not None:
                    if range_value is not None:
                        table.items[hash_value][range_value] = item
                    else:
                        table.items[hash_value] = item
                elif range_value is not None:
                    table.items.get(hash_value, {}).pop(range_value, None)
                else:
                    table.items.pop(hash_value, None)
            raise

    backend_class.transact_write_items = transact_write_items


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
    parser.add_argument("--stock-transactions", action="store_true",
                        help="keep moto's whole-table transaction backups (bench/aws/moto_transactions.py)")
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    if not args.stock_transactions:
        item_level_transactions()
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
