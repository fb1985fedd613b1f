// The imgup page: upload with real progress, a gallery that pages with the API's cursor, and a
// detail view. Plain ES modules; every check here is a convenience — the server decides.
import { decodeBlurhash } from "./blurhash.js";

const ALLOWED = ["image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/heif", "image/avif"];
const EXTENSIONS = { heic: "image/heic", heif: "image/heif", avif: "image/avif" };
const ORIENTATIONS = [
  "", "normal", "mirrored", "rotated 180°", "flipped", "mirrored, rotated 90° CCW",
  "rotated 90° CW", "mirrored, rotated 90° CW", "rotated 90° CCW",
];
const $ = (id) => document.getElementById(id);
// Where the API is mounted ("" locally, "/prod" behind an API Gateway stage): the server says.
const BASE = document.querySelector('meta[name="imgup-base"]')?.content ?? "";
const at = (path) => BASE + path;

// ---- API access -------------------------------------------------------------------------------
let apiKey = sessionStorage.getItem("imgup-key") || "";
let keyPrompt = null;

function authHeaders() {
  return apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
}

/** Shows the key prompt (once, however many requests wait for it); true when a key was given. */
function askForKey(message) {
  if (!keyPrompt) {
    keyPrompt = new Promise((resolve) => {
      const dialog = $("keyprompt");
      $("key-input").value = "";
      $("key-error").textContent = message || "";
      dialog.returnValue = "";
      dialog.addEventListener(
        "close",
        () => {
          keyPrompt = null;
          const key = $("key-input").value.trim();
          if (dialog.returnValue !== "ok" || !key) {
            resolve(false);
            return;
          }
          apiKey = key;
          sessionStorage.setItem("imgup-key", apiKey);
          resolve(true);
        },
        { once: true },
      );
      dialog.showModal();
    });
  }
  return keyPrompt;
}

/** After a 401 to a request sent with `sentKey`: whether to send it again (asks for a key). */
async function retryAfter401(sentKey) {
  if (apiKey !== sentKey) return true; // another request already got a new key meanwhile
  return askForKey(sentKey ? "That key was not accepted. Try another one." : "");
}

