// The imgup page: upload with real progress, a gallery that pages with the API's cursor, and a
// detail view. Plain ES modules; every check here is a convenience — the server decides.
import { decodeBlurhash } from "./blurhash.js";

const ALLOWED = ["image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/heif", "image/avif"];
const EXTENSIONS = { heic: "image/heic", heif: "image/heif", avif: "image/avif" };
const INLINE_LIMIT = 10 * 1024 * 1024;
const $ = (id) => document.getElementById(id);

// ---- API access -------------------------------------------------------------------------------
let apiKey = sessionStorage.getItem("imgup-key") || "";

function authHeaders() {
  return apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
}

async function askForKey() {
  const dialog = $("keyprompt");
  $("key-input").value = "";
  dialog.showModal();
  await new Promise((resolve) => dialog.addEventListener("close", resolve, { once: true }));
  apiKey = $("key-input").value.trim();
  sessionStorage.setItem("imgup-key", apiKey);
}

/** fetch() with the key; asks for a key once on 401 and retries. */
async function api(path, options = {}) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
    if (response.status !== 401 || attempt === 1) return response;
    await askForKey();
  }
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
  li.innerHTML = `<span class="name"></span><span class="state">waiting</span><progress max="100" value="0"></progress>`;
  li.querySelector(".name").textContent = `${file.name} · ${humanBytes(file.size)}`;
  $("uploads").prepend(li);
  return li;
}

function showError(li, message, file, link) {
  li.querySelector(".state").textContent = "failed";
  li.querySelector("progress").remove();
  const error = document.createElement("span");
  error.className = "error";
  error.textContent = message;
  if (link) {
    error.append(" ");
    error.append(link);
  }
  if (file) {
    const retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = "Retry";
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
    xhr.open("POST", "/upload");
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    const bar = li.querySelector("progress");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) {
        bar.value = Math.round((e.loaded / e.total) * 100);
        li.querySelector(".state").textContent = `${bar.value}%`;
      }
    });
    xhr.addEventListener("load", () => resolve(xhr));
    xhr.addEventListener("error", () => resolve(null));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
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
  let xhr = await sendWithProgress(file, li);
  if (xhr && xhr.status === 401) {
    await askForKey();
    li.querySelector("progress").value = 0;
    xhr = await sendWithProgress(file, li);
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
      const link = document.createElement("a");
      link.href = "#" + body.id;
      link.textContent = "open it";
      link.addEventListener("click", (e) => { e.preventDefault(); openDetail(body.id); });
      state.append(" · ", link);
    } else {
      state.textContent = "uploaded";
      addTile(body, true);
      watchProcessing(body);
    }
  } else {
    showError(li, body.detail || `HTTP ${xhr.status}`, xhr.status >= 500 ? file : null);
  }
}

function uploadFiles(files) {
  for (const file of files) uploadFile(file);
}

// ---- Gallery ----------------------------------------------------------------------------------
let cursor = null;
let loading = false;
let exhausted = false;

