// The web page as a person uses it, in Debian's Chromium: drop files, watch them upload, browse,
// open, tag, delete, reload; a server that wants an API key; a phone-sized screen and a keyboard.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { makePng, withCameraExif } from "./fixtures.js";
import { dropFiles, fact, readyTileLoaded, tile, uploadRow } from "./page-helpers.js";
import {
  CORPORA, SCREENSHOTS, addKey, apiJson, launchBrowser, removeTempDirs, startServer, tempDir, watchConsole,
} from "./lib.js";

const JPEG = { name: "Landscape_1.jpg", type: "image/jpeg", path: join(CORPORA, "exif-orientation/Landscape_1.jpg") };
const PNG = { name: "basn2c08.png", type: "image/png", path: join(CORPORA, "pngsuite/png/basn2c08.png") };
const SVG = {
  name: "drawing.svg",
  type: "image/svg+xml",
  bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>'),
};
const FAKE_PNG = { name: "notes.png", type: "image/png", bytes: Buffer.from("These are notes, not a picture.\n") };

/** Records every value each upload row's progress bar takes (the page sets them from XHR progress). */
async function recordProgress(page) {
  await page.evaluate(() => {
    window.__progress = {};
    const note = (bar) => {
      const name = bar.closest("li").querySelector(".name").textContent.split(" · ")[0];
      (window.__progress[name] ||= []).push(bar.value);
    };
    new MutationObserver((mutations) => {
      for (const m of mutations) {
        if (m.type === "attributes" && m.target.tagName === "PROGRESS") note(m.target);
        for (const node of m.addedNodes) node.querySelectorAll?.("progress").forEach(note);
      }
    }).observe(document.getElementById("uploads"), { subtree: true, childList: true, attributes: true, attributeFilter: ["value"] });
  });
}

let browser;
before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  removeTempDirs();
});