/** fetch() with the key; on 401 asks for a key and retries, until the person cancels. */
async function api(path, options = {}) {
  let response;
  for (let attempt = 0; attempt < 5; attempt++) {
    const sentKey = apiKey;
    response = await fetch(at(path), { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
    if (response.status !== 401 || !(await retryAfter401(sentKey))) return response;
  }
  return response;
}

async function problemText(response) {
  try {
    const problem = await response.json();
    return problem.detail || problem.title || `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

// ---- Limits ------------------------------------------------------------------------------------
// The server says how large a request body may be (GET /health "limits"); until it has, and if
// it cannot, the page refuses nothing by size and the server's 413 speaks.
// Files past it go through POST /uploads and its presigned form, up to max_upload_bytes.
let maxBodyBytes = null;
let maxUploadBytes = null;
const limitsReady = fetch(at("/health"))
  .then((response) => (response.ok ? response.json() : null))
  .then((health) => {
    const limit = health && health.limits && health.limits.max_body_bytes;
    if (Number.isSafeInteger(limit) && limit > 0) maxBodyBytes = limit;
    const large = health && health.limits && health.limits.max_upload_bytes;
    if (Number.isSafeInteger(large) && large > 0) maxUploadBytes = large;
  })
  .catch(() => {});

const utf8Length = (text) => new TextEncoder().encode(text).length;

/**
 * The bytes a multipart form adds around one file: two boundary lines (Chromium's boundaries are
 * 38 characters, Firefox's up to 70), the part's headers with the file name (each byte of it may
 * be escaped as %XX) and its type, and the line breaks. Generous on purpose: a file the page
 * accepts must never be refused with 413.
 */
function formOverhead(file, type) {
  return 2 * (2 + 72 + 4) + 'Content-Disposition: form-data; name="file"; filename=""\r\n'.length +
    3 * utf8Length(file.name) + `Content-Type: ${type || "application/octet-stream"}\r\n\r\n`.length + 64;
}

/** The largest file the page sends, for a typical name (what the drop zone's hint says). */
function typicalFileLimit() {
  return maxBodyBytes - formOverhead({ name: "x".repeat(40) }, "image/jpeg");
}

// ---- Failure reasons ---------------------------------------------------------------------------
// The processing service stores failure_reason as "slug: message" (src/services, src/imaging);
// here each slug in a person's words, with a short form for the tile.
const FAILURES = {
  decode_failed: ["damaged file", "The file is damaged or incomplete: its pixels could not be read."],
  invalid_image: ["damaged file", "The file's header is damaged: it is not a readable image."],
  image_too_large: ["too many pixels", "The image has more pixels (or frames) than this server accepts."],
  processing_timeout: ["took too long", "Reading the image took longer than this server allows; the file may be damaged or unusually complex."],
  temp_space_exceeded: ["too large to process", "Processing the image needed more temporary disk space than this server allows."],
  out_of_memory: ["too large to process", "The image needs more memory than this server allows for one image."],
  processing_crashed: ["processing crashed", "Processing this image failed again and again; the server kept the original."],
  unsupported_media_type: ["unsupported format", "This server cannot read this kind of image."],
  original_missing: ["file lost", "The uploaded bytes were lost before they could be processed."],
};

/** {short, words, detail} for a record's failure_reason. */
function explainFailure(reason) {
  const text = reason || "";
  const colon = text.indexOf(":");
  const slug = colon > 0 ? text.slice(0, colon).trim() : text.trim();
  const [short, words] = FAILURES[slug] || ["could not be processed", "The image could not be processed."];
  return { short, words, detail: text };
}

// ---- Uploads ----------------------------------------------------------------------------------
// A queue: every file gets a row at once, at most PARALLEL are sent at a time, the rest wait.
const PARALLEL = 3;
const uploads = []; // {file, type, li, state, xhr, loaded, id, cancelled}; state: waiting |
// uploading | done | failed | cancelled
let sending = 0;

function typeOf(file) {
  if (file.type) return file.type;
  const ext = file.name.split(".").pop().toLowerCase();
  return EXTENSIONS[ext] || "";
}

function humanBytes(n) {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} B`;
}

const plural = (n, noun, nouns = `${noun}s`) => `${n} ${n === 1 ? noun : nouns}`;

/** Answers worth another try as they are: no connection, throttled, the server's trouble. */
const isTransient = (status) => status === 0 || status === 429 || status >= 500;

function uploadRow(entry) {
  const { file } = entry;
  const li = document.createElement("li");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = `${file.name} · ${humanBytes(file.size)}`;
  const state = document.createElement("span");
  state.className = "state";
  state.textContent = "waiting";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "icon cancel";
  cancel.textContent = "✕";
  cancel.setAttribute("aria-label", `Cancel ${file.name}`);
  cancel.addEventListener("click", () => cancelUpload(entry));
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute("aria-label", `Upload of ${file.name}`);
  li.append(name, state, cancel, bar);
  $("uploads").append(li);
  return li;
}

function endRow(entry, stateText, className) {
  const { li } = entry;
  li.querySelector(".cancel")?.remove();
  const state = li.querySelector(".state");
  state.className = `state ${className}`;
  state.textContent = stateText;
}

/** A failed upload: the reason, and Retry when trying again as it is may work. */
function failUpload(entry, message, { transient = false, link = null } = {}) {
  entry.state = "failed";
  entry.transient = transient;
  entry.li.classList.add("failed");
  endRow(entry, "failed", "");
  entry.li.querySelector("progress")?.remove();
  const error = document.createElement("span");
  error.className = "error";
  error.textContent = message;
  if (link) error.append(" ", link);
  if (transient) {
    const retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = "Retry";
    retry.setAttribute("aria-label", `Retry ${entry.file.name}`);
    retry.addEventListener("click", () => retryUpload(entry));
    error.append(" ", retry);
  }
  entry.li.append(error);
  renderQueue();
}

function retryUpload(entry) {
  if (entry.state !== "failed" || !entry.transient) return;
  const hadFocus = entry.li.contains(document.activeElement);
  entry.li.remove();
  const fresh = { file: entry.file, type: entry.type, state: "waiting", loaded: 0 };
  fresh.li = uploadRow(fresh);
  uploads.splice(uploads.indexOf(entry), 1, fresh);
  if (hadFocus) fresh.li.querySelector(".cancel").focus();
  pump();
}

function cancelUpload(entry) {
  if (entry.state === "waiting" || entry.state === "new") {
    entry.state = "cancelled";
  } else if (entry.state === "uploading") {
    entry.cancelled = true;
    entry.xhr?.abort(); // the send below ends as "cancelled"
    return;
  } else {
    return;
  }
  entry.li.querySelector("progress")?.remove();
  endRow(entry, "cancelled", "cancelled");
  renderQueue();
}

let queueFrame = 0;
/** The queue's summary line, total progress bar and buttons (at most once a frame). */
function renderQueue() {
  if (queueFrame) return;
  queueFrame = requestAnimationFrame(() => {
    queueFrame = 0;
    const count = (state) => uploads.filter((e) => e.state === state).length;
    const done = count("done");
    const failed = count("failed");
    const cancelled = count("cancelled");
    const waiting = count("waiting") + count("new");
    const uploading = count("uploading");
    const live = uploads.filter((e) => e.state !== "cancelled").length;
    $("queue").hidden = uploads.length === 0;
    const parts = live ? [`${done} of ${plural(live, "file")} uploaded`] : [];
    if (uploading) parts.push(`${uploading} uploading`);
    if (waiting) parts.push(`${waiting} waiting`);
    if (failed) parts.push(`${failed} failed`);
    if (cancelled) parts.push(`${cancelled} cancelled`);
    $("queue-summary").textContent = parts.join(" · ");
    // Bytes of everything sent or to be sent; a failed or cancelled file no longer counts.
    let total = 0;
    let sent = 0;
    for (const e of uploads) {
      if (e.state === "failed" || e.state === "cancelled") continue;
      total += e.file.size;
      sent += e.state === "done" ? e.file.size : e.state === "uploading" ? e.loaded : 0;
    }
    $("queue-progress").value = total ? Math.floor((100 * sent) / total) : done ? 100 : 0;
    $("cancel-all").hidden = waiting + uploading === 0;
    $("retry-failed").hidden = !uploads.some((e) => e.state === "failed" && e.transient);
    $("clear-finished").hidden = done + failed + cancelled === 0;
  });
}

function clearFinished() {
  for (let i = uploads.length - 1; i >= 0; i--) {
    const entry = uploads[i];
    if (["new", "waiting", "uploading"].includes(entry.state)) continue;
    entry.li.remove();
    uploads.splice(i, 1);
  }
  renderQueue();
}

function pump() {
  for (const entry of uploads) {
    if (sending >= PARALLEL) break;
    if (entry.state === "waiting") startUpload(entry);
  }
  renderQueue();
}

/**
 * A file past the inline limit (ADR 15): POST /uploads declares it, the form it answers takes
 * the bytes (S3's presigned POST on AWS, the server's own one-time URL locally), and the answer
 * is then the upload's record, as POST /upload's would be (201, or 200 with duplicate: true).
 */
async function sendPresigned(entry) {
  const { file, type } = entry;
  let started;
  try {
    started = await api("/uploads", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ filename: file.name, content_type: type, size_bytes: file.size }),
    });
  } catch {
    return null;
  }
  if (started.status !== 201) return { status: started.status, responseText: await started.text() };
  const form = await started.json();
  const data = new FormData();
  for (const [name, value] of Object.entries(form.fields)) data.append(name, value);
  data.append("file", file, file.name);
  const xhr = await sendWithProgress(entry, form.url, data, false);
  if (!xhr || xhr.status < 200 || xhr.status >= 300) return xhr;
  let record;
  try {
    record = await api(`/images/${form.id}`);
  } catch {
    return null;
  }
  const text = await record.text();
  let body = {};
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: record.ok ? (body.duplicate ? 200 : 201) : record.status, responseText: text };
}

