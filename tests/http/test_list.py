"""GET /images: newest first, cursor pagination without gaps or repeats, filters."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from imgup_testkit import (
    EXIF_ORIENTATION,
    Client,
    assert_same_upload,
    corpus_file,
    expect_problem,
    jpeg_with_comment,
    unique_png,
)

N_PNG, N_JPEG = 20, 5


@pytest.fixture(scope="module")
def dataset(module_server, contract):
    """25 images uploaded one by one (a few ms apart): 20 PNGs and 5 JPEGs; every third one is
    tagged "red", every fourth "blue". Returns the records oldest first."""
    c = Client(module_server.url, contract)
    jpeg = corpus_file(EXIF_ORIENTATION / "Landscape_2.jpg")
    records = []
    for i in range(N_PNG + N_JPEG):
        tags = [t for t, every in (("red", 3), ("blue", 4)) if i % every == 0]
        if i % 5 == 2:
            data, ctype = jpeg_with_comment(jpeg, f"list-{i}".encode()), "image/jpeg"
        else:
            data, ctype = unique_png(), "image/png"
        records.append(c.upload_ok(data, filename=f"img{i:02d}", content_type=ctype, tags=tags))
        time.sleep(0.004)
    # The records as they are once processed (the list shows them as they are now).
    module_server.wait_idle()
    settled = [c.get(f"/images/{r['id']}").json() for r in records]
    for before, after in zip(records, settled):
        assert after["status"] == "ready", after
        assert_same_upload(before, after)
    c.close()
    return settled


@pytest.fixture
def lc(module_server, make_client):
    return make_client(module_server)


def walk(client: Client, params: dict, max_pages: int = 100) -> tuple[list[dict], list[int]]:
    items, sizes, cursor = [], [], None
    for _ in range(max_pages):
        q = dict(params)
        if cursor:
            q["cursor"] = cursor
        r = client.get("/images", params=q)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return items, sizes
    raise AssertionError(f"more than {max_pages} pages")


def newest_first(records):
    return sorted(records, key=lambda r: r["id"], reverse=True)


def test_ids_grow_with_upload_order(dataset):
    ids = [r["id"] for r in dataset]
    assert ids == sorted(ids), "ids must be time-sortable (ULID): later uploads sort after earlier ones"
    times = [r["uploaded_at"] for r in dataset]
    assert times == sorted(times)


def test_default_page_is_20_newest(lc, dataset):
    r = lc.get("/images")
    assert r.status_code == 200
    page = r.json()
    assert [x["id"] for x in page["items"]] == [x["id"] for x in newest_first(dataset)[:20]]
    assert page["next_cursor"] is not None
    assert page["items"] == newest_first(dataset)[:20], "list items must be the full records"


@pytest.mark.parametrize("limit", [1, 7, 10, 24, 25])
def test_walk_all_pages(lc, dataset, limit):
    items, sizes = walk(lc, {"limit": limit})
    ids = [x["id"] for x in items]
    assert len(ids) == len(set(ids)), "an image appeared twice"
    assert ids == [x["id"] for x in newest_first(dataset)], "gaps or wrong order"
    assert all(s == limit for s in sizes[:-1]) and sizes[-1] <= limit and (sizes[-1] > 0 or len(sizes) > 1)
    stamps = [x["uploaded_at"] for x in items]
    assert stamps == sorted(stamps, reverse=True)


def test_limit_100_gets_everything_in_one_page(lc, dataset):
    page = lc.get("/images", params={"limit": 100}).json()
    assert [x["id"] for x in page["items"]] == [x["id"] for x in newest_first(dataset)]
    assert page["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", "1e1", "20x"])
def test_bad_limit(lc, dataset, limit):
    expect_problem(lc.get("/images", params={"limit": limit}), 400, "invalid_query")


@pytest.mark.parametrize("cursor", ["garbage", "!!!", "x" * 500, "01ARZ3NDEKTSV4RRFFQ69G5FAV%00"])
def test_bad_cursor(lc, dataset, cursor):
    expect_problem(lc.get("/images", params={"cursor": cursor}), 400, "invalid_cursor")


def test_content_type_filter(lc, dataset):
    items, _ = walk(lc, {"content_type": "image/jpeg", "limit": 2})
    expected = [r for r in newest_first(dataset) if r["content_type"] == "image/jpeg"]
    assert len(expected) == N_JPEG
    assert [x["id"] for x in items] == [x["id"] for x in expected]
    items, _ = walk(lc, {"content_type": "image/png"})
    assert len(items) == N_PNG and all(x["content_type"] == "image/png" for x in items)


def test_content_type_filter_without_match(lc, dataset):
    page = lc.get("/images", params={"content_type": "image/gif"}).json()
    assert page == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("tag", ["red", "blue"])
def test_tag_filter(lc, dataset, tag):
    items, _ = walk(lc, {"tag": tag, "limit": 3})
    expected = [r["id"] for r in newest_first(dataset) if tag in r["tags"]]
    assert expected and [x["id"] for x in items] == expected


def test_tag_and_content_type_filters_combine(lc, dataset):
    items, _ = walk(lc, {"tag": "red", "content_type": "image/jpeg"})
    expected = [r["id"] for r in newest_first(dataset) if "red" in r["tags"] and r["content_type"] == "image/jpeg"]
    assert [x["id"] for x in items] == expected


def test_unknown_tag(lc, dataset):
    assert lc.get("/images", params={"tag": "green"}).json() == {"items": [], "next_cursor": None}


def _ts(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


def test_from_is_inclusive(lc, dataset):
    pivot = dataset[10]["uploaded_at"]
    items, _ = walk(lc, {"from": pivot, "limit": 4})
    expected = [r["id"] for r in newest_first(dataset) if r["uploaded_at"] >= pivot]
    assert dataset[10]["id"] in expected
    assert [x["id"] for x in items] == expected


def test_to_is_exclusive(lc, dataset):
    pivot = dataset[10]["uploaded_at"]
    items, _ = walk(lc, {"to": pivot, "limit": 4})
    expected = [r["id"] for r in newest_first(dataset) if r["uploaded_at"] < pivot]
    assert dataset[10]["id"] not in [x["id"] for x in items]
    assert [x["id"] for x in items] == expected


def test_from_and_to_with_offsets(lc, dataset):
    lo, hi = _ts(dataset[5]["uploaded_at"]), _ts(dataset[15]["uploaded_at"])
    plus2 = dt.timezone(dt.timedelta(hours=2))
    params = {"from": lo.astimezone(plus2).isoformat(timespec="milliseconds"),
              "to": hi.astimezone(dt.timezone(dt.timedelta(hours=-5, minutes=-30))).isoformat(timespec="milliseconds")}
    assert "+02:00" in params["from"]
    items, _ = walk(lc, params)
    expected = [r["id"] for r in newest_first(dataset) if lo <= _ts(r["uploaded_at"]) < hi]
    assert [x["id"] for x in items] == expected


def test_time_window_without_match(lc, dataset):
    page = lc.get("/images", params={"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"}).json()
    assert page == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("param", ["from", "to"])
@pytest.mark.parametrize("value", ["yesterday", "2026-13-45T99:00:00Z", "2026-11-25 17:32:58", "x" * 40])
def test_bad_time(lc, dataset, param, value):
    expect_problem(lc.get("/images", params={param: value}), 400, "invalid_query")


def test_cursor_is_stable_while_new_images_arrive(start_server, make_client):
    srv = start_server()
    c = make_client(srv)
    old = [c.upload_ok(unique_png())["id"] for _ in range(12)]
    first = c.get("/images", params={"limit": 5}).json()
    seen = [x["id"] for x in first["items"]]
    new = [c.upload_ok(unique_png())["id"] for _ in range(3)]
    cursor = first["next_cursor"]
    while cursor:
        page = c.get("/images", params={"limit": 5, "cursor": cursor}).json()
        seen += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
    assert seen == sorted(old, reverse=True), "pages after the cursor must hold exactly the older images"
    assert not set(new) & set(seen)


def test_deleted_image_leaves_no_gap(start_server, make_client):
    srv = start_server()
    c = make_client(srv)
    ids = [c.upload_ok(unique_png())["id"] for _ in range(9)]
    first = c.get("/images", params={"limit": 3}).json()
    # Delete the image the cursor points just past (the last of page one) and one further on.
    victim_a, victim_b = first["items"][-1]["id"], sorted(ids, reverse=True)[5]
    assert c.delete(f"/images/{victim_a}").status_code == 204
    assert c.delete(f"/images/{victim_b}").status_code == 204
    seen, cursor = [x["id"] for x in first["items"]], first["next_cursor"]
    while cursor:
        page = c.get("/images", params={"limit": 3, "cursor": cursor}).json()
        seen += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
    expected = [i for i in sorted(ids, reverse=True) if i != victim_b]
    assert seen == expected


def test_empty_store(start_server, make_client):
    c = make_client(start_server())
    assert c.get("/images").json() == {"items": [], "next_cursor": None}
