// The playground: every operation of this server, its form built from /openapi.json, run
// through the same public API any client uses (submit -> poll -> download). No build step,
// no dependencies. The key lives in sessionStorage; this browser's jobs in localStorage.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "photoserve.key";
const HISTORY = "photoserve.history";
const INPUTS = new Set(["image", "from_job", "mask", "reference_image"]);
const state = { ops: {}, photo: null, photoUrl: "", points: [], painted: false, drawing: false };
const maskCanvas = document.createElement("canvas"); // white on black: what is sent

function showError(error) {
  const box = $("error");
  box.textContent = error ? String(error.message || error) : "";
  box.hidden = !error;
}

async function api(path, options = {}) {
  const headers = { "x-api-key": sessionStorage.getItem(KEY) || "", ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let body = {};
    try { body = await response.json(); } catch (_) { /* not the API's envelope */ }
    throw new Error(`${body.error || response.status}: ${body.detail || response.statusText}`);
  }
  return response;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- operations and their forms -------------------------------------------------------

async function loadOperations() {
  const spec = await (await fetch("/openapi.json")).json();
  for (const [path, item] of Object.entries(spec.paths)) {
    const post = item.post;
    if (!path.startsWith("/v1/") || !post || !(post.tags || []).includes("operations")) continue;
    const name = path.slice(4);
    const body = post.requestBody.content["multipart/form-data"].schema.properties;
    state.ops[name] = { summary: post.summary, description: post.description, fields: body };
    $("operation").add(new Option(`${name}: ${post.summary}`, name));
  }
  $("operation").value = state.ops.upscale ? "upscale" : Object.keys(state.ops)[0];
  selectOperation();
}

function control(name, schema) {
  if (schema.enum) {
    const select = document.createElement("select");
    const fallback = schema.default === undefined || schema.default === null ? "" : `: ${schema.default}`;
    select.add(new Option(`(default${fallback})`, ""));
    for (const value of schema.enum) select.add(new Option(String(value), String(value)));
    return select;
  }
  const input = document.createElement("input");
  if (schema.type === "boolean") {
    input.type = "checkbox";
    input.checked = schema.default === true;
    input.dataset.default = String(schema.default === true);
  } else if (schema.type === "integer" || schema.type === "number") {
    input.type = "number";
    input.step = schema.type === "number" ? "any" : "1";
    if (schema.minimum !== undefined) input.min = schema.minimum;
    if (schema.maximum !== undefined) input.max = schema.maximum;
  } else {
    input.type = "text";
  }
  if (schema.default !== undefined && schema.default !== null) input.placeholder = String(schema.default);
  return input;
}

function field(name, schema) {
  const wrap = document.createElement("div");
  wrap.className = "field";
  const input = control(name, schema);
  input.id = `param-${name}`;
  input.name = name;
  const label = document.createElement("label");
  label.htmlFor = input.id;
  label.textContent = name.replaceAll("_", " ");
  wrap.append(label, input);
  if (schema.description) {
    const hint = document.createElement("small");
    hint.id = `${input.id}-hint`;
    hint.textContent = schema.description;
    input.setAttribute("aria-describedby", hint.id);
    wrap.append(hint);
  }
  return wrap;
}

function selectOperation() {
  const op = state.ops[$("operation").value];
  $("operation-help").textContent = op.description || "";
  const params = $("params");
  params.replaceChildren(params.querySelector("legend"));
  for (const [name, schema] of Object.entries(op.fields)) {
    if (!INPUTS.has(name)) params.append(field(name, schema));
  }
  $("photo-box").hidden = !op.fields.image;
  $("reference-box").hidden = !op.fields.reference_image;
  $("mask-tools").hidden = !(op.fields.mask || op.fields.points);
  $("canvas-box").hidden = !op.fields.image || !state.photo;
  clearMask();
}

// --- the photo, the mask, the clicks ---------------------------------------------------

function usePhoto(file) {
  if (!file) return;
  state.photo = file;
  if (state.photoUrl) URL.revokeObjectURL(state.photoUrl);
  state.photoUrl = URL.createObjectURL(file);
  $("preview").src = state.photoUrl;
  $("canvas-box").hidden = false;
}

function fit(image) {
  // as wide as the page allows and at most 60% of the window's height, small photos enlarged
  const room = image.parentElement.parentElement.clientWidth;
  const scale = Math.min(room / image.naturalWidth, (0.6 * window.innerHeight) / image.naturalHeight);
  image.style.width = `${Math.floor(image.naturalWidth * scale)}px`;
}

function sizeCanvases() {
  fit($("preview"));
  for (const canvas of [$("mask"), maskCanvas]) {
    canvas.width = $("preview").naturalWidth;
    canvas.height = $("preview").naturalHeight;
  }
  clearMask();
}

function clearMask() {
  const visible = $("mask").getContext("2d");
  visible.clearRect(0, 0, $("mask").width, $("mask").height);
  const mask = maskCanvas.getContext("2d");
  mask.fillStyle = "#000";
  mask.fillRect(0, 0, maskCanvas.width, maskCanvas.height);
  state.points = [];
  state.painted = false;
}

function at(event) {
  const box = $("mask").getBoundingClientRect();
  const scale = $("mask").width / box.width;
  return [Math.round((event.clientX - box.left) * scale), Math.round((event.clientY - box.top) * scale)];
}

const tool = () => document.querySelector("input[name=tool]:checked").value;

function stroke(from, to) {
  const width = Number($("brush-size").value) * ($("mask").width / $("mask").getBoundingClientRect().width);
  for (const [canvas, colour] of [[$("mask"), "rgba(255, 40, 120, 0.55)"], [maskCanvas, "#fff"]]) {
    const ctx = canvas.getContext("2d");
    Object.assign(ctx, { strokeStyle: colour, lineWidth: width, lineCap: "round", lineJoin: "round" });
    ctx.beginPath();
    ctx.moveTo(...from);
    ctx.lineTo(...to);
    ctx.stroke();
  }
  state.painted = true;
}

function click(point) {
  state.points.push([point[0], point[1], 1]);
  const ctx = $("mask").getContext("2d");
  ctx.fillStyle = "rgba(40, 200, 120, 0.9)";
  ctx.beginPath();
  ctx.arc(point[0], point[1], Math.max(4, $("mask").width / 80), 0, 2 * Math.PI);
  ctx.fill();
}

function pointerDown(event) {
  if ($("mask-tools").hidden) return;
  const point = at(event);
  if (tool() === "click") return click(point);
  state.drawing = point;
  $("mask").setPointerCapture(event.pointerId);
  stroke(point, point);
}

function pointerMove(event) {
  if (!state.drawing) return;
  const point = at(event);
  stroke(state.drawing, point);
  state.drawing = point;
}

const maskBlob = () => new Promise((resolve) => maskCanvas.toBlob(resolve, "image/png"));

// --- running a job ----------------------------------------------------------------------

async function formData(name) {
  const op = state.ops[name];
  const form = new FormData();
  if (op.fields.image) {
    if (!state.photo) throw new Error("Choose a photo first.");
    form.append("image", state.photo, state.photo.name);
  }
  const reference = $("reference").files[0];
  if (op.fields.reference_image && reference) form.append("reference_image", reference, reference.name);
  if (op.fields.mask && state.painted) form.append("mask", await maskBlob(), "mask.png");
  else if (op.fields.points && state.points.length) form.append("points", JSON.stringify(state.points));
  for (const input of $("params").querySelectorAll("input, select")) {
    if (input.type === "checkbox") {
      if (String(input.checked) !== input.dataset.default) form.append(input.name, String(input.checked));
    } else if (input.value !== "") {
      form.append(input.name, input.value);
    }
  }
  return form;
}

function idempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

async function run(event) {
  event.preventDefault();
  showError(null);
  const name = $("operation").value;
  $("run").disabled = true;
  try {
    const body = await formData(name);
    const headers = { "Idempotency-Key": idempotencyKey() };
    const response = await api(`/v1/${name}?wait=0`, { method: "POST", body, headers });
    const job = await response.json();
    remember(job.job_id, name);
    await follow(job.job_id, state.photoUrl);
  } catch (error) {
    showError(error);
  } finally {
    $("run").disabled = false;
    refreshCredits();
  }
}

async function follow(jobId, beforeUrl) {
  $("job").hidden = false;
  $("job-id").textContent = jobId;
  $("compare").hidden = true;
  for (;;) {
    const job = await (await api(`/v1/jobs/${jobId}`)).json();
    $("progress").value = job.progress || 0;
    $("status").textContent = `${job.status} (${job.progress || 0}%)`;
    if (job.status === "done") return showResult(job, beforeUrl);
    if (job.status === "failed") throw new Error(`${job.error.code}: ${job.error.detail}`);
    await sleep(1000 * Math.min(job.polling_interval || 1, 2));
  }
}

const EXTENSIONS = { "image/jpeg": "jpg", "image/webp": "webp" };

async function showResult(job, beforeUrl) {
  const blob = await (await api(`/v1/jobs/${job.job_id}/download`)).blob();
  const url = URL.createObjectURL(blob);
  $("after").src = url;
  $("before").onload = () => fit($("before"));
  $("before").src = beforeUrl || url;
  $("download").href = url;
  $("download").download = `${job.job_id}.${EXTENSIONS[blob.type] || "png"}`;
  $("compare").hidden = false;
  split();
}

function split() {
  const right = 100 - Number($("slider").value);
  $("after-clip").style.clipPath = `inset(0 ${right}% 0 0)`;
}

// --- key, credits, history -------------------------------------------------------------

async function refreshCredits() {
  if (!sessionStorage.getItem(KEY)) return;
  try {
    const balance = await (await api("/v1/credits")).json();
    $("credits").textContent = `${balance.credits.total} credits left`;
  } catch (error) {
    $("credits").textContent = "";
    showError(error);
  }
}

function useKey(event) {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("api-key").value.trim());
  showError(null);
  refreshCredits();
}