function sendWithProgress(entry, url = at("/upload"), form = null, withKey = true) {
  return new Promise((resolve) => {
    const { file, li } = entry;
    const xhr = new XMLHttpRequest();
    entry.xhr = xhr;
    xhr.open("POST", url);
    // A presigned form is its own credential: no key goes to S3.
    if (withKey) for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    const bar = li.querySelector("progress");
    const state = li.querySelector(".state");
    bar.value = 0;
    state.textContent = "sending…";
    entry.loaded = 0;
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) {
        bar.value = Math.round((e.loaded / e.total) * 100);
        state.textContent = `${bar.value}%`;
        entry.loaded = Math.min(file.size, e.loaded);
        renderQueue();
      }
    });
    xhr.upload.addEventListener("load", () => {
      bar.value = 100;
      state.textContent = "checking…";
      entry.loaded = file.size;
      renderQueue();
    });
    xhr.addEventListener("load", () => resolve(xhr));
    xhr.addEventListener("error", () => resolve(null));
    xhr.addEventListener("abort", () => resolve(null));
    if (!form) {
      form = new FormData();
      form.append("file", file, file.name);
    }
    xhr.send(form);
  });
}

function openLink(id) {
  const link = document.createElement("a");
  link.href = `#${id}`;
  link.textContent = "open it";
  link.addEventListener("click", (e) => {
    e.preventDefault();
    openDetail(id);
  });
  return link;
}

async function startUpload(entry) {
  entry.state = "uploading";
  sending++;
  try {
    await sendUpload(entry);
  } finally {
    entry.xhr = null;
    sending--;
    pump();
  }
}

