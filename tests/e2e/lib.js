// Shared pieces of the end-to-end tests: an imgup server of their own (port 0, a temp data dir),
// Debian's Chromium through playwright-core, and a watch on the page's console.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CORPORA = resolve(REPO, "../shared/corpora");
export const IMGUP = process.env.IMGUP_BIN || join(REPO, "build/dev/imgup");
export const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
// Where the screenshots go: build/ by default, so that a test run leaves the work tree as it was;
// `tests/e2e/run.sh --update-screenshots` writes the committed ones in docs/screenshots.
export const SCREENSHOTS = resolve(process.env.IMGUP_SCREENSHOTS_DIR || join(REPO, "build/e2e-screenshots"));

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// Everything started here is stopped here, also when a test throws or the runner is interrupted.
const children = new Set();
const tempDirs = new Set();
function killAll() {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {}
  }
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDirs() {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** `imgup keys add NAME --data DIR`: the key it prints. */
export function addKey(dataDir, name) {
  const out = execFileSync(IMGUP, ["keys", "add", name, "--data", dataDir], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const key = out.trim().split(/\s+/).pop();
  if (!key || key.length < 16) throw new Error(`imgup keys add printed no key: ${out}`);
  return key;
}

/**
 * Starts `imgup serve` on a free port with `dataDir` (a fresh temp dir by default); resolves
 * once it prints where it listens. The result's stop() ends it and waits for its exit.
 */
export async function startServer({ dataDir = tempDir("imgup-e2e-data-"), args = [] } = {}) {
  if (!existsSync(IMGUP)) throw new Error(`no imgup binary at ${IMGUP}: build it first`);
  const child = spawn(IMGUP, ["serve", "--host", "127.0.0.1", "--port", "0", "--data", dataDir, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.add(child);
  const log = [];
  const exited = new Promise((resolveExit) => child.once("exit", (code, signal) => resolveExit({ code, signal })));
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`imgup did not start:\n${log.join("")}`)), 15000);
    let buffered = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      log.push(chunk);
      if (log.length > 2000) log.splice(0, 1000);
      buffered += chunk;
      const match = buffered.match(/imgup: listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (match) {
        clearTimeout(timer);
        buffered = "";
        resolveUrl(match[1]);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`imgup exited (${code ?? signal}) before listening:\n${log.join("")}`));
    });
  });
  return {
    url,
    dataDir,
    log: () => log.join(""),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
    },
  };
}

/** Debian's Chromium, headless, with a fresh profile: a persistent context on a temp dir. */
export async function launchBrowser(options = {}) {
  const userDataDir = tempDir("imgup-e2e-chromium-");
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 800 },
    ...options,
  });
}

/**
 * Collects console errors, uncaught exceptions and CSP violations of `page`. `expected` lists
 * patterns of console errors the test provokes on purpose (a 415 answer Chromium logs, say).
 * problems() returns what is left.
 */
export async function watchConsole(page, expected = []) {
  const seen = [];
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") {
      const where = message.location()?.url || "";
      seen.push(`console.${message.type()}: ${message.text()} ${where}`.trim());
    }
  });
  page.on("pageerror", (error) => seen.push(`uncaught: ${error.stack || error}`));
  await page.exposeFunction("__imgupCspViolation", (text) => seen.push(`CSP violation: ${text}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__imgupCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  return {
    all: () => [...seen],
    problems: () => seen.filter((line) => !expected.some((pattern) => pattern.test(line))),
  };
}

/** Polls `fn` until it returns a truthy value; that value. */
export async function eventually(fn, { timeout = 15000, interval = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** The API from the test's side (to seed and check, not to replace the page). */
export async function apiJson(server, path, { key, method = "GET", body, headers = {} } = {}) {
  const response = await fetch(server.url + path, {
    method,
    body,
    headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), ...headers },
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
