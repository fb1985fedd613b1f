"""Fixtures of the black-box HTTP suite.

- `server`: one `imgup serve --port 0` for the whole session on a fresh data dir; stopped with
  SIGTERM at the end, and its exit code must be 0.
- `start_server(...)`: more servers (own data dir, extra flags, API keys), stopped the same way.
- `client` / `make_client(server, key=...)`: a requests.Session whose every response is checked
  against docs/openapi.json with openapi-core (path and method must exist, the status must be
  documented, headers and body must match). A mismatch fails the test that saw it.

Environment: IMGUP_BIN (default build/dev/imgup), IMGUP_CORPORA (default ../shared/corpora),
IMGUP_PROCESSING_TIMEOUT (seconds an upload may take to leave "processing"; default 60),
IMGUP_TEST_STORAGE (local, the default, or aws: every server on a fresh S3 bucket and DynamoDB
table of the peers of scripts/with-aws-peers.sh; `make http-aws`; or lambda: every server is
`make run-lambda`'s stack on its own data dir, the API function under AWS's Lambda emulator behind
`imgup gateway`, its processor fed by versitygw's S3 events; `make http-lambda`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

from imgup_testkit import (
    AWS,
    LAMBDA,
    Client,
    Contract,
    Server,
    ServerFactory,
    imgup_bin,
    stop_checked,
    store_state,
)


_CONTRACTS: list[Contract] = []

# With IMGUP_TEST_STORAGE=aws, what is about the local storage itself (or the same whatever the
# storage, and slow) is skipped, each with its reason; everything else runs on S3 + DynamoDB.
LOCAL_ONLY_MODULES = {
    "test_crash.py": "crash recovery of the local stores (SQLite's WAL, fsck of blobs/ at start-up)",
    "test_processing_isolation.py": "the pixel worker processes and their temp files under DATA/tmp/, "
                                    "the same whatever the storage",
    "test_bombs.py": "decompression bombs stopped by the pipeline, the same whatever the storage",
    "test_serve_start.py": "serve's start on a data directory (nothing created on a busy port), make run",
    "test_readme.py": "the README's examples, written for `make run`'s local storage",
    "test_cli_client.py": "the CLI against stub servers, the same whatever the storage",
}


# With IMGUP_TEST_STORAGE=lambda the API function answers content with a redirect to a presigned
# S3 GET (the client follows it, imgup_testkit.Client): what the bytes come with is then S3's.
_S3_SERVES_THE_BYTES = ("on Lambda the bytes come from S3 through a presigned redirect: their headers and "
                        "conditional and range answers are S3's, not imgup's")
# The server of IMGUP_TEST_STORAGE=lambda is scripts/run-lambda.sh, not an `imgup serve` process:
# how that process stops on a signal is imgup serve's (run on both other storages), and the
# script's own Ctrl-C and SIGTERM are tests/run_lambda's.
_SERVE_PROCESS = ("how the `imgup serve` process stops on SIGTERM or SIGINT (exit code 0, in-flight requests "
                  "finished); run-lambda.sh stops its stack and exits 143 or 130 (tests/run_lambda)")
LAMBDA_SKIPPED_TESTS = {
    "test_images.py::test_content_headers": _S3_SERVES_THE_BYTES,
    "test_images.py::test_if_none_match_gives_304": _S3_SERVES_THE_BYTES,
    "test_images.py::test_variant_of_a_ready_image": _S3_SERVES_THE_BYTES,
    "test_content_range.py::test_a_range_past_the_end_gives_416_with_the_size": _S3_SERVES_THE_BYTES,
    "test_content_range.py::test_if_range_applies_the_range_only_to_the_same_version": _S3_SERVES_THE_BYTES,
    "test_service.py::test_sigterm_finishes_in_flight_request": _SERVE_PROCESS,
    "test_service.py::test_sigterm_right_after_start": _SERVE_PROCESS,
    "test_service.py::test_sigterm_with_an_idle_keep_alive_connection": _SERVE_PROCESS,
    "test_service.py::test_sigint_stops_with_exit_code_0": _SERVE_PROCESS,
}


def pytest_collection_modifyitems(config, items):
    if not AWS:
        return
    for item in items:
        if LAMBDA:
            reason = LAMBDA_SKIPPED_TESTS.get(f"{item.path.name}::{item.originalname}")
            if reason:
                item.add_marker(pytest.mark.skip(reason=f"Lambda stack: {reason}"))
                continue
        reason = LOCAL_ONLY_MODULES.get(item.path.name)
        if reason is None:
            marker = item.get_closest_marker("local_only")
            reason = marker.args[0] if marker else None
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"local storage only: {reason}"))


def pytest_configure(config):
    config.addinivalue_line("markers", "local_only(reason): skipped with IMGUP_TEST_STORAGE=aws or lambda")


@pytest.fixture(scope="session")
def contract() -> Contract:
    c = Contract()
    _CONTRACTS.append(c)
    return c


def pytest_sessionfinish(session):
    """Under pytest-xdist (make's HTTP tiers run with -n): a worker hands what its contract saw
    to the controller, whose terminal summary reports the whole run."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["contract_checked"] = sum(c.checked for c in _CONTRACTS)
        workeroutput["contract_seen"] = sorted({s for c in _CONTRACTS for s in c.seen})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist, on the controller (which runs no test, so has no contract of its own): a
    worker's contract counts join the run's."""
    output = getattr(node, "workeroutput", {})
    if "contract_checked" not in output:
        return
    if not _CONTRACTS:
        _CONTRACTS.append(Contract())
    _CONTRACTS[0].checked += output["contract_checked"]
    _CONTRACTS[0].seen.update(tuple(s) for s in output["contract_seen"])


def pytest_terminal_summary(terminalreporter):
    """How many exchanges were checked against docs/openapi.json, and which documented
    responses no test produced (for information: 500s cannot be provoked from outside)."""
    for c in _CONTRACTS:
        documented = {(path, method, int(status))
                      for path, item in c.doc["paths"].items()
                      for method, op in item.items() if isinstance(op, dict) and "responses" in op
                      for status in op["responses"]}
        missing = sorted(documented - c.seen)
        terminalreporter.write_line(f"openapi: {c.checked} exchanges checked against {c.path.name}; "
                                    f"{len(documented) - len(missing)}/{len(documented)} documented responses seen")
        others = [m for m in missing if m[2] != 500]
        if others and not terminalreporter.stats.get("deselected"):
            terminalreporter.write_line("openapi: documented but never seen: " +
                                        ", ".join(f"{m.upper()} {p} {s}" for p, m, s in others))


@pytest.fixture(scope="session")
def binary() -> Path:
    path = imgup_bin()
    if not path.exists():
        pytest.fail(f"imgup binary not found at {path}: build it with `ninja -C build/dev imgup` "
                    "or point IMGUP_BIN at one")
    return path


@pytest.fixture(scope="session")
def server(binary, tmp_path_factory) -> Server:
    root = tmp_path_factory.mktemp("session")
    srv = Server(root / "data", log_dir=root).start()
    yield srv
    stop_checked(srv, "session server")


@pytest.fixture
def start_server(binary, tmp_path_factory):
    factory = ServerFactory(tmp_path_factory)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def module_server_factory(binary, tmp_path_factory):
    """Like start_server, for servers that live as long as the test module."""
    factory = ServerFactory(tmp_path_factory)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def module_server(module_server_factory):
    """A server of the test module's own (for tests that need a known set of images)."""
    return module_server_factory()


@pytest.fixture
def make_client(contract):
    clients = []

    def make(srv: Server, key: Optional[str] = None, key_style: str = "bearer", keep_alive: bool = False) -> Client:
        c = Client(srv.url, contract, key=key, key_style=key_style, keep_alive=keep_alive)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def client(server, make_client) -> Client:
    return make_client(server)


@pytest.fixture
def data_dir(server) -> Path:
    return server.data_dir


@pytest.fixture
def nothing_left(server):
    """Snapshot of the session server's store; call the returned function to assert that nothing
    was added since (no file under blobs/ -- originals/, variants/, quarantine/, .tmp/ -- and no
    row in images). Both snapshots wait until the server's pipeline is idle, so that an earlier
    test's upload still being processed does not count, and a late write does not escape."""
    from imgup_testkit import assert_nothing_left

    before = store_state(server.data_dir)
    return lambda: assert_nothing_left(server.data_dir, before)