async function sendUpload(entry) {
  const { file, li } = entry;
  let xhr = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const sentKey = apiKey;
    xhr = entry.presigned ? await sendPresigned(entry) : await sendWithProgress(entry);
    if (entry.cancelled || !xhr || xhr.status !== 401 || !(await retryAfter401(sentKey))) break;
  }
  if (entry.cancelled) {
    entry.state = "cancelled";
    li.querySelector("progress")?.remove();
    endRow(entry, "cancelled", "cancelled");
    renderQueue();
    return;
  }
  if (!xhr) {
    failUpload(entry, "The connection failed.", { transient: true });
    return;
  }
  let body = {};
  try {
    body = JSON.parse(xhr.responseText);
  } catch {}
  if (xhr.status === 201 || xhr.status === 200) {
    entry.state = "done";
    entry.id = body.id;
    li.dataset.id = body.id || "";
    li.querySelector("progress").value = 100;
    endRow(entry, "", "done");
    const state = li.querySelector(".state");
    if (body.duplicate) {
      state.textContent = "already uploaded";
      state.append(" · ", openLink(body.id));
    } else {
      state.textContent = "uploaded";
      // The same bytes as a failed image: the server tried again under a new id, the old is gone.
      for (const stale of document.querySelectorAll(`#gallery li[data-status="failed"][data-sha256="${body.sha256}"]`)) {
        if (stale.dataset.id !== body.id) removeTile(stale.dataset.id);
      }
      addTile(body, true);
      if (body.status === "processing" || body.status === "awaiting_upload") watchProcessing(body);
    }
    if (body.status === "failed") processingFailed(body);
    renderQueue();
  } else {
    const transient = isTransient(xhr.status);
    const message = body.detail || `HTTP ${xhr.status}`;
    failUpload(entry, transient ? `${message} (the server may take it on a retry)` : message, { transient });
  }
}

/** A row whose image was uploaded and then failed processing: says why, links to the image. */
function processingFailed(record) {
  const entry = uploads.find((e) => e.id === record.id && e.state === "done");
  if (!entry) return;
  const { words } = explainFailure(record.failure_reason);
  entry.li.querySelector(".error")?.remove();
  failUpload(entry, `Uploaded, but it could not be processed: ${words}`, { link: openLink(record.id) });
}

async function uploadFiles(files) {
  const added = [];
  for (const file of files) {
    // "new" until checked against the server's limits: pump() starts only "waiting" ones.
    const entry = { file, type: typeOf(file), state: "new", loaded: 0 };
    entry.li = uploadRow(entry);
    uploads.push(entry);
    if (!ALLOWED.includes(entry.type)) {
      failUpload(entry, `Not an image type imgup accepts (${entry.type || "unknown type"}).`);
    } else {
      added.push(entry);
    }
  }
  renderQueue();
  await limitsReady;
  for (const entry of added) {
    if (entry.state !== "new") continue; // cancelled meanwhile
    const { file, type } = entry;
    if (maxBodyBytes !== null && file.size + formOverhead(file, type) > maxBodyBytes) {
      if (maxUploadBytes !== null && file.size <= maxUploadBytes) {
        entry.presigned = true; // past the inline limit: POST /uploads
        entry.state = "waiting";
        continue;
      }
      const limit = humanBytes(maxUploadBytes || maxBodyBytes - formOverhead(file, type));
      failUpload(entry, `Too large: ${humanBytes(file.size)}; this server takes files up to ${limit}.`);
    } else {
      entry.state = "waiting";
    }
  }
  pump();
}

function cancelAll() {
  // The waiting ones first, so that none of them starts when a running one ends.
  for (const entry of uploads) if (entry.state === "waiting" || entry.state === "new") cancelUpload(entry);
  for (const entry of uploads) if (entry.state === "uploading") cancelUpload(entry);
}

function retryFailed() {
  for (const entry of [...uploads]) if (entry.state === "failed" && entry.transient) retryUpload(entry);
}

// ---- Gallery ----------------------------------------------------------------------------------
let cursor = null;
let loading = false;
let exhausted = false;
let generation = 0; // bumped when the filters change, so that a page in flight is dropped
let appliedFilters = null; // the filters the gallery shows (as a query string)

/** An RFC 3339 instant for the start (or end) of a local calendar day "YYYY-MM-DD". */
function dayBound(day, end) {
  return new Date(`${day}T${end ? "23:59:59.999" : "00:00:00"}`).toISOString();
}

/** The filters as they stand in the form, under the names the page's own URL uses. */
function currentFilters() {
  const filters = new URLSearchParams();
  const values = {
    type: $("filter-type").value,
    tag: $("filter-tag").value.trim(),
    from: $("filter-from").value,
    to: $("filter-to").value,
  };
  for (const [name, value] of Object.entries(values)) if (value) filters.set(name, value);
  return filters;
}

/** The tag filter, matched here: any part of a tag, in any case ("land" finds "Landscape"). */
function tagFilter() {
  return $("filter-tag").value.trim().toLowerCase();
}

function matchesFilters(record) {
  const tag = tagFilter();
  const type = $("filter-type").value;
  if (type && record.content_type !== type) return false;
  return !tag || (record.tags || []).some((t) => t.toLowerCase().includes(tag));
}