describe("the page, locally without keys", () => {
  let server, page, console_, cdp;
  const ids = {};
  before(async () => {
    server = await startServer();
    page = await browser.newPage();
    // The refused fake PNG is a 415 that Chromium logs as a failed resource; nothing else may be.
    console_ = await watchConsole(page, [/Failed to load resource: the server responded with a status of 415/]);
  });
  after(async () => {
    await page?.close();
    await server?.stop();
  });

  it("is served with a CSP that allows no inline code, and loads without errors", async () => {
    const response = await page.goto(server.url + "/");
    assert.equal(response.status(), 200);
    const csp = response.headers()["content-security-policy"];
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await page.locator("#gallery-status", { hasText: "No images yet." }).waitFor();
    assert.equal(await page.title(), "imgup");
  });

  it("takes a drop of three files: a progress bar each, two uploaded, the non-image refused", async () => {
    await recordProgress(page);
    // Slow the upload link down so that the bars move the way they do on a real network.
    cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 400 * 1024,
    });
    // Hold the thumbs back a little, so that the placeholder shows first as it does on a slow link.
    await page.route(/\/content\?variant=thumb$/, async (route) => {
      await new Promise((r) => setTimeout(r, 700));
      await route.continue();
    });
    await dropFiles(page, [JPEG, PNG, SVG]);
    await assert.doesNotReject(page.locator("#uploads li").nth(2).waitFor());
    assert.equal(await page.locator("#uploads li").count(), 3);

    const svgRow = uploadRow(page, SVG.name);
    assert.match(await svgRow.locator(".error").textContent(), /Not an image type imgup accepts \(image\/svg\+xml\)/);
    assert.equal(await svgRow.locator(".state").textContent(), "failed");

    for (const file of [JPEG, PNG]) {
      const row = uploadRow(page, file.name);
      await row.locator(".state.done", { hasText: /^uploaded$/ }).waitFor({ timeout: 20000 });
      assert.equal(await row.locator("progress").getAttribute("value"), "100");
    }
    const progress = await page.evaluate(() => window.__progress);
    assert.ok(!(progress[SVG.name] || []).some((v) => v > 0), "the refused file was never sent");
    assert.equal(await svgRow.locator("progress").count(), 0, "a refused file shows its error, not a bar");
    for (const file of [JPEG, PNG]) {
      assert.equal(progress[file.name][0], 0, `${file.name} starts at 0`);
      assert.equal(progress[file.name].at(-1), 100, `${file.name} ends at 100`);
    }
    const between = progress[JPEG.name].filter((v) => v > 0 && v < 100);
    assert.ok(between.length >= 1, `the JPEG's bar moved through the upload: ${progress[JPEG.name]}`);
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
    });
  });

  it("shows the two images in the gallery: the placeholder at once, then the thumb", async () => {
    // Each tile is there as soon as its upload answered, painted, before any thumb arrived.
    for (const file of [JPEG, PNG]) await tile(page, file.name).waitFor();
    await page.waitForFunction(
      (name) => {
        const li = [...document.querySelectorAll("#gallery li")].find((l) =>
          l.querySelector("button").getAttribute("aria-label").startsWith(`Open ${name} `));
        if (!li || li.dataset.status !== "ready") return false;
        const img = li.querySelector("img");
        return !img.classList.contains("loaded") && getComputedStyle(img).opacity === "0" && li.querySelector("canvas");
      },
      JPEG.name,
      { timeout: 20000 },
    );
    // The placeholder is the BlurHash of the photo: a gradient, not one flat colour.
    const spread = await tile(page, JPEG.name).locator("canvas").evaluate((canvas) => {
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let min = 255, max = 0;
      for (let i = 0; i < data.length; i += 4) {
        const luma = (data[i] + data[i + 1] + data[i + 2]) / 3;
        min = Math.min(min, luma);
        max = Math.max(max, luma);
      }
      return max - min;
    });
    assert.ok(spread > 10, `the placeholder shows the image's shape (luma spread ${spread})`);

    for (const file of [JPEG, PNG]) {
      const src = await readyTileLoaded(page, file.name);
      assert.match(await src.jsonValue(), /\/content\?variant=thumb$/);
    }
    assert.equal(await page.locator("#gallery li").count(), 2);
    await page.unroute(/\/content\?variant=thumb$/);
    const { body } = await apiJson(server, "/images");
    for (const item of body.items) ids[item.filename] = item.id;
    assert.deepEqual(Object.keys(ids).sort(), [JPEG.name, PNG.name].sort());
  });

  it("shows the server's problem detail for a file that only claims to be an image", async () => {
    await dropFiles(page, [FAKE_PNG]);
    const row = uploadRow(page, FAKE_PNG.name);
    await row.locator(".error").waitFor();
    assert.match(await row.locator(".error").textContent(), /not an allowed image type/);
    assert.equal(await page.locator("#gallery li").count(), 2, "nothing was added to the gallery");
  });

  it("opens an image: its facts, its EXIF, its medium image", async () => {
    await tile(page, JPEG.name).locator("button").click();
    const dialog = page.locator("dialog#detail[open]");
    await dialog.waitFor();
    assert.equal(await page.locator("#detail-title").textContent(), JPEG.name);
    assert.equal(await fact(page, "detail-facts", "Dimensions"), "1800 × 1200");
    assert.equal(await fact(page, "detail-facts", "Type"), "image/jpeg");
    assert.equal(await fact(page, "detail-facts", "Status"), "ready");
    assert.match(await fact(page, "detail-facts", "Size"), /^339\.2 KB$/);
    assert.equal(await fact(page, "detail-exif", "Orientation"), "1 (normal)");
    await page.waitForFunction(() => {
      const img = document.getElementById("detail-image");
      return img.complete && img.naturalWidth === 1024 && /variant=medium$/.test(img.src);
    });
    await page.locator("#detail-similar-status").filter({ hasNotText: "Looking…" }).waitFor();
    assert.equal(await page.locator("#detail-download").getAttribute("href"), `/images/${ids[JPEG.name]}/content`);
  });

  it("edits its tags and says Saved.", async () => {
    await page.locator("#detail-tags").fill("landscape, e2e ,  ");
    await page.locator("#detail-description").fill("A field, a tree, a sky.");
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator("#detail-saved", { hasText: "Saved." }).waitFor();
    assert.equal(await page.locator("#detail-tags").inputValue(), "landscape, e2e");
    const { body } = await apiJson(server, `/images/${ids[JPEG.name]}`);
    assert.deepEqual(body.tags, ["landscape", "e2e"]);
    assert.equal(body.description, "A field, a tree, a sky.");
    await page.keyboard.press("Escape");
    await page.locator("dialog#detail[open]").waitFor({ state: "detached" }).catch(() => {});
    assert.equal(await page.locator("dialog#detail").evaluate((d) => d.open), false);
  });

  it("deletes the other image after a confirmation", async () => {
    await tile(page, PNG.name).locator("button").click();
    await page.locator("#detail-title", { hasText: PNG.name }).waitFor();
    let asked = "";
    page.once("dialog", (dialog) => {
      asked = dialog.message();
      dialog.accept();
    });
    await page.locator("#detail-delete").click();
    await tile(page, PNG.name).waitFor({ state: "detached" });
    assert.match(asked, /Delete this image/);
    assert.equal(await page.locator("dialog#detail").evaluate((d) => d.open), false);
    assert.equal((await apiJson(server, `/images/${ids[PNG.name]}`)).status, 404);
    assert.equal(await page.locator("#gallery li").count(), 1);
  });

  it("after a reload shows what was kept: one image, with its tags", async () => {
    await page.reload();
    await readyTileLoaded(page, JPEG.name);
    assert.equal(await page.locator("#gallery li").count(), 1);
    assert.equal(await page.locator("#gallery-status").textContent(), "1 image.");
    await tile(page, JPEG.name).locator("button").click();
    await page.locator("dialog#detail[open]").waitFor();
    assert.equal(await page.locator("#detail-tags").inputValue(), "landscape, e2e");
    assert.equal(await page.locator("#detail-description").inputValue(), "A field, a tree, a sky.");
    await page.getByRole("button", { name: "Close" }).click();
  });

  it("filters the gallery by tag and by type", async () => {
    await page.locator("#filter-tag").fill("nothing-has-this");
    await page.locator("#filter-tag").press("Enter");
    await page.locator("#gallery-status", { hasText: "No images match these filters." }).waitFor();
    await page.locator("#filter-tag").fill("landscape");
    await page.locator("#filter-tag").press("Enter");
    await readyTileLoaded(page, JPEG.name);
    await page.locator("#filter-tag").fill("");
    await page.locator("#filter-tag").press("Enter");
    await page.locator("#filter-type").selectOption("image/png");
    await page.locator("#gallery-status", { hasText: "No images match these filters." }).waitFor();
    await page.locator("#filter-type").selectOption("");
    await readyTileLoaded(page, JPEG.name);
  });

  it("logged no console errors and no CSP violations", () => {
    assert.deepEqual(console_.problems(), []);
    assert.ok(console_.all().some((line) => /status of 415/.test(line)), "the refused upload was seen");
  });
});

