// The page as a person steers it (issue G, items 3, 5, 6 and 7), in Debian's Chromium: a failed
// image explained and offered only what works; an upload queue with a few at a time, cancel,
// retry and clear; the size limit learnt from the server; dark mode, previous/next, a tag filter
// applied as one types and kept in the URL, plurals.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makePng, pngOfSize } from "./fixtures.js";
import { dropFiles, fact, readyTileLoaded, tile, uploadRow } from "./page-helpers.js";
import {
  CORPORA, SCREENSHOTS, apiJson, eventually, launchBrowser, removeTempDirs, startServer, tempDir, watchConsole,
} from "./lib.js";

const PNG_TYPE = "image/png";
/** A PNG whose header is sound and whose pixel data stops after a quarter of its rows. */
const BROKEN = {
  name: "broken.png",
  type: PNG_TYPE,
  bytes: makePng(64, 64, (x, y) => [x * 4, y * 4, 128], { keepRows: 16 }),
};
const GOOD = { name: "good.png", type: PNG_TYPE, bytes: makePng(48, 32, (x, y) => [255 - x * 5, y * 8, 60]) };

async function seed(server, name, type, body) {
  const response = await fetch(`${server.url}/upload?filename=${encodeURIComponent(name)}`, {
    method: "POST", headers: { "Content-Type": type }, body,
  });
  assert.ok([200, 201].includes(response.status), `${name}: ${response.status}`);
  return response.json();
}

/** Every POST /upload request the page sends (seen at the browser's network layer). */
function recordUploads(page) {
  const sent = [];
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    // POST /upload only: the form of a presigned upload goes to /blobs/upload (or S3).
    if (request.method() === "POST" && path.endsWith("/upload") && !path.endsWith("/blobs/upload")) sent.push(request);
  });
  return sent;
}

/**
 * Counts, inside the page, the uploads open at once: at each send of a POST /upload, the other
 * upload requests not yet DONE. (Network events reach the test out of order with the page's own,
 * so the page is asked instead.) `open()` and `most()` read them.
 */
async function countOpenUploads(page) {
  await page.addInitScript(() => {
    const live = new Set();
    const busy = () => [...live].filter((x) => x.readyState >= 1 && x.readyState <= 3).length;
    window.__uploads = { most: 0, open: busy };
    const { open, send } = XMLHttpRequest.prototype;
    XMLHttpRequest.prototype.open = function (method, url, ...rest) {
      this.__isUpload = method === "POST" && /\/upload$/.test(url);
      return open.call(this, method, url, ...rest);
    };
    XMLHttpRequest.prototype.send = function (body) {
      if (this.__isUpload) {
        live.add(this);
        window.__uploads.most = Math.max(window.__uploads.most, busy());
      }
      return send.call(this, body);
    };
  });
  return {
    open: () => page.evaluate(() => window.__uploads.open()),
    most: () => page.evaluate(() => window.__uploads.most),
  };
}

/** Holds every upload at the browser until opened: the queue can be seen and steered meanwhile. */
async function gateUploads(page) {
  const gate = { opened: false, held: [] };
  await page.route("**/upload", async (route) => {
    if (!gate.opened) await new Promise((resolve) => gate.held.push(resolve));
    try {
      await route.continue();
    } catch {} // cancelled by the page while it was held
  });
  gate.open = () => {
    gate.opened = true;
    for (const release of gate.held.splice(0)) release();
  };
  gate.close = () => {
    gate.opened = false;
  };
  return gate;
}

const rowState = (page, name) => uploadRow(page, name).locator(".state").textContent();

let browser;
before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  removeTempDirs();
});

