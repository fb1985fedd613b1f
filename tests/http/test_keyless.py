"""Keyless mode (no API key in the store: everything belongs to `local`) is for this machine
only. A DNS-rebinding page addresses the server by its own name (403 forbidden_host) and a
cross-site form posts with a foreign Origin (403 cross_origin); the server's own page, curl and
the CLI keep working. With keys, the key is the credential and Host/Origin do not matter.
docs/adr/0003-keyless-mode.md."""

from __future__ import annotations

import pytest

from imgup_testkit import expect_problem, run_cli, run_keys, store_state, unique_png


def test_rebinding_host_cannot_read(client, server):
    client.upload_ok(unique_png())
    for path in ("/images", "/images?limit=1"):
        r = client.get(path, headers={"Host": f"rebind.example:{server.port}"})
        expect_problem(r, 403, "forbidden_host")


def test_rebinding_host_cannot_delete(client, server):
    rec = client.upload_ok(unique_png())
    r = client.delete(f"/images/{rec['id']}", headers={"Host": f"rebind.example:{server.port}"})
    expect_problem(r, 403, "forbidden_host")
    assert client.get(f"/images/{rec['id']}").status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1.rebind.example", "127.evil.example", "0.0.0.0", "192.168.1.2"])
def test_names_that_only_look_loopback_are_refused(client, server, host):
    expect_problem(client.get("/images", headers={"Host": f"{host}:{server.port}"}), 403, "forbidden_host")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_loopback_names_are_served(client, server, host):
    assert client.get("/images", headers={"Host": f"{host}:{server.port}"}).status_code == 200


def test_cross_site_form_upload_is_refused(client, server):
    """What a form on another site sends: multipart, no preflight, the site's Origin."""
    before = store_state(server.data_dir)
    r = client.post("/upload", files={"file": ("a.png", unique_png(), "image/png")},
                    headers={"Origin": "http://attacker.example"})
    expect_problem(r, 403, "cross_origin")
    assert store_state(server.data_dir) == before


@pytest.mark.parametrize("origin", ["null", "http://127.0.0.1:1", "http://localhost:{port}", "https://127.0.0.1:{port}"])
def test_state_changing_requests_need_the_servers_own_origin(client, server, origin):
    rec = client.upload_ok(unique_png())
    origin = origin.format(port=server.port)
    expect_problem(client.patch(f"/images/{rec['id']}", json={"description": "x"}, headers={"Origin": origin}),
                   403, "cross_origin")
    expect_problem(client.delete(f"/images/{rec['id']}", headers={"Origin": origin}), 403, "cross_origin")
    assert client.get(f"/images/{rec['id']}").json()["description"] == ""


def test_same_origin_requests_from_the_page_work(client, server):
    """The page at http://127.0.0.1:PORT (or localhost:PORT) sends its own origin."""
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}"):
        own = {"Host": host, "Origin": f"http://{host}"}
        r = client.post("/upload", files={"file": ("a.png", unique_png(), "image/png")}, headers=own)
        assert r.status_code == 201, r.text
        image_id = r.json()["id"]
        assert client.patch(f"/images/{image_id}", json={"tags": ["a"]}, headers=own).status_code == 200
        assert client.delete(f"/images/{image_id}", headers=own).status_code == 204


def test_public_routes_answer_any_host(client, server):
    assert client.get("/health", headers={"Host": f"rebind.example:{server.port}"}).status_code == 200


def test_with_keys_host_and_origin_do_not_matter(start_server, make_client):
    srv = start_server(keys=["alice"])
    alice = make_client(srv, srv.keys["alice"])
    foreign = {"Host": f"images.example:{srv.port}", "Origin": "http://app.example"}
    r = alice.post("/upload", files={"file": ("a.png", unique_png(), "image/png")}, headers=foreign)
    assert r.status_code == 201, r.text
    assert alice.get("/images", headers=foreign).status_code == 200


def test_removing_the_last_key_does_not_open_a_running_server(start_server, make_client):
    """A server that started with keys refuses (401) once they are all removed, instead of
    serving everyone as `local`."""
    srv = start_server(keys=["alice"])
    alice = make_client(srv, srv.keys["alice"])
    anon = make_client(srv)
    rec = alice.upload_ok(unique_png())
    run_keys(srv.data_dir, "rm", "alice")
    before = store_state(srv.data_dir)
    expect_problem(anon.get("/images"), 401, "unauthorized")
    expect_problem(alice.get("/images"), 401, "unauthorized")
    expect_problem(anon.post("/upload", files={"file": ("a.png", unique_png(), "image/png")}), 401, "unauthorized")
    expect_problem(anon.delete(f"/images/{rec['id']}"), 401, "unauthorized")
    assert store_state(srv.data_dir) == before


def test_a_key_added_to_a_running_keyless_server_is_required(start_server, make_client):
    srv = start_server()
    anon = make_client(srv)
    assert anon.get("/images").status_code == 200
    run_keys(srv.data_dir, "add", "bob")
    expect_problem(anon.get("/images"), 401, "unauthorized")
    run_keys(srv.data_dir, "rm", "bob")
    expect_problem(anon.get("/images"), 401, "unauthorized")


@pytest.mark.parametrize("host", ["127.0.0.1.attacker.invalid", "127.attacker.invalid", "0.0.0.0"])
def test_keyless_server_refuses_to_listen_beyond_loopback(tmp_path, host):
    """The start-up guard resolves the listen address: a name that merely starts with "127." is
    not loopback (it is whatever its DNS says; here it resolves to nothing)."""
    proc = run_cli("serve", "--host", host, "--port", "0", "--data", str(tmp_path / "data"), timeout=30)
    assert proc.returncode != 0
    assert b"without API keys" in proc.stderr, proc.stderr
