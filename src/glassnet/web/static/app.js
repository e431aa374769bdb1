// glassnet draw-a-digit page: draw on the pad, send the drawing to /api/predict, show what comes back.
"use strict";

const pad = document.getElementById("pad");
const padCtx = pad.getContext("2d");
const SEND_SIDE = 112;                 // the drawing is sent at 112×112; the server makes it 28×28
const state = { drawing: false, last: null, pending: false, dirty: false, lastRequest: null, lastResponse: null };
window.glassnet = state;               // for tests and the curious: the last request and response

function clearPad() {
  padCtx.fillStyle = "#000";
  padCtx.fillRect(0, 0, pad.width, pad.height);
  document.getElementById("truth").textContent = "";
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return { x: (event.clientX - box.left) * pad.width / box.width, y: (event.clientY - box.top) * pad.height / box.height };
}

function stroke(from, to) {
  padCtx.strokeStyle = "#fff";
  padCtx.lineWidth = 20;
  padCtx.lineCap = "round";
  padCtx.lineJoin = "round";
  padCtx.beginPath();
  padCtx.moveTo(from.x, from.y);
  padCtx.lineTo(to.x, to.y);
  padCtx.stroke();
}

pad.addEventListener("pointerdown", (event) => {
  pad.setPointerCapture(event.pointerId);
  state.drawing = true;
  state.last = point(event);
  stroke(state.last, state.last);
  document.getElementById("truth").textContent = "";
  schedulePredict();
});
pad.addEventListener("pointermove", (event) => {
  if (!state.drawing) return;
  const next = point(event);
  stroke(state.last, next);
  state.last = next;
  schedulePredict();
});
for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
  pad.addEventListener(type, () => { if (state.drawing) { state.drawing = false; schedulePredict(); } });
}

function drawingAsRows() {
  const small = document.createElement("canvas");
  small.width = small.height = SEND_SIDE;
  const ctx = small.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(pad, 0, 0, SEND_SIDE, SEND_SIDE);
  const data = ctx.getImageData(0, 0, SEND_SIDE, SEND_SIDE).data;
  const rows = [];
  for (let r = 0; r < SEND_SIDE; r++) {
    const row = new Array(SEND_SIDE);
    for (let c = 0; c < SEND_SIDE; c++) row[c] = Math.round(data[4 * (r * SEND_SIDE + c)] / 255 * 1000) / 1000;
    rows.push(row);
  }
  return rows;
}

function schedulePredict() {
  state.dirty = true;
  if (!state.pending) requestAnimationFrame(predict);
}

async function predict() {
  if (state.pending || !state.dirty) return;
  state.pending = true;
  state.dirty = false;
  const request = { image: drawingAsRows() };
  try {
    const response = await fetch("/api/predict", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request) });
    const result = await response.json();
    if (response.status === 503) { drawStatus(result.error); return; }   // a live run before its first checkpoint
    if (!response.ok) throw new Error(result.error || response.statusText);
    state.lastRequest = request;
    state.lastResponse = result;
    show(result);
    drawStatus(result.blank ? "Nothing drawn yet: draw a digit on the pad." : "");
  } catch (error) {
    drawStatus(`Error: ${error.message}`);
  } finally {
    state.pending = false;
    if (state.dirty) requestAnimationFrame(predict);
  }
}

function drawStatus(text) { document.getElementById("draw-status").textContent = text; }   // on the Draw view only

function paintGray(canvas, values, rows, cols) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(cols, rows);
  values.forEach((v, i) => {
    const g = Math.max(0, Math.min(255, Math.round(v * 255)));
    image.data.set([g, g, g, 255], 4 * i);
  });
  const tmp = document.createElement("canvas");
  tmp.width = cols; tmp.height = rows;
  tmp.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}

function heat(value, max) {             // 0 → black, max → yellow-white ("inferno"-like)
  const t = max > 0 ? Math.min(1, value / max) : 0;
  return [Math.round(255 * Math.min(1, 1.6 * t)), Math.round(255 * Math.max(0, 1.4 * t - 0.4)), Math.round(255 * Math.max(0, 2.5 * t - 1.5))];
}