describe("a failed image, explained (item 3)", () => {
  let server, page, console_, failedId;
  const contentRequests = [];
  before(async () => {
    server = await startServer();
    page = await browser.newPage();
    console_ = await watchConsole(page);
    page.on("request", (request) => {
      if (/\/content(\?|$)/.test(request.url())) contentRequests.push(request.url());
    });
    await page.goto(server.url + "/");
    await page.locator("#gallery-status", { hasText: "No images yet." }).waitFor();
  });
  after(async () => {
    await page?.close();
    await server?.stop();
  });

  it("says in the upload row why the image failed, and links to it", async () => {
    await dropFiles(page, [BROKEN, GOOD]);
    await readyTileLoaded(page, GOOD.name);
    const row = uploadRow(page, BROKEN.name);
    await row.locator(".error").waitFor({ timeout: 20000 });
    assert.equal(await row.locator(".state").textContent(), "failed");
    assert.equal(
      await row.locator(".error").evaluate((el) => el.firstChild.textContent),
      "Uploaded, but it could not be processed: The file is damaged or incomplete: its pixels could not be read.",
    );
    assert.equal(await row.getByRole("link", { name: "open it" }).count(), 1);
    assert.equal(await row.getByRole("button", { name: /Retry/ }).count(), 0, "the same bytes would fail again");
    const { body } = await apiJson(server, "/images");
    const failed = body.items.find((item) => item.filename === BROKEN.name);
    assert.equal(failed.status, "failed");
    assert.match(failed.failure_reason, /^decode_failed: /);
    // The same file again: the server tries again under a new id (and fails again); the page
    // shows the new attempt in place of the old one.
    await dropFiles(page, [BROKEN]);
    const again = page.locator("#uploads li").last();
    await again.locator(".error").waitFor({ timeout: 20000 });
    assert.match(await again.locator(".error").textContent(), /^Uploaded, but it could not be processed: The file is damaged/);
    const now = (await apiJson(server, "/images")).body.items.filter((item) => item.filename === BROKEN.name);
    assert.equal(now.length, 1);
    assert.notEqual(now[0].id, failed.id);
    assert.equal(await page.locator(`#gallery li[data-id="${failed.id}"]`).count(), 0, "the old attempt's tile is gone");
    failedId = now[0].id;
  });

  it("shows the tile without a broken picture: the reason in a few words", async () => {
    const failedTile = tile(page, BROKEN.name);
    await page.locator(`#gallery li[data-id="${failedId}"][data-status="failed"]`).waitFor();
    assert.equal(await failedTile.locator("img").count(), 0);
    assert.equal(await failedTile.locator(".badge").textContent(), "failed: damaged file");
    assert.equal(await failedTile.locator("button").getAttribute("aria-label"), `Open ${BROKEN.name} (failed: damaged file)`);
    assert.match(await failedTile.locator("button").getAttribute("title"), /damaged or incomplete/);
  });

  it("opens a detail view with the reason and only what works: no picture, download or similar", async () => {
    await tile(page, BROKEN.name).locator("button").click();
    await page.locator("dialog#detail[open]").waitFor();
    await page.locator("#detail-failed").waitFor();
    assert.match(await page.locator("#detail-failed").textContent(), /could not be processed\. The file is damaged or incomplete/);
    assert.match(await page.locator("#detail-failed-detail").textContent(), /decode_failed/);
    assert.equal(await fact(page, "detail-facts", "Status"), "failed: damaged file");
    for (const id of ["detail-image", "detail-download", "similar-title", "detail-similar", "detail-similar-status"]) {
      assert.equal(await page.locator(`#${id}`).isVisible(), false, `#${id} is hidden`);
    }
    assert.equal(await page.getByRole("button", { name: "Delete", exact: true }).isVisible(), true);
    assert.equal(await page.getByRole("button", { name: "Delete and upload again…" }).isVisible(), true);
    assert.deepEqual(contentRequests.filter((url) => url.includes(failedId)), [], "nothing asked for its bytes (422)");
    await page.screenshot({ path: join(SCREENSHOTS, "failed.png") });
  });

  it("retries by upload: the failed image goes, the file chosen again is stored", async () => {
    const [chooser] = await Promise.all([
      page.waitForEvent("filechooser"),
      page.getByRole("button", { name: "Delete and upload again…" }).click(),
    ]);
    await chooser.setFiles([{ name: "repaired.png", mimeType: PNG_TYPE, buffer: makePng(64, 64, (x, y) => [x * 4, y * 4, 128]) }]);
    await readyTileLoaded(page, "repaired.png");
    assert.equal(await page.locator("dialog#detail").evaluate((d) => d.open), false);
    assert.equal((await apiJson(server, `/images/${failedId}`)).status, 404);
    assert.equal(await tile(page, BROKEN.name).count(), 0);
    assert.equal(await page.locator("#gallery-status").textContent(), "2 images.");
  });

  it("logged no console errors (no 422 for a failed image's bytes)", () => {
    assert.deepEqual(console_.problems(), []);
  });
});