/** GET /images parameters. The server's tag= is an exact match, so the tag is matched here. */
function filterQuery() {
  const params = new URLSearchParams({ limit: tagFilter() ? "100" : "30" });
  const type = $("filter-type").value;
  const from = $("filter-from").value;
  const to = $("filter-to").value;
  if (type) params.set("content_type", type);
  if (from) params.set("from", dayBound(from, false));
  if (to) params.set("to", dayBound(to, true));
  return params;
}

/** The form's filters from the page's URL (a reload or a shared link shows the same view). */
function filtersFromUrl() {
  const params = new URLSearchParams(location.search);
  const type = params.get("type") || "";
  if ([...$("filter-type").options].some((o) => o.value === type)) $("filter-type").value = type;
  $("filter-tag").value = params.get("tag") || "";
  for (const name of ["from", "to"]) {
    const day = params.get(name) || "";
    $(`filter-${name}`).value = /^\d{4}-\d{2}-\d{2}$/.test(day) ? day : "";
  }
}

/** The page's URL with `hash` ("" for none), in place: the filters stay, no history entry. */
function setUrlHash(hash) {
  history.replaceState(history.state, "", location.pathname + location.search + (hash ? `#${hash}` : ""));
}

/** Shows the gallery for the form's filters (unless it already does) and puts them in the URL. */
function applyFilters() {
  const filters = currentFilters().toString();
  if (filters === appliedFilters) return;
  appliedFilters = filters;
  const url = location.pathname + (filters ? `?${filters}` : "") + location.hash;
  history.replaceState(history.state, "", url);
  resetGallery();
}

function paintPlaceholder(canvas, record) {
  canvas.width = 32;
  canvas.height = 32;
  const ctx = canvas.getContext("2d");
  if (record.placeholder) {
    try {
      ctx.putImageData(new ImageData(decodeBlurhash(record.placeholder, 32, 32), 32, 32), 0, 0);
      return;
    } catch {}
  }
  ctx.fillStyle = record.dominant_color || "#d0d5dd";
  ctx.fillRect(0, 0, 32, 32);
}

/** Frees the blob URLs (images fetched with a key) of the images in `root`. */
function releaseImages(root) {
  const images = root.tagName === "IMG" ? [root] : root.querySelectorAll("img");
  for (const img of images) if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
}

/** Loads an image URL into `img`; with an API key through fetch (img src cannot carry headers). */
async function loadInto(img, url) {
  releaseImages(img);
  if (!apiKey) {
    img.src = at(url);
    return;
  }
  const response = await api(url);
  if (!response.ok) return;
  img.src = URL.createObjectURL(await response.blob());
}

function tileFor(record) {
  const li = document.createElement("li");
  li.dataset.id = record.id;
  li.dataset.status = record.status;
  li.dataset.sha256 = record.sha256 || "";
  const button = document.createElement("button");
  button.className = "tile";
  button.type = "button";
  const failure = record.status === "failed" ? explainFailure(record.failure_reason) : null;
  button.setAttribute("aria-label", `Open ${record.filename} (${failure ? `failed: ${failure.short}` : record.status})`);
  const canvas = document.createElement("canvas");
  canvas.setAttribute("aria-hidden", "true");
  paintPlaceholder(canvas, record);
  button.append(canvas);
  if (failure) {
    // No picture to show (its bytes are never served): the name and why, instead.
    button.title = failure.words;
    const note = document.createElement("span");
    note.className = "failed-note";
    note.setAttribute("aria-hidden", "true");
    const name = document.createElement("span");
    name.className = "failed-name";
    name.textContent = record.filename;
    note.append("⚠", name);
    button.append(note);
  } else {
    const img = document.createElement("img");
    img.alt = "";
    img.loading = "lazy";
    img.addEventListener("load", () => img.classList.add("loaded"));
    // The thumb once it exists; while processing, the placeholder and the badge say enough.
    if (record.variants && record.variants.thumb) {
      loadInto(img, `/images/${record.id}/content?variant=thumb`);
    } else if (record.status === "ready") {
      loadInto(img, `/images/${record.id}/content?variant=original`);
    }
    button.append(img);
  }
  if (record.status !== "ready") {
    const badge = document.createElement("span");
    badge.className = `badge ${record.status}`;
    badge.textContent = failure ? `failed: ${failure.short}` : record.status;
    button.append(badge);
  }
  button.addEventListener("click", () => openDetail(record.id));
  li.append(button);
  return li;
}

function updateCount() {
  const count = $("gallery").children.length;
  const filtered = currentFilters().toString() !== "";
  const images = plural(count, "image");
  $("gallery-status").textContent =
    count === 0 ? (filtered ? "No images match these filters." : "No images yet.")
    : exhausted ? (filtered ? `${images} ${count === 1 ? "matches" : "match"} these filters.` : `${images}.`)
    : "";
}

