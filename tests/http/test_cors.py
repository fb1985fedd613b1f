"""CORS (issue 12, item 10): off by default; with `--cors-origin ORIGIN` the pages of that origin
may call the API (preflight 204, Access-Control-Allow-Origin on the answers, the headers they may
read), keyless mode takes them for the server's own page, and every other origin is treated as
before (no CORS header; a cross-site write is 403 cross_origin)."""

from __future__ import annotations

import requests

from imgup_testkit import HTTP_TIMEOUT, db_rows, expect_problem, run_cli, unique_png

APP = "http://app.example:3000"
EVIL = "http://evil.example"


def preflight(url: str, path: str, origin: str, method: str = "POST") -> requests.Response:
    # OPTIONS is not in docs/openapi.json (it is the browser's, not the API's): plain requests.
    return requests.options(url + path, timeout=HTTP_TIMEOUT, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type"})


def test_off_by_default(start_server, make_client):
    srv = start_server()
    r = preflight(srv.url, "/upload", APP)
    assert r.status_code == 405 and "Access-Control-Allow-Origin" not in r.headers
    r = make_client(srv).get("/images", headers={"Origin": APP})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


def test_an_allowed_origin_may_call_the_api(start_server, make_client):
    srv = start_server(args=["--cors-origin", APP, "--cors-origin", "https://other.example"])
    r = preflight(srv.url, "/upload", APP)
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == APP
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    allowed_headers = r.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert "Origin" in r.headers["Vary"]
    r = preflight(srv.url, "/images/01ARZ3NDEKTSV4RRFFQ69G5FAV", APP, "DELETE")
    assert r.status_code == 204 and {"GET", "PATCH", "DELETE"} <= set(
        m.strip() for m in r.headers["Access-Control-Allow-Methods"].split(","))

    c = make_client(srv)
    up = c.post("/upload?filename=cors.png", data=unique_png(), headers={"Content-Type": "image/png", "Origin": APP})
    assert up.status_code == 201, f"keyless mode must take an allowed origin's page as its own: {up.text}"
    assert up.headers["Access-Control-Allow-Origin"] == APP
    exposed = up.headers["Access-Control-Expose-Headers"]
    assert "Location" in exposed and "X-Request-Id" in exposed
    listed = c.get("/images", headers={"Origin": "https://other.example"})
    assert listed.headers["Access-Control-Allow-Origin"] == "https://other.example"


def test_other_origins_are_treated_as_before(start_server, make_client):
    srv = start_server(args=["--cors-origin", APP])
    r = preflight(srv.url, "/upload", EVIL)
    assert "Access-Control-Allow-Origin" not in r.headers and r.status_code == 405
    c = make_client(srv)
    r = c.post("/upload?filename=evil.png", data=unique_png(), headers={"Content-Type": "image/png", "Origin": EVIL})
    expect_problem(r, 403, "cross_origin")
    assert "Access-Control-Allow-Origin" not in r.headers
    assert db_rows(srv.data_dir) == []
    r = c.get("/images", headers={"Origin": EVIL})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    assert preflight(srv.url, "/nowhere", APP).status_code == 404


def test_a_cors_origin_must_be_an_origin(tmp_path):
    for bad in ("*", "http://app.example/path", "app.example", "ftp://app.example"):
        proc = run_cli("serve", "--port", "0", "--cors-origin", bad, "--data", str(tmp_path / "data"))
        assert proc.returncode != 0 and b"not an origin" in proc.stderr, (bad, proc.stderr)