describe("an upload queue a person can steer (item 5)", () => {
  let server, page, console_, uploads, gate;
  const files = Array.from({ length: 50 }, (_, i) => ({
    name: `q${String(i + 1).padStart(2, "0")}.png`,
    type: PNG_TYPE,
    bytes: pngOfSize(3000 + i, i + 1),
  }));
  before(async () => {
    server = await startServer();
    page = await browser.newPage();
    // The 503 answered on purpose below, and the server's 415 for a text file.
    console_ = await watchConsole(page, [/Failed to load resource: the server responded with a status of (503|415)/]);
    uploads = await countOpenUploads(page);
    gate = await gateUploads(page);
    await page.goto(server.url + "/");
    await page.locator("#gallery-status", { hasText: "No images yet." }).waitFor();
  });
  after(async () => {
    await page?.close();
    await server?.stop();
  });

  it("sends three at a time and queues the rest, in a list that stays short", async () => {
    await dropFiles(page, files);
    await eventually(async () => (await uploads.open()) === 3, { what: "three uploads open" });
    assert.equal(await page.locator("#uploads li").count(), 50);
    await page.locator("#queue-summary", { hasText: "0 of 50 files uploaded · 3 uploading · 47 waiting" }).waitFor();
    assert.equal(await rowState(page, "q50.png"), "waiting");
    assert.equal(await rowState(page, "q01.png"), "sending…");
    assert.equal(await page.locator("#queue-progress").getAttribute("value"), "0");
    // 50 rows do not make a page of 5 000 px: the list scrolls in a region of its own.
    const list = await page.locator("#uploads").boundingBox();
    assert.ok(list.height < 400, `the list is ${list.height} px high`);
    const pageHeight = await page.evaluate(() => document.documentElement.scrollHeight);
    assert.ok(pageHeight < 1200, `the page is ${pageHeight} px high`);
    await page.screenshot({ path: join(SCREENSHOTS, "queue.png") });
  });

  it("cancels a waiting file and a file being sent; the next one starts", async () => {
    await page.getByRole("button", { name: "Cancel q10.png" }).click();
    assert.equal(await rowState(page, "q10.png"), "cancelled");
    await page.getByRole("button", { name: "Cancel q01.png" }).click();
    await uploadRow(page, "q01.png").locator(".state.cancelled").waitFor();
    await eventually(async () => (await uploads.open()) === 3, { what: "a fourth upload taking the freed place" });
    await page.locator("#queue-summary", { hasText: "0 of 48 files uploaded · 3 uploading · 45 waiting · 2 cancelled" }).waitFor();
  });

  it("uploads the rest, never more than three at once, with a total progress bar", async () => {
    gate.open();
    await page.locator("#queue-summary", { hasText: /^48 of 48 files uploaded · 2 cancelled$/ }).waitFor({ timeout: 30000 });
    assert.equal(await uploads.most(), 3, "at most three at once");
    assert.equal(await page.locator("#queue-progress").getAttribute("value"), "100");
    const { body } = await apiJson(server, "/images?limit=100");
    const names = body.items.map((item) => item.filename);
    assert.equal(names.length, 48);
    assert.ok(!names.includes("q01.png") && !names.includes("q10.png"), "the cancelled files were not stored");
  });

  it("clears the finished rows", async () => {
    await page.getByRole("button", { name: "Clear finished" }).click();
    assert.equal(await page.locator("#uploads li").count(), 0);
    await page.locator("#queue").waitFor({ state: "hidden" }); // redrawn at the next frame
  });

  it("cancels all: nothing of it is stored", async () => {
    gate.close();
    const more = Array.from({ length: 6 }, (_, i) => ({ name: `r${i + 1}.png`, type: PNG_TYPE, bytes: pngOfSize(2500 + i, 100 + i) }));
    await dropFiles(page, more);
    await eventually(async () => (await uploads.open()) === 3, { what: "three uploads open" });
    await page.getByRole("button", { name: "Cancel all" }).click();
    await page.locator("#queue-summary", { hasText: /^6 cancelled$/ }).waitFor();
    await eventually(async () => (await uploads.open()) === 0, { what: "every upload closed" });
    gate.open();
    for (const file of more) assert.equal(await rowState(page, file.name), "cancelled");
    assert.equal((await apiJson(server, "/images?limit=100")).body.items.length, 48);
    await page.getByRole("button", { name: "Clear finished" }).click();
  });

  it("offers a retry for a transient failure (503), not for a refusal (415)", async () => {
    await page.unroute("**/upload");
    let answered = 0;
    await page.route("**/upload", (route) =>
      answered++ === 0
        ? route.fulfill({
            status: 503,
            contentType: "application/problem+json",
            body: JSON.stringify({ title: "Busy", status: 503, detail: "The server is busy.", code: "unavailable" }),
          })
        : route.continue());
    await dropFiles(page, [{ name: "t1.png", type: PNG_TYPE, bytes: pngOfSize(4000, 200) }]);
    const row = uploadRow(page, "t1.png");
    await row.locator(".error", { hasText: "The server is busy." }).waitFor();
    await page.getByRole("button", { name: "Retry failed" }).waitFor();
    await dropFiles(page, [{ name: "notes.png", type: PNG_TYPE, bytes: Buffer.from("Not a picture at all.\n") }]);
    await uploadRow(page, "notes.png").locator(".error").waitFor();
    assert.equal(await uploadRow(page, "notes.png").getByRole("button", { name: /Retry/ }).count(), 0);
    await row.getByRole("button", { name: "Retry t1.png" }).click();
    await uploadRow(page, "t1.png").locator(".state.done", { hasText: /^uploaded$/ }).waitFor();
    await readyTileLoaded(page, "t1.png");
    await page.getByRole("button", { name: "Retry failed" }).waitFor({ state: "hidden" });
    await page.unroute("**/upload");
  });

  it("logged no console errors but the answers provoked", () => {
    assert.deepEqual(console_.problems(), []);
  });
});