function diverging(value, max) {        // blue (negative) – white – red (positive)
  const t = max > 0 ? Math.max(-1, Math.min(1, value / max)) : 0;
  return t >= 0 ? [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))] : [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
}

function paintColors(canvas, values, cols, color) {
  const rows = Math.ceil(values.length / cols);
  canvas.width = cols; canvas.height = rows;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(cols, rows);
  const max = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);   // no spread: a layer may be wide
  values.forEach((v, i) => image.data.set([...color(v, max), 255], 4 * i));
  ctx.putImageData(image, 0, 0);
}

function show(result) {
  paintGray(document.getElementById("seen"), result.input.flat(), 28, 28);
  const saliency = document.getElementById("saliency");
  paintColors(saliency, result.blank ? new Array(784).fill(0) : result.saliency.flat(), 28, diverging);
  document.getElementById("answer").textContent = result.blank ? "–" : String(result.prediction);
  const bars = document.getElementById("bars");
  bars.replaceChildren();
  result.probabilities.forEach((p, digit) => {
    const label = document.createElement("span"); label.textContent = digit;
    const bar = document.createElement("div"); bar.className = "bar" + (digit === result.prediction ? " top" : "");
    bar.dataset.digit = digit;
    const fill = document.createElement("span"); fill.style.width = `${(100 * p).toFixed(1)}%`;
    bar.append(fill);
    const value = document.createElement("span"); value.className = "p"; value.textContent = `${(100 * p).toFixed(1)}%`;
    bars.append(label, bar, value);
  });
  const layers = document.getElementById("layers");
  layers.replaceChildren();
  result.activations.forEach((layer) => {
    const cols = Math.ceil(Math.sqrt(layer.size));
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.className = "activation";
    paintColors(canvas, layer.values, cols, heat);
    canvas.style.width = `${cols * 12}px`;
    canvas.style.height = `${Math.ceil(layer.size / cols) * 12}px`;
    const caption = document.createElement("figcaption");
    const active = layer.values.filter((v) => v > 0).length;
    caption.textContent = `${layer.name}: ${layer.size} units, ${active} active`;
    figure.append(canvas, caption);
    layers.append(figure);
  });
  const change = result.unit_images === "W - W0";
  document.getElementById("units-title").textContent = change
    ? "5 · The first-layer units that fired most: what training added, W − W₀"
    : "5 · The first-layer units that fired most: their weights W";
  document.getElementById("units-note").textContent = change
    ? "Each unit's weights minus their random start W₀, as a 28×28 image: red where training raised a weight " +
      "(ink there now excites the unit more), blue where it lowered it."
    : "Each unit's weights W as a 28×28 image (red excites, blue inhibits), random start W₀ included: this " +
      "model file does not say how it started, so what training added cannot be separated from it.";
  const units = document.getElementById("units");
  units.replaceChildren();
  result.top_units.forEach((unit) => {
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    paintColors(canvas, unit.weights.flat(), 28, diverging);
    const caption = document.createElement("figcaption");
    caption.textContent = `unit ${unit.unit}: ${unit.activation.toFixed(2)}`;
    figure.append(canvas, caption);
    units.append(figure);
  });
}

document.getElementById("clear").addEventListener("click", () => { clearPad(); schedulePredict(); });
document.getElementById("sample").addEventListener("click", async () => {
  try {
    const response = await fetch("/api/sample");
    const result = await response.json();
    if (!response.ok) throw new Error(result.error || response.statusText);
    const tmp = document.createElement("canvas");
    tmp.width = tmp.height = 28;
    const ctx = tmp.getContext("2d");
    const image = ctx.createImageData(28, 28);
    result.pixels.forEach((v, i) => { const g = Math.round(v * 255); image.data.set([g, g, g, 255], 4 * i); });
    ctx.putImageData(image, 0, 0);
    clearPad();
    padCtx.imageSmoothingEnabled = true;
    padCtx.drawImage(tmp, 0, 0, pad.width, pad.height);
    document.getElementById("truth").textContent = `Test digit #${result.index}, true label: ${result.label}`;
    schedulePredict();
  } catch (error) {
    drawStatus(`Error: ${error.message}`);
  }
});

clearPad();
schedulePredict();