function addTile(record, atTop) {
  const existing = document.querySelector(`#gallery li[data-id="${record.id}"]`);
  if (!existing && !matchesFilters(record)) return; // an upload the filters hide
  const tile = tileFor(record);
  if (existing) {
    const hadFocus = existing.contains(document.activeElement);
    releaseImages(existing);
    existing.replaceWith(tile);
    if (hadFocus) tile.querySelector("button").focus();
  } else if (atTop) {
    $("gallery").prepend(tile);
  } else {
    $("gallery").append(tile);
  }
  if (!loading) updateCount();
}

function removeTile(id) {
  const tile = document.querySelector(`#gallery li[data-id="${id}"]`);
  if (tile) {
    releaseImages(tile);
    tile.remove();
  }
  updateCount();
}

/** Polls a record until it leaves `processing`, then redraws its tile. */
async function watchProcessing(record) {
  let current = record;
  const pending = (status) => status === "processing" || status === "awaiting_upload";
  for (let waited = 0, delay = 200; pending(current.status) && waited < 120000; waited += delay) {
    delay = Math.min(delay * 1.5, 5000);
    await new Promise((r) => setTimeout(r, delay));
    const shown = document.querySelector(`#gallery li[data-id="${record.id}"]`);
    if (!shown && !uploads.some((e) => e.id === record.id && e.state === "done")) return; // deleted
    const response = await api(`/images/${record.id}`);
    if (!response.ok) return;
    current = await response.json();
  }
  if (current.status === "failed") processingFailed(current);
  if (!pending(current.status) && document.querySelector(`#gallery li[data-id="${record.id}"]`)) {
    addTile(current, false);
  }
}

async function loadMore() {
  if (loading || exhausted) return;
  loading = true;
  const mine = generation;
  $("gallery-status").textContent = "Loading…";
  const params = filterQuery();
  if (cursor) params.set("cursor", cursor);
  let response;
  try {
    response = await api(`/images?${params}`);
  } catch {
    response = null;
  }
  if (mine !== generation) return; // the filters changed meanwhile: resetGallery took over
  loading = false;
  if (!response || !response.ok) {
    $("gallery-status").textContent = response ? await problemText(response) : "The connection failed.";
    return;
  }
  const page = await response.json();
  if (mine !== generation) return;
  for (const record of page.items) {
    if (!matchesFilters(record)) continue;
    addTile(record, false);
    if (record.status === "processing") watchProcessing(record);
  }
  cursor = page.next_cursor;
  exhausted = !cursor;
  updateCount();
  if (detailId) updateNeighbours();
  // Keep loading while the sentinel is still visible (a tall screen, few images per page).
  if (!exhausted && isVisible($("sentinel"))) loadMore();
}

function isVisible(el) {
  const r = el.getBoundingClientRect();
  return r.top < window.innerHeight && r.bottom >= 0;
}

function resetGallery() {
  generation++;
  cursor = null;
  exhausted = false;
  loading = false;
  releaseImages($("gallery"));
  $("gallery").replaceChildren();
  loadMore();
}

// ---- Detail view ------------------------------------------------------------------------------
let detailId = null;

function fillList(dl, rows) {
  dl.replaceChildren();
  for (const [label, value] of rows) {
    if (value === undefined || value === null || value === "") continue;
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    dl.append(dt, dd);
  }
}

function exifRows(exif) {
  const gps =
    exif.gps_latitude !== undefined && exif.gps_longitude !== undefined
      ? `${exif.gps_latitude.toFixed(5)}, ${exif.gps_longitude.toFixed(5)}` +
        (exif.gps_altitude_m !== undefined ? ` · ${Math.round(exif.gps_altitude_m)} m` : "")
      : undefined;
  return [
    ["Make", exif.make],
    ["Model", exif.model],
    ["Lens", exif.lens],
    ["Taken", exif.taken_at && exif.taken_at.replace("T", " ")],
    ["Exposure", exif.exposure && `${exif.exposure} s`],
    ["Aperture", exif.f_number && `f/${exif.f_number}`],
    ["ISO", exif.iso],
    ["Focal length", exif.focal_length_mm && `${exif.focal_length_mm} mm`],
    ["Orientation", exif.orientation && `${exif.orientation} (${ORIENTATIONS[exif.orientation] || "unknown"})`],
    ["GPS", gps],
  ];
}

