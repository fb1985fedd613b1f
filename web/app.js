// The imgup page: upload with real progress, a gallery that pages with the API's cursor, and a
// detail view. Plain ES modules; every check here is a convenience — the server decides.
import { decodeBlurhash } from "./blurhash.js";

const ALLOWED = ["image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/heif", "image/avif"];
const EXTENSIONS = { heic: "image/heic", heif: "image/heif", avif: "image/avif" };
const INLINE_LIMIT = 10 * 1024 * 1024;
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

// ---- Uploads ----------------------------------------------------------------------------------
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

function uploadRow(file) {
  const li = document.createElement("li");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = `${file.name} · ${humanBytes(file.size)}`;
  const state = document.createElement("span");
  state.className = "state";
  state.textContent = "waiting";
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute("aria-label", `Upload of ${file.name}`);
  li.append(name, state, bar);
  $("uploads").append(li);
  return li;
}

function showError(li, message, file, link) {
  li.classList.add("failed");
  li.querySelector(".state").textContent = "failed";
  li.querySelector("progress")?.remove();
  const error = document.createElement("span");
  error.className = "error";
  error.textContent = message;
  if (link) error.append(" ", link);
  if (file) {
    const retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = "Retry";
    retry.setAttribute("aria-label", `Retry ${file.name}`);
    retry.addEventListener("click", () => {
      li.remove();
      uploadFile(file);
    });
    error.append(" ", retry);
  }
  li.append(error);
}

function sendWithProgress(file, li) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", at("/upload"));
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    const bar = li.querySelector("progress");
    const state = li.querySelector(".state");
    bar.value = 0;
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) {
        bar.value = Math.round((e.loaded / e.total) * 100);
        state.textContent = `${bar.value}%`;
      }
    });
    xhr.upload.addEventListener("load", () => {
      bar.value = 100;
      state.textContent = "checking…";
    });
    xhr.addEventListener("load", () => resolve(xhr));
    xhr.addEventListener("error", () => resolve(null));
    const form = new FormData();
    form.append("file", file, file.name);
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

async function uploadFile(file) {
  const li = uploadRow(file);
  const type = typeOf(file);
  if (!ALLOWED.includes(type)) {
    showError(li, `Not an image type imgup accepts (${type || "unknown type"}).`);
    return;
  }
  if (file.size > INLINE_LIMIT) {
    showError(li, `Too large: ${humanBytes(file.size)}; the limit is ${humanBytes(INLINE_LIMIT)}.`);
    return;
  }
  let xhr = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const sentKey = apiKey;
    xhr = await sendWithProgress(file, li);
    if (!xhr || xhr.status !== 401 || !(await retryAfter401(sentKey))) break;
  }
  if (!xhr) {
    showError(li, "The connection failed.", file);
    return;
  }
  let body = {};
  try {
    body = JSON.parse(xhr.responseText);
  } catch {}
  if (xhr.status === 201 || xhr.status === 200) {
    li.querySelector("progress").value = 100;
    const state = li.querySelector(".state");
    state.className = "state done";
    if (body.duplicate) {
      state.textContent = "already uploaded";
      state.append(" · ", openLink(body.id));
    } else {
      state.textContent = "uploaded";
      addTile(body, true);
      if (body.status === "processing") watchProcessing(body);
    }
  } else {
    showError(li, body.detail || `HTTP ${xhr.status}`, xhr.status >= 500 || xhr.status === 429 ? file : null);
  }
}

function uploadFiles(files) {
  for (const file of files) uploadFile(file);
}

// ---- Gallery ----------------------------------------------------------------------------------
let cursor = null;
let loading = false;
let exhausted = false;
let generation = 0; // bumped when the filters change, so that a page in flight is dropped

/** An RFC 3339 instant for the start (or end) of a local calendar day "YYYY-MM-DD". */
function dayBound(day, end) {
  return new Date(`${day}T${end ? "23:59:59.999" : "00:00:00"}`).toISOString();
}

function filterQuery() {
  const params = new URLSearchParams({ limit: "30" });
  const type = $("filter-type").value;
  const tag = $("filter-tag").value.trim();
  const from = $("filter-from").value;
  const to = $("filter-to").value;
  if (type) params.set("content_type", type);
  if (tag) params.set("tag", tag);
  if (from) params.set("from", dayBound(from, false));
  if (to) params.set("to", dayBound(to, true));
  return params;
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
  const button = document.createElement("button");
  button.className = "tile";
  button.type = "button";
  button.setAttribute("aria-label", `Open ${record.filename} (${record.status})`);
  const canvas = document.createElement("canvas");
  canvas.setAttribute("aria-hidden", "true");
  paintPlaceholder(canvas, record);
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
  button.append(canvas, img);
  if (record.status !== "ready") {
    const badge = document.createElement("span");
    badge.className = `badge ${record.status}`;
    badge.textContent = record.status;
    button.append(badge);
  }
  button.addEventListener("click", () => openDetail(record.id));
  li.append(button);
  return li;
}

function updateCount() {
  const count = $("gallery").children.length;
  const filtered = [...filterQuery().keys()].some((name) => name !== "limit");
  $("gallery-status").textContent =
    count === 0 ? (filtered ? "No images match these filters." : "No images yet.")
    : exhausted ? `${count} image${count === 1 ? "" : "s"}${filtered ? " match these filters" : ""}.`
    : "";
}

function addTile(record, atTop) {
  const existing = document.querySelector(`#gallery li[data-id="${record.id}"]`);
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
  for (let waited = 0, delay = 200; current.status === "processing" && waited < 120000; waited += delay) {
    delay = Math.min(delay * 1.5, 5000);
    await new Promise((r) => setTimeout(r, delay));
    if (!document.querySelector(`#gallery li[data-id="${record.id}"]`)) return; // deleted
    const response = await api(`/images/${record.id}`);
    if (!response.ok) return;
    current = await response.json();
  }
  if (current.status !== "processing" && document.querySelector(`#gallery li[data-id="${record.id}"]`)) {
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
    addTile(record, false);
    if (record.status === "processing") watchProcessing(record);
  }
  cursor = page.next_cursor;
  exhausted = !cursor;
  updateCount();
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
  $("detail-title").textContent = record.filename;
  const image = $("detail-image");
  releaseImages(image);
  image.removeAttribute("src");
  image.alt = record.filename;
  const variant = record.variants && record.variants.medium ? "medium" : "original";
  loadInto(image, `/images/${id}/content?variant=${variant}`);
  fillList($("detail-facts"), [
    ["Type", record.content_type],
    ["Size", humanBytes(record.size_bytes)],
    ["Dimensions", record.width && record.height ? `${record.width} × ${record.height}` : ""],
    ["Uploaded", new Date(record.uploaded_at).toLocaleString()],
    ["Status", record.status],
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
  if (!$("detail").open) $("detail").showModal();
  showSimilar(record);
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

// ---- Wiring -----------------------------------------------------------------------------------
function init() {
  const drop = $("drop");
  $("limit").textContent = humanBytes(INLINE_LIMIT);
  $("picker").addEventListener("change", (e) => {
    uploadFiles(e.target.files);
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
  for (const id of ["filter-type", "filter-tag", "filter-from", "filter-to"]) {
    $(id).addEventListener("change", resetGallery);
  }
  $("detail-edit").addEventListener("submit", saveDetail);
  $("detail-delete").addEventListener("click", deleteDetail);
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
  });
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }).observe($("sentinel"));
  loadMore();
}

init();
