// docs/imgup.postman_collection.json, run by newman against an imgup server of its own: one node
// test per request, failing with the collection's own assertion messages. Then once more against
// a server that requires an API key, with the key in the `apiKey` variable.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import newman from "newman";
import { makePng } from "./fixtures.js";
import { REPO, addKey, removeTempDirs, startServer, tempDir } from "./lib.js";

const COLLECTION = join(REPO, "docs/imgup.postman_collection.json");

/** Runs the collection against `server`; newman's summary. */
function runCollection(server, apiKey = "") {
  // The files the multipart and raw requests send: two small PNGs, different bytes.
  const workingDir = tempDir("imgup-e2e-newman-");
  writeFileSync(join(workingDir, "multipart.png"), makePng(16, 12, (x, y) => [x * 16, 255 - y * 20, 64]));
  writeFileSync(join(workingDir, "raw.png"), makePng(12, 16, (x, y) => [200, x * 20, y * 16]));
  return new Promise((resolve, reject) => {
    newman.run(
      {
        collection: COLLECTION,
        envVar: [{ key: "baseUrl", value: server.url }, { key: "apiKey", value: apiKey }],
        workingDir,
        insecureFileRead: false,
        reporters: [],
        timeoutRequest: 10000,
      },
      (error, summary) => (error ? reject(error) : resolve(summary)),
    );
  });
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
          `answer ${execution.response?.code}: ${execution.response?.stream?.toString().slice(0, 300)}`,
        );
      });
    }
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