describe("the page, on a server that requires an API key", () => {
  let server, page, console_, key;
  before(async () => {
    const dataDir = tempDir("imgup-e2e-keys-");
    key = addKey(dataDir, "e2e");
    server = await startServer({ dataDir });
    const seeded = await fetch(`${server.url}/upload?filename=${PNG.name}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "image/png" },
      body: readFileSync(PNG.path),
    });
    assert.equal(seeded.status, 201);
    page = await browser.newPage();
    console_ = await watchConsole(page, [/Failed to load resource: the server responded with a status of 401/]);
  });
  after(async () => {
    await page?.close();
    await server?.stop();
  });

  it("asks for the key, says when one is wrong, and loads the gallery with the right one", async () => {
    assert.equal((await apiJson(server, "/images")).status, 401);
    await page.goto(server.url + "/");
    const prompt = page.locator("dialog#keyprompt[open]");
    await prompt.waitFor();
    assert.equal(await page.locator("#key-input").evaluate((el) => el === document.activeElement), true);
    await page.getByLabel("API key", { exact: true }).fill("imgup_not-a-key-anyone-issued");
    await page.getByRole("button", { name: "Use key" }).click();
    await page.locator("#key-error", { hasText: "That key was not accepted" }).waitFor();
    await prompt.waitFor();
    await page.getByLabel("API key", { exact: true }).fill(key);
    await page.getByLabel("API key", { exact: true }).press("Enter");
    await readyTileLoaded(page, PNG.name);
    assert.equal(await page.locator("dialog#keyprompt").evaluate((d) => d.open), false);
    const src = await page.locator("#gallery img").getAttribute("src");
    assert.match(src, /^blob:/, "the thumb came through fetch with the key");
  });

  it("keeps the key for the session: a reload asks no more, and uploads carry it", async () => {
    await page.reload();
    await readyTileLoaded(page, PNG.name);
    assert.equal(await page.locator("dialog#keyprompt").evaluate((d) => d.open), false);
    await dropFiles(page, [JPEG]);
    await uploadRow(page, JPEG.name).locator(".state.done", { hasText: /^uploaded$/ }).waitFor({ timeout: 20000 });
    await readyTileLoaded(page, JPEG.name);
    const { body } = await apiJson(server, "/images", { key });
    assert.deepEqual(body.items.map((i) => i.filename).sort(), [JPEG.name, PNG.name].sort());
  });

  it("logged no console errors but the expected 401s", () => {
    assert.deepEqual(console_.problems(), []);
  });
});

describe("the page at phone width, with a keyboard only", () => {
  let server, page, console_, chooserWaiter;
  /** Presses Enter on the focused element; the file chooser that it opens. */
  async function chooserFromEnter() {
    const opened = new Promise((resolve, reject) => {
      chooserWaiter = resolve;
      setTimeout(() => reject(new Error("Enter opened no file chooser")), 10000);
    });
    await page.keyboard.press("Enter");
    return opened;
  }
  // More than one page of the gallery (30): the oldest ones load on scroll.
  const older = readdirSync(join(CORPORA, "pngsuite/png"))
    .filter((name) => /^[a-wyz].*\.png$/.test(name) && name !== PNG.name)
    .slice(0, 40);
  let distinct = 0; // some PngSuite files hold the same bytes: the server keeps one of each
  before(async () => {
    server = await startServer();
    for (const name of older) {
      const response = await fetch(`${server.url}/upload?filename=${name}`, {
        method: "POST", headers: { "Content-Type": "image/png" }, body: readFileSync(join(CORPORA, "pngsuite/png", name)),
      });
      assert.ok([200, 201].includes(response.status), `${name}: ${response.status}`);
      if (response.status === 201) distinct++;
    }
    assert.ok(distinct > 30, `more than a page of images (${distinct})`);
    for (const file of [PNG, JPEG]) {
      const response = await fetch(`${server.url}/upload?filename=${file.name}`, {
        method: "POST", headers: { "Content-Type": file.type }, body: readFileSync(file.path),
      });
      assert.equal(response.status, 201);
    }
    page = await browser.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    // The upload cut off on purpose below is logged as a failed resource; nothing else may be.
    console_ = await watchConsole(page, [/Failed to load resource: net::ERR_FAILED/]);
    // Listen for file choosers from the start: a listener added just before the key press may
    // not have switched Chromium's chooser interception on in time, and the chooser is lost.
    page.on("filechooser", (chooser) => {
      if (chooserWaiter) chooserWaiter(chooser);
      chooserWaiter = null;
    });
    await page.goto(server.url + "/");
    await readyTileLoaded(page, JPEG.name);
    await readyTileLoaded(page, PNG.name);
  });
  after(async () => {
    await page?.close();
    await server?.stop();
  });

  const noSideways = () =>
    page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

  it("fits the width: nothing scrolls sideways", async () => {
    assert.equal(await noSideways(), true);
    const box = await page.locator("#gallery").boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390);
  });

  it("labels every control", async () => {
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea, button, a[href], progress, [tabindex]")]
        .filter((el) => {
          const name = el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") ||
            (el.labels && [...el.labels].map((l) => l.textContent).join("").trim()) || el.textContent.trim();
          return !name;
        })
        .map((el) => el.outerHTML.slice(0, 80)));
    assert.deepEqual(unlabelled, []);
  });

  it("uploads from the keyboard: Tab to the drop zone, Enter opens the file picker", async () => {
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.id), "drop");
    const chooser = await chooserFromEnter();
    assert.equal(chooser.isMultiple(), true);
    await chooser.setFiles([{ name: "again.jpg", mimeType: "image/jpeg", buffer: readFileSync(JPEG.path) }]);
    // The same bytes again: the page says so and links to the image already there.
    const row = uploadRow(page, "again.jpg");
    await row.locator(".state.done", { hasText: "already uploaded" }).waitFor();
    assert.equal(await row.locator("a").textContent(), "open it");
  });

  it("offers a retry when an upload's connection fails, and the retry works", async () => {
    let cut = 0;
    await page.route("**/upload", (route) => (cut++ === 0 ? route.abort("failed") : route.continue()));
    await page.locator("#drop").focus();
    const chooser = await chooserFromEnter();
    await chooser.setFiles([{ name: "alpha.png", mimeType: "image/png", buffer: makePng(24, 24, (x, y) => [x * 10, y * 10, 255 - x * 10]) }]);
    const row = uploadRow(page, "alpha.png");
    await row.locator(".error", { hasText: "The connection failed." }).waitFor();
    const retry = row.getByRole("button", { name: "Retry alpha.png" });
    await retry.focus();
    await page.keyboard.press("Enter");
    await uploadRow(page, "alpha.png").locator(".state.done", { hasText: /^uploaded$/ }).waitFor();
    await readyTileLoaded(page, "alpha.png");
    assert.equal(cut, 2);
    await page.unroute("**/upload");
  });

  it("loads the older images when scrolled to the end of the gallery", async () => {
    assert.equal(await page.locator("#gallery li").count(), 31, "the first page (30) and the retried upload");
    await page.locator("#sentinel").scrollIntoViewIfNeeded();
    await page.locator("#gallery-status", { hasText: `${distinct + 3} images.` }).waitFor();
    const ids = await page.locator("#gallery li").evaluateAll((lis) => lis.map((li) => li.dataset.id));
    assert.equal(new Set(ids).size, distinct + 3, "no image twice");
    await page.locator("#drop").scrollIntoViewIfNeeded();
  });

  it("opens an image with Enter, shows the detail within the screen, closes with Escape", async () => {
    const button = tile(page, JPEG.name).locator("button");
    await button.focus();
    await page.keyboard.press("Enter");
    const dialog = page.locator("dialog#detail[open]");
    await dialog.waitFor();
    await page.waitForFunction(() => document.getElementById("detail-image").naturalWidth > 0);
    const box = await dialog.boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `the dialog fits: ${JSON.stringify(box)}`);
    const widest = await dialog.evaluate((d) => Math.max(...[...d.querySelectorAll("*")].map((el) => el.getBoundingClientRect().right)));
    assert.ok(widest <= 390, `nothing in the dialog sticks out (right edge ${widest})`);
    assert.equal(await fact(page, "detail-facts", "Dimensions"), "1800 × 1200");
    // The tags field is reachable with Tab, and Enter in it saves.
    for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement.id)) !== "detail-tags"; i++) {
      await page.keyboard.press("Tab");
    }
    assert.equal(await page.evaluate(() => document.activeElement.id), "detail-tags");
    await page.keyboard.type("phone");
    await page.keyboard.press("Enter");
    await page.locator("#detail-saved", { hasText: "Saved." }).waitFor();
    await page.keyboard.press("Escape");
    assert.equal(await page.locator("dialog#detail").evaluate((d) => d.open), false);
    await page.waitForFunction(() => document.activeElement.closest("#gallery li"), null, { timeout: 2000 });
    assert.equal(await noSideways(), true);
  });

  it("logged no console errors and no CSP violations", () => {
    assert.deepEqual(console_.problems(), []);
  });
});

describe("the screenshots in docs/screenshots (a gallery with a dozen images, a photo with EXIF)", () => {
  let server, page, console_;
  const CAMERA = {
    make: "FUJIFILM", model: "X-T4", lens: "XF16-55mmF2.8 R LM WR", takenAt: "2024:06:01 18:30:00",
    exposureDenominator: 250, fNumber: 8, iso: 160, focalLengthMm: 23,
  };
  const seeds = [
    ["exif-orientation/Portrait_1.jpg", "Portrait_1.jpg", "image/jpeg"],
    ["exif-orientation/Landscape_6.jpg", "Landscape_6.jpg", "image/jpeg"],
    ...["basn6a08", "basn3p08", "tbrn2c08", "basi2c16", "f02n2c08", "g10n2c08", "s39i3p04", "cs8n2c08", "z09n2c08"].map(
      (name) => [`pngsuite/png/${name}.png`, `${name}.png`, "image/png"]),
  ];
  let waterfallId;

  async function seed(name, type, body) {
    const response = await fetch(`${server.url}/upload?filename=${name}`, { method: "POST", headers: { "Content-Type": type }, body });
    assert.equal(response.status, 201, `${name} was taken`);
    return (await response.json()).id;
  }

  before(async () => {
    server = await startServer();
    for (const [path, name, type] of seeds) await seed(name, type, readFileSync(join(CORPORA, path)));
    waterfallId = await seed("waterfall.jpg", "image/jpeg", withCameraExif(readFileSync(JPEG.path), CAMERA));
    const patched = await apiJson(server, `/images/${waterfallId}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ tags: ["iceland", "waterfall"], description: "Seljalandsfoss at dusk." }),
    });
    assert.equal(patched.status, 200);
    page = await browser.newPage();
    console_ = await watchConsole(page);
  });
  after(async () => {
    await page?.close();
    await server?.stop();
  });

  it("gallery.png: the gallery after a drop of an image and a non-image", async () => {
    await page.goto(server.url + "/");
    await dropFiles(page, [{ name: "Portrait_5.jpg", type: "image/jpeg", path: join(CORPORA, "exif-orientation/Portrait_5.jpg") }, SVG]);
    await uploadRow(page, "Portrait_5.jpg").locator(".state.done").waitFor({ timeout: 20000 });
    for (const name of ["Portrait_5.jpg", "waterfall.jpg", ...seeds.map((s) => s[1])]) await readyTileLoaded(page, name);
    assert.equal(await page.locator("#gallery li").count(), seeds.length + 2);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(SCREENSHOTS, "gallery.png") });
  });

  it("detail.png: a photo's facts, its camera EXIF, its tags and a similar image", async () => {
    await tile(page, "waterfall.jpg").locator("button").click();
    await page.locator("dialog#detail[open]").waitFor();
    await page.waitForFunction(() => document.getElementById("detail-image").naturalWidth > 0);
    const exif = {};
    for (const label of ["Make", "Model", "Lens", "Taken", "Exposure", "Aperture", "ISO", "Focal length", "Orientation"]) {
      exif[label] = await fact(page, "detail-exif", label);
    }
    assert.deepEqual(exif, {
      Make: "FUJIFILM", Model: "X-T4", Lens: "XF16-55mmF2.8 R LM WR", Taken: "2024-06-01 18:30:00",
      Exposure: "1/250 s", Aperture: "f/8", ISO: "160", "Focal length": "23 mm", Orientation: "1 (normal)",
    });
    assert.equal(await page.locator("#detail-tags").inputValue(), "iceland, waterfall");
    // Landscape_6 is the same photo stored rotated: once oriented, it is the nearest neighbour.
    await page.locator("#detail-similar button").first().waitFor();
    const similar = await page.locator("#detail-similar button").evaluateAll((bs) => bs.map((b) => b.getAttribute("aria-label")));
    assert.match(similar[0], /^Open Landscape_6\.jpg \(distance \d+\)$/);
    await page.waitForFunction(() => [...document.querySelectorAll("#detail-similar img")].every((i) => i.complete && i.naturalWidth > 0));
    await page.screenshot({ path: join(SCREENSHOTS, "detail.png") });
  });

  it("logged no console errors and no CSP violations", () => {
    assert.deepEqual(console_.problems(), []);
  });
});