async function showSimilar(record) {
  const list = $("detail-similar");
  releaseImages(list);
  list.replaceChildren();
  $("detail-similar-status").textContent = record.status === "ready" ? "Looking…" : "Once processed.";
  if (record.status !== "ready") return;
  const response = await api(`/images/${record.id}/similar?limit=8`);
  if (detailId !== record.id) return;
  if (!response.ok) {
    $("detail-similar-status").textContent = await problemText(response);
    return;
  }
  const { items } = await response.json();
  $("detail-similar-status").textContent = items.length ? "" : "None found.";
  for (const item of items) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "similar";
    button.setAttribute("aria-label", `Open ${item.filename} (distance ${item.distance})`);
    const img = document.createElement("img");
    img.alt = "";
    loadInto(img, `/images/${item.id}/content?variant=${item.variants && item.variants.thumb ? "thumb" : "original"}`);
    button.append(img);
    button.addEventListener("click", () => openDetail(item.id));
    li.append(button);
    list.append(li);
  }
}

async function openDetail(id) {
  const response = await api(`/images/${id}`);
  if (!response.ok) {
    $("gallery-status").textContent = await problemText(response);
    return;
  }
  const record = await response.json();
  detailId = id;
  const failed = record.status === "failed";
  const failure = failed ? explainFailure(record.failure_reason) : null;
  $("detail-title").textContent = record.filename;
  const image = $("detail-image");
  releaseImages(image);
  image.removeAttribute("src");
  image.alt = record.filename;
  // A failed image's bytes are never served (422): no picture, no download, no similar ones.
  image.hidden = failed;
  $("detail-failed").hidden = !failed;
  for (const el of ["similar-title", "detail-similar", "detail-similar-status", "detail-download"]) $(el).hidden = failed;
  $("detail-reupload").hidden = !failed;
  if (failed) {
    $("detail-failed-words").textContent = failure.words;
    $("detail-failed-detail").textContent = `The server's reason: ${failure.detail || "none given"}`;
  } else {
    const variant = record.variants && record.variants.medium ? "medium" : "original";
    loadInto(image, `/images/${id}/content?variant=${variant}`);
  }
  fillList($("detail-facts"), [
    ["Type", record.content_type],
    ["Size", humanBytes(record.size_bytes)],
    ["Dimensions", record.width && record.height ? `${record.width} × ${record.height}` : ""],
    ["Uploaded", new Date(record.uploaded_at).toLocaleString()],
    ["Status", failed ? `failed: ${failure.short}` : record.status],
    ["Colour", record.dominant_color],
    ["SHA-256", record.sha256],
  ]);
  fillList($("detail-exif"), exifRows(record.exif || {}));
  if (!$("detail-exif").children.length) {
    fillList($("detail-exif"), [["EXIF", record.status === "processing" ? "not read yet" : "none"]]);
  }
  $("detail-tags").value = (record.tags || []).join(", ");
  $("detail-description").value = record.description || "";
  $("detail-saved").textContent = "";
  $("detail-download").href = at(`/images/${id}/content`);
  $("detail-download").download = record.filename;
  updateNeighbours();
  if (!$("detail").open) $("detail").showModal();
  setUrlHash(id); // a reload or a shared link opens it again
  if (!failed) showSimilar(record);
}

/** The gallery tile `step` places from the open image's (-1 previous, +1 next), if loaded. */
function neighbour(step) {
  const tiles = [...$("gallery").children];
  const index = tiles.findIndex((li) => li.dataset.id === detailId);
  return index < 0 ? null : tiles[index + step] || null;
}

function updateNeighbours() {
  const focused = document.activeElement;
  $("detail-prev").disabled = !neighbour(-1);
  $("detail-next").disabled = !neighbour(1) && exhausted;
  // A button that just turned off would drop the focus out of the dialog: hand it to the other.
  if (focused?.disabled && (focused === $("detail-prev") || focused === $("detail-next"))) {
    const other = focused === $("detail-prev") ? $("detail-next") : $("detail-prev");
    (other.disabled ? $("detail").querySelector(".close-row form button") : other).focus();
  }
}

let steps = Promise.resolve();
/** Opens the previous or next image; steps run one after another (a key held down, say). */
function stepDetail(step) {
  steps = steps.then(() => stepOnce(step)).catch(() => {});
  return steps;
}

/** Opens the previous or next image of the gallery; past the last loaded one, loads more. */
async function stepOnce(step) {
  if (!detailId) return;
  let target = neighbour(step);
  if (!target && step > 0 && !exhausted) {
    await loadMore();
    target = neighbour(step);
  }
  if (target) await openDetail(target.dataset.id);
  else updateNeighbours();
}