function filterQuery() {
  const params = new URLSearchParams({ limit: "30" });
  const type = $("filter-type").value;
  const tag = $("filter-tag").value.trim();
  const from = $("filter-from").value;
  const to = $("filter-to").value;
  if (type) params.set("content_type", type);
  if (tag) params.set("tag", tag);
  if (from) params.set("from", `${from}T00:00:00Z`);
  if (to) params.set("to", `${to}T23:59:59.999Z`);
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

/** Loads an image URL with the API key (img src cannot carry headers) into `img`. */
async function loadInto(img, url) {
  if (!apiKey) {
    img.src = url;
    return;
  }
  const response = await api(url);
  if (!response.ok) return;
  img.src = URL.createObjectURL(await response.blob());
}

function tileFor(record) {
  const li = document.createElement("li");
  li.dataset.id = record.id;
  const button = document.createElement("button");
  button.className = "tile";
  button.type = "button";
  button.setAttribute("aria-label", `Open ${record.filename}`);
  const canvas = document.createElement("canvas");
  paintPlaceholder(canvas, record);
  const img = document.createElement("img");
  img.alt = record.filename;
  img.loading = "lazy";
  img.addEventListener("load", () => img.classList.add("loaded"));
  const variant = record.variants && record.variants.thumb ? "thumb" : "original";
  if (record.status !== "failed") loadInto(img, `/images/${record.id}/content?variant=${variant}`);
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

function addTile(record, atTop) {
  const existing = document.querySelector(`#gallery li[data-id="${record.id}"]`);
  const tile = tileFor(record);
  if (existing) existing.replaceWith(tile);
  else if (atTop) $("gallery").prepend(tile);
  else $("gallery").append(tile);
}

/** Polls a record until it leaves `processing`, then redraws its tile. */
async function watchProcessing(record) {
  let current = record;
  for (let i = 0; i < 60 && current.status === "processing"; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const response = await api(`/images/${record.id}`);
    if (!response.ok) return;
    current = await response.json();
  }
  if (current.status !== "processing") addTile(current, false);
}

async function loadMore() {
  if (loading || exhausted) return;
  loading = true;
  $("gallery-status").textContent = "Loading…";
  const params = filterQuery();
  if (cursor) params.set("cursor", cursor);
  const response = await api(`/images?${params}`);
  if (!response.ok) {
    $("gallery-status").textContent = await problemText(response);
    loading = false;
    return;
  }
  const page = await response.json();
  for (const record of page.items) {
    addTile(record, false);
    if (record.status === "processing") watchProcessing(record);
  }
  cursor = page.next_cursor;
  exhausted = !cursor;
  const count = $("gallery").children.length;
  $("gallery-status").textContent = count === 0 ? "No images yet." : exhausted ? `${count} image(s).` : "";
  loading = false;
  // Keep loading while the sentinel is still visible (a tall screen, few images per page).
  if (!exhausted && isVisible($("sentinel"))) loadMore();
}

function isVisible(el) {
  const r = el.getBoundingClientRect();
  return r.top < window.innerHeight && r.bottom >= 0;
}

function resetGallery() {
  cursor = null;
  exhausted = false;
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

async function openDetail(id) {
  const response = await api(`/images/${id}`);
  if (!response.ok) return;
  const record = await response.json();
  detailId = id;
  $("detail-title").textContent = record.filename;
  const variant = record.variants && record.variants.medium ? "medium" : "original";
  $("detail-image").alt = record.filename;
  loadInto($("detail-image"), `/images/${id}/content?variant=${variant}`);
  fillList($("detail-facts"), [
    ["Type", record.content_type],
    ["Size", humanBytes(record.size_bytes)],
    ["Dimensions", `${record.width} × ${record.height}`],
    ["Uploaded", new Date(record.uploaded_at).toLocaleString()],
    ["Status", record.status],
    ["SHA-256", record.sha256],
  ]);
  const exif = record.exif || {};
  fillList($("detail-exif"), [
    ["Make", exif.make], ["Model", exif.model], ["Lens", exif.lens], ["Taken", exif.taken_at],
    ["Exposure", exif.exposure], ["f-number", exif.f_number], ["ISO", exif.iso],
    ["Focal length", exif.focal_length_mm && `${exif.focal_length_mm} mm`],
  ]);
  if (!$("detail-exif").children.length) fillList($("detail-exif"), [["EXIF", "none"]]);
  $("detail-tags").value = (record.tags || []).join(", ");
  $("detail-description").value = record.description || "";
  $("detail-saved").textContent = "";
  $("detail-download").href = `/images/${id}/content`;
  $("detail-download").download = record.filename;
  $("detail").showModal();
}

async function saveDetail(event) {
  event.preventDefault();
  const tags = $("detail-tags").value.split(",").map((t) => t.trim()).filter(Boolean);
  const response = await api(`/images/${detailId}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ tags, description: $("detail-description").value }),
  });
  $("detail-saved").textContent = response.ok ? "Saved." : await problemText(response);
  if (response.ok) addTile(await response.json(), false);
}

async function deleteDetail() {
  if (!confirm("Delete this image and all its variants? This cannot be undone.")) return;
  const response = await api(`/images/${detailId}`, { method: "DELETE" });
  if (response.status === 204) {
    document.querySelector(`#gallery li[data-id="${detailId}"]`)?.remove();
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
    if (e.key === "Enter" || e.key === " ") {
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
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    uploadFiles(e.dataTransfer.files);
  });
  for (const id of ["filter-type", "filter-tag", "filter-from", "filter-to"]) {
    $(id).addEventListener("change", resetGallery);
  }
  $("detail-edit").addEventListener("submit", saveDetail);
  $("detail-delete").addEventListener("click", deleteDetail);
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }).observe($("sentinel"));
  loadMore();
}

init();