function remember(jobId, operation) {
  const jobs = JSON.parse(localStorage.getItem(HISTORY) || "[]");
  jobs.unshift({ id: jobId, operation, at: new Date().toISOString() });
  localStorage.setItem(HISTORY, JSON.stringify(jobs.slice(0, 50)));
  renderHistory();
}

function renderHistory() {
  const jobs = JSON.parse(localStorage.getItem(HISTORY) || "[]");
  $("history").replaceChildren(...jobs.map((job) => {
    const item = document.createElement("li");
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = `${job.operation} ${job.id}`;
    open.addEventListener("click", () => follow(job.id, "").catch(showError));
    const when = document.createElement("small");
    when.textContent = ` ${new Date(job.at).toLocaleString()}`;
    item.append(open, when);
    return item;
  }));
}

function wire() {
  $("key-form").addEventListener("submit", useKey);
  $("job-form").addEventListener("submit", run);
  $("operation").addEventListener("change", selectOperation);
  $("photo").addEventListener("change", () => usePhoto($("photo").files[0]));
  $("preview").addEventListener("load", sizeCanvases);
  $("clear-mask").addEventListener("click", clearMask);
  $("slider").addEventListener("input", split);
  $("mask").addEventListener("pointerdown", pointerDown);
  $("mask").addEventListener("pointermove", pointerMove);
  for (const end of ["pointerup", "pointercancel"]) $("mask").addEventListener(end, () => { state.drawing = false; });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    usePhoto(event.dataTransfer.files[0]);
  });
}

window.addEventListener("DOMContentLoaded", () => {
  wire();
  $("api-key").value = sessionStorage.getItem(KEY) || "";
  renderHistory();
  refreshCredits();
  loadOperations().catch(showError);
});