describe("the size limit, learnt from the server (item 6)", () => {
  const pages = [];
  const servers = [];
  after(async () => {
    for (const page of pages) await page.close();
    for (const server of servers) await server.stop();
  });

  async function open(args) {
    const server = await startServer({ args });
    servers.push(server);
    const page = await browser.newPage();
    pages.push(page);
    const console_ = await watchConsole(page);
    await page.goto(server.url + "/");
    await page.locator("#limit", { hasText: /^· up to / }).waitFor();
    return { server, page, console_ };
  }

  it("with --max-body-bytes 20 MB, takes a 12 MB file (more than the default 10 MB)", async () => {
    const { server, page, console_ } = await open(["--max-body-bytes", String(20 * 1024 * 1024)]);
    // The largest file is POST /uploads' (--max-upload-bytes, 64 MiB by default).
    assert.equal(await page.locator("#limit").textContent(), "· up to 64.0 MB each");
    const big = pngOfSize(12 * 1024 * 1024, 7);
    // From a file: Chromium reads it itself, instead of 12 MB going through the DevTools protocol.
    const path = join(tempDir("imgup-e2e-big-"), "big.png");
    writeFileSync(path, big);
    await page.locator("#picker").setInputFiles(path);
    await uploadRow(page, "big.png").locator(".state.done", { hasText: /^uploaded$/ }).waitFor({ timeout: 30000 });
    await readyTileLoaded(page, "big.png");
    const { body } = await apiJson(server, "/images");
    assert.equal(body.items[0].size_bytes, big.length);
    assert.deepEqual(console_.problems(), []);
  });

  it("with a small limit, refuses in the page what the server would refuse, and sends the rest", async () => {
    const LIMIT = 65536;
    const UPLOAD_LIMIT = LIMIT + 4096; // POST /uploads takes files past the inline limit, up to this
    const { server, page, console_ } = await open(["--max-body-bytes", String(LIMIT), "--max-upload-bytes", String(UPLOAD_LIMIT)]);
    assert.match(await page.locator("#limit").textContent(), /^· up to 68\.0 KB each$/);
    const sent = recordUploads(page);
    const presigned = [];
    page.on("request", (request) => {
      if (request.method() === "POST" && new URL(request.url()).pathname.endsWith("/uploads")) presigned.push(request);
    });
    // Files from 1 KB under the inline limit to 4 KB past the largest upload, with a long name that
    // needs escaping: the form around each adds a few hundred bytes, so those near the inline
    // limit go inline or through POST /uploads by their form's size, and the largest are refused.
    const name = (i) => `${"a-long-name-".repeat(6)}"quoted" café ${String(i).padStart(2, "0")}.png`;
    const files = Array.from({ length: 16 }, (_, i) => ({ name: name(i), type: PNG_TYPE, bytes: pngOfSize(LIMIT - 1024 + 512 * i, 300 + i) }));
    await dropFiles(page, files);
    await eventually(async () => (await page.locator("#uploads .state.done, #uploads li.failed").count()) === files.length, {
      what: "every row ended", timeout: 30000,
    });
    const refused = [];
    const accepted = [];
    for (const [i, file] of files.entries()) {
      const row = uploadRow(page, name(i));
      if (await row.locator(".state.done").count()) {
        accepted.push(file.bytes.length);
      } else {
        assert.match(await row.locator(".error").textContent(), /^Too large: \d+\.\d KB; this server takes files up to 68\.0 KB\.$/);
        refused.push(file.bytes.length);
      }
    }
    assert.deepEqual(refused, files.map((f) => f.bytes.length).filter((n) => n > UPLOAD_LIMIT), "refused: past --max-upload-bytes only");
    assert.ok(Math.max(...accepted) > LIMIT, `files past the inline limit are sent through POST /uploads: ${accepted}`);
    assert.ok(presigned.length >= 1 && presigned.length < accepted.length, `some went inline, some through POST /uploads (${presigned.length})`);
    assert.equal(sent.length, accepted.length - presigned.length, "inline: the files whose form fits");
    const { body } = await apiJson(server, "/images?limit=100");
    assert.equal(body.items.length, accepted.length, "every file the page sent was stored (no 413)");
    assert.deepEqual(body.items.map((r) => r.size_bytes).sort((a, b) => a - b), [...accepted].sort((a, b) => a - b));
    assert.deepEqual(console_.problems(), []);
  });
});

