"""API keys and owners: with keys configured every endpoint but /health and /openapi.json needs
one; each key name is an owner, and owners never see each other's images."""

from __future__ import annotations

import pytest

from imgup_testkit import (
    Client,
    blob_bytes,
    db_rows,
    expect_problem,
    image_blobs,
    run_keys,
    sha256,
    store_state,
    unique_png,
    variant_files,
)

UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


@pytest.fixture(scope="module")
def keyed(module_server_factory):
    return module_server_factory(keys=["alice", "bob"])


@pytest.fixture
def alice(keyed, make_client) -> Client:
    return make_client(keyed, keyed.keys["alice"])


@pytest.fixture
def bob(keyed, make_client) -> Client:
    return make_client(keyed, keyed.keys["bob"], key_style="x-api-key")


@pytest.fixture
def anon(keyed, make_client) -> Client:
    return make_client(keyed)


@pytest.fixture
def alice_image(alice):
    """One of alice's images, processed (status "ready")."""
    data = unique_png()
    rec = alice.upload_ready(data, filename="alice.png", tags=["private"])
    return rec, data


def check_401(resp):
    expect_problem(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def endpoints(image_id: str):
    return [
        ("GET", "/images", {}),
        ("POST", "/upload", {"json": {"filename": "a.png", "content_type": "image/png", "image_base64": "iVBORw0KGgo="}}),
        ("POST", "/upload?filename=a.png", {"data": unique_png(), "headers": {"Content-Type": "image/png"}}),
        ("GET", f"/images/{image_id}", {}),
        ("PATCH", f"/images/{image_id}", {"json": {"description": "x"}}),
        ("DELETE", f"/images/{image_id}", {}),
        ("GET", f"/images/{image_id}/content", {}),
        ("GET", f"/images/{image_id}/similar", {}),
    ]


def test_owner_of_keyed_upload(alice_image, keyed):
    rec, data = alice_image
    assert rec["key"] == f"originals/alice/{rec['id']}"
    row = db_rows(keyed.data_dir, "SELECT owner FROM images WHERE id = ?", (rec["id"],))[0]
    assert row["owner"] == "alice"
    assert blob_bytes(keyed.data_dir, f"originals/alice/{rec['id']}") == data
    assert image_blobs(keyed.data_dir, rec["id"]) == {rec["key"]} | variant_files("alice", rec["id"])


@pytest.mark.parametrize("i", range(8), ids=["list", "upload-json", "upload-raw", "get", "patch", "delete", "content",
                                             "similar"])
def test_missing_key(anon, keyed, alice_image, i):
    rec, _ = alice_image
    before = store_state(keyed.data_dir)
    method, path, kw = endpoints(rec["id"])[i]
    check_401(anon.request(method, path, **kw))
    assert store_state(keyed.data_dir) == before, "a refused request must not add or remove anything"


@pytest.mark.parametrize("header", [
    {"Authorization": "Bearer wrong-key"},
    {"x-api-key": "wrong-key"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic YWxpY2U6cGFzcw=="},
])
@pytest.mark.parametrize("i", range(8), ids=["list", "upload-json", "upload-raw", "get", "patch", "delete", "content",
                                             "similar"])
def test_wrong_key(anon, keyed, alice_image, header, i):
    rec, _ = alice_image
    before = store_state(keyed.data_dir)
    method, path, kw = endpoints(rec["id"])[i]
    kw = dict(kw)
    kw["headers"] = {**kw.get("headers", {}), **header}
    check_401(anon.request(method, path, **kw))
    assert store_state(keyed.data_dir) == before


def test_key_with_a_character_changed(anon, keyed):
    key = keyed.keys["alice"]
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    check_401(anon.get("/images", headers={"Authorization": f"Bearer {wrong}"}))


def test_bearer_scheme_is_case_insensitive(anon, keyed):
    r = anon.get("/images", headers={"Authorization": f"bearer {keyed.keys['alice']}"})
    assert r.status_code == 200


def test_both_header_styles_work(keyed, make_client):
    for style in ("bearer", "x-api-key"):
        c = make_client(keyed, keyed.keys["alice"], key_style=style)
        assert c.get("/images").status_code == 200


def test_health_and_openapi_need_no_key(anon):
    assert anon.get("/health").status_code == 200
    assert anon.get("/openapi.json").status_code == 200


def test_unknown_path_with_key(alice):
    expect_problem(alice.get("/no/such/thing", undocumented="path"), 404, "not_found")


def test_owners_do_not_see_each_other(alice, bob, alice_image):
    rec, _ = alice_image
    bob_rec = bob.upload_ok(unique_png(), filename="bob.png")
    assert bob_rec["key"].startswith("originals/bob/")
    alice_ids = {x["id"] for x in alice.get("/images", params={"limit": 100}).json()["items"]}
    bob_ids = {x["id"] for x in bob.get("/images", params={"limit": 100}).json()["items"]}
    assert rec["id"] in alice_ids and rec["id"] not in bob_ids
    assert bob_rec["id"] in bob_ids and bob_rec["id"] not in alice_ids
    assert bob.get("/images", params={"tag": "private"}).json()["items"] == []


def _same_but_request_id(a: dict, b: dict, a_id: str, b_id: str = UNKNOWN_ID) -> None:
    """The two 404 bodies are the same apart from request_id (and the requested id itself, should
    the detail quote it)."""
    a, b = dict(a), dict(b)
    assert a.pop("request_id") != b.pop("request_id")
    a["detail"] = a["detail"].replace(a_id, "{id}")
    b["detail"] = b["detail"].replace(b_id, "{id}")
    assert a == b


def test_other_owners_id_is_404_like_an_unknown_id(bob, alice_image):
    rec, _ = alice_image
    theirs = bob.get(f"/images/{rec['id']}")
    unknown = bob.get(f"/images/{UNKNOWN_ID}")
    expect_problem(theirs, 404, "not_found")
    expect_problem(unknown, 404, "not_found")
    _same_but_request_id(theirs.json(), unknown.json(), rec["id"])


def test_other_owners_content_is_404(bob, alice_image):
    rec, _ = alice_image
    theirs = bob.get(f"/images/{rec['id']}/content")
    unknown = bob.get(f"/images/{UNKNOWN_ID}/content")
    expect_problem(theirs, 404, "not_found")
    _same_but_request_id(theirs.json(), unknown.json(), rec["id"])


@pytest.mark.parametrize("variant", ["thumb", "medium"])
def test_other_owners_variant_is_404(bob, alice, alice_image, variant):
    rec, _ = alice_image
    assert alice.get(rec["urls"]["content"], params={"variant": variant}).status_code == 200
    theirs = bob.get(rec["urls"]["content"], params={"variant": variant})
    unknown = bob.get(f"/images/{UNKNOWN_ID}/content", params={"variant": variant})
    expect_problem(theirs, 404, "not_found")
    _same_but_request_id(theirs.json(), unknown.json(), rec["id"])


def test_other_owners_similar_is_404(bob, alice_image):
    rec, _ = alice_image
    theirs = bob.get(f"/images/{rec['id']}/similar")
    unknown = bob.get(f"/images/{UNKNOWN_ID}/similar")
    expect_problem(theirs, 404, "not_found")
    _same_but_request_id(theirs.json(), unknown.json(), rec["id"])


def test_other_owner_cannot_patch(bob, alice, alice_image):
    rec, _ = alice_image
    theirs = bob.patch(f"/images/{rec['id']}", json={"description": "pwned", "tags": ["pwned"]})
    unknown = bob.patch(f"/images/{UNKNOWN_ID}", json={"description": "pwned", "tags": ["pwned"]})
    expect_problem(theirs, 404, "not_found")
    _same_but_request_id(theirs.json(), unknown.json(), rec["id"])
    assert alice.get(f"/images/{rec['id']}").json() == rec


def test_other_owner_cannot_delete(bob, alice, keyed, alice_image):
    rec, data = alice_image
    theirs = bob.delete(f"/images/{rec['id']}")
    unknown = bob.delete(f"/images/{UNKNOWN_ID}")
    expect_problem(theirs, 404, "not_found")
    _same_but_request_id(theirs.json(), unknown.json(), rec["id"])
    assert alice.get(f"/images/{rec['id']}").json() == rec
    assert blob_bytes(keyed.data_dir, rec["key"]) == data
    assert {f for f in variant_files("alice", rec["id"]) if blob_bytes(keyed.data_dir, f) is not None} == \
        variant_files("alice", rec["id"]), "bob's DELETE removed alice's variants"


def test_same_bytes_for_two_owners_are_two_images(alice, bob):
    data = unique_png()
    a = alice.upload_json(data)
    b = bob.upload_json(data)
    assert a.status_code == 201 and b.status_code == 201, (a.text, b.text)
    assert a.json()["id"] != b.json()["id"]
    assert b.json()["duplicate"] is False
    assert a.json()["sha256"] == b.json()["sha256"] == sha256(data)
    # Deleting one owner's copy leaves the other's.
    assert alice.delete(f"/images/{a.json()['id']}").status_code == 204
    assert bob.get(f"/images/{b.json()['id']}/content").content == data


def test_revoked_key_is_refused_by_the_running_server(start_server, make_client):
    srv = start_server(keys=["keep", "gone"])
    gone = make_client(srv, srv.keys["gone"])
    assert gone.get("/images").status_code == 200
    run_keys(srv.data_dir, "rm", "gone")
    check_401(gone.get("/images"))
    assert make_client(srv, srv.keys["keep"]).get("/images").status_code == 200


def test_no_keys_means_owner_local(start_server, make_client):
    srv = start_server()
    c = make_client(srv)
    rec = c.upload_ok(unique_png())
    assert rec["key"] == f"originals/local/{rec['id']}"
    # A key header is harmless when no key is configured.
    assert make_client(srv, "anything").get("/images").status_code == 200


def test_key_never_in_logs(keyed, alice, alice_image):
    alice.get("/images")
    key = keyed.keys["alice"]
    assert key not in keyed.stdout_text()
    assert key not in "".join(keyed.stderr_lines)


def test_log_owner_is_the_key_name(keyed, alice):
    r = alice.get("/images")
    line = keyed.wait_for_log(r.headers["X-Request-Id"])
    assert line["owner"] == "alice"
