// docs/imgup.postman_collection.json, run by the newman command against an imgup server of its own:
// one node test per request, failing with the collection's own assertion messages. Then against a
// server that already holds more than a page of images, and against one that requires an API key,
// with the key in the `apiKey` variable. newman runs in an empty temp folder, as a user would run
// it from anywhere: the collection must need no file beside it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { makePng } from "./fixtures.js";
import { REPO, addKey, removeTempDirs, startServer, tempDir } from "./lib.js";

const COLLECTION = join(REPO, "docs/imgup.postman_collection.json");
const NEWMAN = join(REPO, "node_modules/.bin/newman");

/** `newman run` of the collection against `server`, from an empty folder; its JSON report. */
function runCollection(server, apiKey = "") {
  const cwd = tempDir("imgup-e2e-newman-");
  const report = join(cwd, "report.json");
  const args = ["run", COLLECTION, "--env-var", `baseUrl=${server.url}`, "--env-var", `apiKey=${apiKey}`,
    "--reporters", "json", "--reporter-json-export", report, "--timeout-request", "10000"];
  return new Promise((resolve, reject) => {
    // newman exits 1 when an assertion fails: the report says which.
    execFile(NEWMAN, args, { cwd, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      try {
        resolve(JSON.parse(readFileSync(report, "utf8")));
      } catch (e) {
        reject(new Error(`newman wrote no report (${error?.message}): ${stdout}${stderr}`));
      }
    });
  });
}

/** Uploads `count` distinct small PNGs; their ids. */
async function seed(server, count) {
  const ids = [];
  for (let i = 0; i < count; i++) {
    const png = makePng(8, 8, (x, y) => [i * 9, x * 30, y * 30]);
    const response = await fetch(`${server.url}/upload?filename=seed-${i}.png`, {
      method: "POST",
      headers: { "Content-Type": "image/png" },
      body: png,
    });
    const text = await response.text();
    assert.equal(response.status, 201, text);
    ids.push(JSON.parse(text).id);
  }
  return ids;
}

/** The images the server lists (every page). */
async function listAll(server) {
  const ids = [];
  let cursor = "";
  do {
    const page = await (await fetch(`${server.url}/images?limit=100${cursor ? `&cursor=${cursor}` : ""}`)).json();
    ids.push(...page.items.map((item) => item.id));
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}
const failuresOf = (summary) => summary.run.failures.map((f) => `${f.source?.name}: ${f.error.message}`);

after(removeTempDirs);

describe("the Postman collection, run by newman", () => {
  let server, summary;
  before(async () => {
    server = await startServer();
    summary = await runCollection(server);
  });
  after(async () => {
    await server?.stop();
  });

  it("ran every request of the collection", () => {
    const names = new Set(summary.run.executions.map((e) => e.item.name));
    assert.ok(names.size >= 35, `ran ${names.size} distinct requests`);
    assert.equal(summary.run.stats.requests.failed, 0, "no request failed to send");
    assert.ok(summary.run.stats.assertions.total > 100, `${summary.run.stats.assertions.total} assertions`);
  });

  // One test per request; the waiting request repeats itself, so only its last run counts.
  it("passed every assertion of every request", async (t) => {
    const last = new Map();
    for (const execution of summary.run.executions) last.set(execution.item.id, execution);
    for (const execution of last.values()) {
      await t.test(`${execution.request.method} ${execution.item.name}`, () => {
        assert.equal(execution.requestError, undefined, String(execution.requestError));
        const failed = (execution.assertions || []).filter((a) => a.error);
        assert.deepEqual(
          failed.map((a) => `${a.assertion}: ${a.error.message}`),
          [],
          `answer ${execution.response?.code}: ${Buffer.from(execution.response?.stream?.data ?? []).toString().slice(0, 300)}`,
        );
      });
    }
  });
});

describe("the Postman collection, on a server that already holds more than a page of images", () => {
  let server, seeded;
  before(async () => {
    server = await startServer();
    seeded = await seed(server, 25); // the list's default page is 20
  });
  after(async () => {
    await server?.stop();
  });

  it("passes every assertion, twice in a row, and leaves the other images as they were", async () => {
    for (const run of [1, 2]) {
      const summary = await runCollection(server);
      assert.deepEqual(failuresOf(summary), [], `run ${run}`);
      assert.ok(summary.run.stats.assertions.total > 100, `run ${run}`);
    }
    assert.deepEqual((await listAll(server)).sort(), [...seeded].sort());
  });
});

describe("the Postman collection, against a server that requires an API key", () => {
  let server;
  before(async () => {
    const dataDir = tempDir("imgup-e2e-newman-keys-");
    const key = addKey(dataDir, "postman");
    server = await startServer({ dataDir });
    server.key = key;
  });
  after(async () => {
    await server?.stop();
  });

  it("gets 401 for every API request without the key", async () => {
    const summary = await runCollection(server);
    const codes = summary.run.executions.map((e) => [e.item.name, e.response?.code]);
    const open = new Set(["Health", "The OpenAPI document", "The web page", "The page's script"]);
    for (const [name, code] of codes) assert.equal(code, open.has(name) ? 200 : 401, name);
  });

  it("passes every assertion with the key in apiKey", async () => {
    const summary = await runCollection(server, server.key);
    assert.deepEqual(failuresOf(summary), []);
    assert.ok(summary.run.stats.assertions.total > 100);
  });
});