describe("dark mode, previous/next, filters in the URL, plurals (item 7)", () => {
  let server, page, console_;
  const names = ["sunset.jpg", "sunrise.png", "forest.png"];
  before(async () => {
    server = await startServer();
    const sunset = await seed(server, names[0], "image/jpeg", readFileSync(join(CORPORA, "exif-orientation/Landscape_1.jpg")));
    const sunrise = await seed(server, names[1], PNG_TYPE, readFileSync(join(CORPORA, "pngsuite/png/basn2c08.png")));
    await seed(server, names[2], PNG_TYPE, readFileSync(join(CORPORA, "pngsuite/png/basn6a08.png")));
    for (const [record, tags] of [[sunset, ["Sunset", "Beach"]], [sunrise, ["sunrise"]]]) {
      const patched = await apiJson(server, `/images/${record.id}`, {
        method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ tags }),
      });
      assert.equal(patched.status, 200);
    }
    await seed(server, BROKEN.name, PNG_TYPE, BROKEN.bytes);
    page = await browser.newPage();
    console_ = await watchConsole(page);
  });
  after(async () => {
    await page?.close();
    await server?.stop();
  });

  it("follows the system's dark mode", async () => {
    await page.emulateMedia({ colorScheme: "dark" });
    await page.goto(server.url + "/");
    for (const name of names) await readyTileLoaded(page, name);
    await page.locator(`#gallery li[data-status="failed"]`).waitFor({ timeout: 20000 });
    const luma = await page.evaluate(() => {
      const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
      return (r + g + b) / 3;
    });
    assert.ok(luma < 40, `a dark background (luma ${luma})`);
    await dropFiles(page, [GOOD]);
    await readyTileLoaded(page, GOOD.name);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(SCREENSHOTS, "gallery-dark.png") });
    await page.emulateMedia({ colorScheme: "light" });
    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(light, "rgb(246, 247, 249)");
  });

  it("counts with the right plural", async () => {
    await page.reload();
    await page.locator("#gallery-status", { hasText: "5 images." }).waitFor();
  });

  it("pages through the gallery in the detail view with the arrow keys and the buttons", async () => {
    const order = await page.locator("#gallery li button.tile").evaluateAll((buttons) =>
      buttons.map((b) => b.getAttribute("aria-label").replace(/^Open (.*) \(.*\)$/, "$1")));
    assert.equal(order.length, 5);
    await tile(page, order[0]).locator("button").click();
    await page.locator("#detail-title", { hasText: order[0] }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Previous image" }).isDisabled(), true);
    await page.keyboard.press("ArrowRight");
    await page.locator("#detail-title", { hasText: order[1] }).waitFor();
    await page.getByRole("button", { name: "Next image" }).click();
    await page.locator("#detail-title", { hasText: order[2] }).waitFor();
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    await page.locator("#detail-title", { hasText: order[4] }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Next image" }).isDisabled(), true);
    await page.keyboard.press("ArrowRight"); // at the end: stays
    await page.keyboard.press("ArrowLeft");
    await page.locator("#detail-title", { hasText: order[3] }).waitFor();
    await page.getByRole("button", { name: "Previous image" }).click();
    await page.locator("#detail-title", { hasText: order[2] }).waitFor();
    // The open image is in the URL too: a reload (or the link) opens it again.
    assert.match(new URL(page.url()).hash, /^#[0-9A-Za-z_-]+$/);
    await page.reload();
    await page.locator("dialog#detail[open] #detail-title", { hasText: order[2] }).waitFor();
    // In the tags field the arrows move the caret, not the image.
    await page.locator("#detail-tags").focus();
    await page.keyboard.press("ArrowLeft");
    assert.equal(await page.locator("#detail-title").textContent(), order[2]);
    await page.keyboard.press("Escape");
    assert.equal(await page.locator("dialog#detail").evaluate((d) => d.open), false);
    assert.equal(new URL(page.url()).hash, "");
  });

  it("filters by tag as one types, in any case, and keeps the filters in the URL", async () => {
    await page.locator("#filter-tag").pressSequentially("SUN");
    await page.locator("#gallery-status", { hasText: "2 images match these filters." }).waitFor();
    assert.deepEqual((await page.locator("#gallery li").count()), 2);
    await page.locator("#filter-tag").pressSequentially("S");
    await page.locator("#gallery-status", { hasText: "1 image matches these filters." }).waitFor();
    await readyTileLoaded(page, "sunset.jpg");
    assert.equal(new URL(page.url()).searchParams.get("tag"), "SUNS");
    await page.reload();
    await page.locator("#gallery-status", { hasText: "1 image matches these filters." }).waitFor();
    assert.equal(await page.locator("#filter-tag").inputValue(), "SUNS");
    await readyTileLoaded(page, "sunset.jpg");

    await page.locator("#filter-tag").fill("");
    await page.locator("#filter-type").selectOption(PNG_TYPE);
    await page.locator("#gallery-status", { hasText: "4 images match these filters." }).waitFor();
    const shared = page.url();
    assert.equal(new URL(shared).searchParams.get("type"), PNG_TYPE);
    assert.equal(new URL(shared).searchParams.get("tag"), null);
    // The link, opened elsewhere, shows the same view.
    const other = await browser.newPage();
    const otherConsole = await watchConsole(other);
    await other.goto(shared);
    await other.locator("#gallery-status", { hasText: "4 images match these filters." }).waitFor();
    assert.equal(await other.locator("#filter-type").inputValue(), PNG_TYPE);
    assert.deepEqual(otherConsole.problems(), []);
    await other.close();
  });

  it("logged no console errors and no CSP violations", () => {
    assert.deepEqual(console_.problems(), []);
  });
});