async function saveDetail(event) {
  event.preventDefault();
  const tags = $("detail-tags").value.split(",").map((t) => t.trim()).filter(Boolean);
  $("detail-saved").textContent = "Saving…";
  const response = await api(`/images/${detailId}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ tags, description: $("detail-description").value }),
  });
  $("detail-saved").textContent = response.ok ? "Saved." : await problemText(response);
  if (response.ok) {
    const record = await response.json();
    $("detail-tags").value = record.tags.join(", ");
    addTile(record, false);
  }
}

/** With a key the link cannot carry it: fetch the bytes and save them from a blob URL. */
async function downloadOriginal(event) {
  if (!apiKey) return;
  event.preventDefault();
  const link = event.currentTarget;
  const response = await api(link.getAttribute("href"));
  if (!response.ok) {
    $("detail-saved").textContent = await problemText(response);
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const save = document.createElement("a");
  save.href = url;
  save.download = link.download;
  save.click();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function deleteDetail() {
  if (!confirm("Delete this image and all its variants? This cannot be undone.")) return;
  const response = await api(`/images/${detailId}`, { method: "DELETE" });
  if (response.status === 204 || response.status === 404) {
    removeTile(detailId);
    $("detail").close();
  } else {
    $("detail-saved").textContent = await problemText(response);
  }
}

// A failed image is retried by uploading the file again. The same bytes replace the failed
// record on the server by themselves; a repaired copy would not, so the failed one goes first.
let replacing = null;

function reuploadDetail() {
  replacing = detailId;
  $("picker").click(); // within the click: a browser opens a file chooser only for a person's act
}

async function pickedFiles(files) {
  const failedId = replacing;
  replacing = null;
  if (failedId && $("detail").open && detailId === failedId) {
    const response = await api(`/images/${failedId}`, { method: "DELETE" });
    if (response.status !== 204 && response.status !== 404) {
      $("detail-saved").textContent = await problemText(response);
      return;
    }
    removeTile(failedId);
    $("detail").close();
  }
  uploadFiles(files);
}

// ---- Wiring -----------------------------------------------------------------------------------
function init() {
  const drop = $("drop");
  limitsReady.then(() => {
    if (maxBodyBytes !== null) $("limit").textContent = `· up to ${humanBytes(maxUploadBytes || typicalFileLimit())} each`;
  });
  $("picker").addEventListener("change", (e) => {
    pickedFiles([...e.target.files]);
    e.target.value = "";
  });
  drop.addEventListener("keydown", (e) => {
    if (e.target === drop && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      $("picker").click();
    }
  });
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  drop.addEventListener("dragleave", (e) => {
    if (!drop.contains(e.relatedTarget)) drop.classList.remove("over");
  });
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    uploadFiles(e.dataTransfer.files);
  });
  // A file dropped beside the zone would make the browser navigate away to it: refuse the drop.
  window.addEventListener("dragover", (e) => {
    if (drop.contains(e.target)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "none";
  });
  window.addEventListener("drop", (e) => {
    if (!drop.contains(e.target)) e.preventDefault();
  });
  // The tag filter applies as one types (after a short pause), the others when they change.
  let typing = 0;
  $("filter-tag").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(applyFilters, 250);
  });
  for (const id of ["filter-type", "filter-tag", "filter-from", "filter-to"]) {
    $(id).addEventListener("change", applyFilters);
  }
  // Back and forward between filtered views, and a link opened in this tab, re-read the URL.
  window.addEventListener("popstate", () => {
    filtersFromUrl();
    applyFilters();
  });
  $("cancel-all").addEventListener("click", cancelAll);
  $("retry-failed").addEventListener("click", retryFailed);
  $("clear-finished").addEventListener("click", clearFinished);
  $("detail-edit").addEventListener("submit", saveDetail);
  $("detail-delete").addEventListener("click", deleteDetail);
  $("detail-reupload").addEventListener("click", reuploadDetail);
  $("detail-prev").addEventListener("click", () => stepDetail(-1));
  $("detail-next").addEventListener("click", () => stepDetail(1));
  $("detail").addEventListener("keydown", (e) => {
    // Arrow keys page through the gallery, except where they move a caret or a selection.
    if (e.target.closest("input, textarea, select") || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      e.preventDefault();
      stepDetail(e.key === "ArrowLeft" ? -1 : 1);
    }
  });
  $("detail-download").addEventListener("click", downloadOriginal);
  $("detail").addEventListener("close", () => {
    // Back to the tile it was opened from (or the first one, after a delete): the dialog's own
    // focus return fails when that tile was redrawn after a save.
    const focused = document.activeElement;
    if (!focused || focused === document.body || $("detail").contains(focused)) {
      const tile = document.querySelector(`#gallery li[data-id="${detailId}"] button`) || document.querySelector("#gallery button");
      tile?.focus();
    }
    detailId = null;
    replacing = null;
    setUrlHash("");
  });
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }).observe($("sentinel"));
  filtersFromUrl();
  applyFilters();
  const opened = decodeURIComponent(location.hash.slice(1));
  if (/^[0-9A-Za-z_-]{8,64}$/.test(opened)) openDetail(opened);
}

init();
