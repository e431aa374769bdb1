// glassnet live training view: follows the run's diagnostics record (/api/live/record) and draws it.
// Shown when the server follows a run ("glassnet train --watch" or "glassnet serve RUN --live").
"use strict";

const live = { records: [], offset: 0, state: null, ticks: [], steps: [], epochs: [], meta: null, polls: 0 };
window.glassnetLive = live;            // for tests and the curious
const COLORS = ["#2f6fed", "#e8590c", "#17a34a", "#c2255c", "#7048e8", "#0c8599", "#e67700", "#495057",
                "#d6336c", "#5c940d"];

function showView(name) {
  document.getElementById("draw-view").hidden = name !== "draw";
  document.getElementById("training-view").hidden = name !== "training";
  document.getElementById("tab-draw").classList.toggle("active", name === "draw");
  document.getElementById("tab-training").classList.toggle("active", name === "training");
  if (name === "training") redraw();
}
window.addEventListener("hashchange", () => showView(location.hash === "#training" ? "training" : "draw"));

// ---- charts on a canvas: lines, dots, an optional dashed reference line --------------------------------
function lineChart(canvas, series, { logY = false, hline = null, percent = false } = {}) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, left = 56, right = 10, top = 22, bottom = 24;
  ctx.clearRect(0, 0, W, H);
  const points = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[1]) && (!logY || p[1] > 0));
  if (!points.length) { ctx.fillStyle = "#6b7385"; ctx.fillText("no data yet", left, H / 2); return; }
  const fy = (v) => (logY ? Math.log10(v) : v);
  let [x0, x1] = [Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0]))];
  let ys = points.map((p) => fy(p[1])).concat(hline !== null ? [fy(hline)] : []);
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { const pad = Math.abs(y0) * 0.1 || 0.05; y0 -= pad; y1 += pad; }   // a flat line, centred
  if (percent) y0 = Math.max(0, y0);
  const X = (x) => left + (x - x0) / (x1 - x0) * (W - left - right);
  const Y = (y) => top + (1 - (fy(y) - y0) / (y1 - y0)) * (H - top - bottom);
  ctx.strokeStyle = "#ccd3e0"; ctx.lineWidth = 1; ctx.strokeRect(left, top, W - left - right, H - top - bottom);
  ctx.fillStyle = "#6b7385"; ctx.font = "11px system-ui, sans-serif";
  const label = (v) => (percent ? `${(100 * v).toFixed(1)}%` : logY ? v.toExponential(0) : v.toPrecision(3));
  for (const v of [y0, (y0 + y1) / 2, y1]) {
    const value = logY ? 10 ** v : v;
    ctx.fillText(label(value), 2, Y(value) + 4);
  }
  ctx.fillText(`step ${Math.round(x0)}`, left, H - 6);
  ctx.fillText(`${Math.round(x1)}`, W - right - 40, H - 6);
  if (hline !== null) {
    ctx.setLineDash([5, 4]); ctx.strokeStyle = "#1d2433";
    ctx.beginPath(); ctx.moveTo(left, Y(hline)); ctx.lineTo(W - right, Y(hline)); ctx.stroke(); ctx.setLineDash([]);
  }
  let legendX = left;
  series.forEach((s) => {
    const shown = s.points.filter((p) => Number.isFinite(p[1]) && (!logY || p[1] > 0));
    ctx.strokeStyle = ctx.fillStyle = s.color;
    if (s.dots) {
      shown.forEach((p) => { ctx.beginPath(); ctx.arc(X(p[0]), Y(p[1]), 3, 0, 2 * Math.PI); ctx.fill(); });
    } else {
      ctx.lineWidth = 1.5; ctx.beginPath();
      shown.forEach((p, i) => (i ? ctx.lineTo(X(p[0]), Y(p[1])) : ctx.moveTo(X(p[0]), Y(p[1]))));
      ctx.stroke();
    }
    ctx.fillText(s.name, legendX, 14);
    legendX += ctx.measureText(s.name).width + 14;
  });
}

function tensorSeries(key) {
  const names = live.meta ? live.meta.params : [];
  return names.map((name, i) => ({ name, color: COLORS[i % COLORS.length],
    points: live.steps.filter((r) => r[key] && name in r[key]).map((r) => [r.step, r[key][name]]) }));
}

// ---- pictures ---------------------------------------------------------------------------------------------
function paintTiles(canvas, values, tiles, perRow, side, color, max) {
  const rows = Math.ceil(tiles / perRow);
  canvas.width = perRow * (side + 1) + 1; canvas.height = rows * (side + 1) + 1;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(canvas.width, canvas.height);
  image.data.fill(255);
  for (let t = 0; t < tiles; t++) {
    const ox = 1 + (t % perRow) * (side + 1), oy = 1 + Math.floor(t / perRow) * (side + 1);
    for (let i = 0; i < side * side; i++) {
      const [r, g, b] = color(values[t * side * side + i], max);
      image.data.set([r, g, b, 255], 4 * ((oy + Math.floor(i / side)) * canvas.width + ox + (i % side)));
    }
  }
  ctx.putImageData(image, 0, 0);
}

function drawConfusion(canvas, matrix) {
  const ctx = canvas.getContext("2d"), n = matrix.length, cell = (canvas.width - 20) / n;
  const max = Math.log1p(Math.max(...matrix.flat()));
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "10px system-ui, sans-serif";
  matrix.forEach((row, t) => row.forEach((count, p) => {
    const [r, g, b] = heat(Math.log1p(count), max);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(20 + p * cell, 20 + t * cell, cell - 1, cell - 1);
    if (t !== p && count) { ctx.fillStyle = "#fff"; ctx.fillText(String(count), 22 + p * cell, 32 + t * cell); }
  }));
  ctx.fillStyle = "#6b7385";
  for (let i = 0; i < n; i++) { ctx.fillText(String(i), 24 + i * cell, 12); ctx.fillText(String(i), 6, 34 + i * cell); }
}

function drawPca(canvas, points, labels) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  if (!points.length) return;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  points.forEach((p, i) => {
    ctx.fillStyle = COLORS[labels[i] % COLORS.length];
    ctx.beginPath();
    ctx.arc(8 + (p[0] - x0) / (x1 - x0 || 1) * (W - 16), H - 8 - (p[1] - y0) / (y1 - y0 || 1) * (H - 16), 2.2, 0, 2 * Math.PI);
    ctx.fill();
  });
  document.getElementById("pca-legend").innerHTML =
    COLORS.map((c, d) => `<span style="color:${c}">● ${d}</span>`).join(" ");
}

function drawHistograms(activations) {
  const box = document.getElementById("histograms");
  box.replaceChildren();
  activations.filter((a) => !a.layer.endsWith("Dropout")).forEach((a) => {
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.width = 150; canvas.height = 70;
    const ctx = canvas.getContext("2d"), max = Math.max(...a.counts);
    ctx.fillStyle = "#2f6fed";
    a.counts.forEach((c, i) => { const h = c / max * 60; ctx.fillRect(i * 5, 66 - h, 4, h); });
    const caption = document.createElement("figcaption");
    caption.textContent = `${a.layer}: mean ${a.mean.toFixed(2)}, std ${a.std.toFixed(2)}` +
      (a.dead === null ? "" : `, dead ${(100 * a.dead).toFixed(1)}%`);
    figure.append(canvas, caption);
    box.append(figure);
  });
}

function drawMistakes(mistakes) {
  const box = document.getElementById("mistakes");
  box.replaceChildren();
  mistakes.forEach((m) => {
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 28;
    paintGray(canvas, m.pixels.map((v) => v / 255), 28, 28);
    const caption = document.createElement("figcaption");
    caption.textContent = `${m.label}→${m.predicted} (${Math.round(100 * m.confidence)}%)`;
    figure.append(canvas, caption);
    box.append(figure);
  });
}

// ---- the whole view -----------------------------------------------------------------------------------------
function redraw() {
  if (document.getElementById("training-view").hidden) return;
  const steps = live.steps, epochs = live.epochs, ticks = live.ticks;
  lineChart(document.getElementById("chart-loss"), [
    { name: "batch (smoothed)", color: COLORS[0], points: ticks.map((r) => [r.step, r.loss_smooth]) },
    { name: "train", color: COLORS[1], dots: true, points: epochs.map((r) => [r.step, r.train_loss]) },
    { name: "evaluation", color: COLORS[2], dots: true, points: epochs.map((r) => [r.step, r.eval_loss]) },
  ], { logY: true });
  lineChart(document.getElementById("chart-accuracy"), [
    { name: "batch (smoothed)", color: COLORS[0], points: ticks.map((r) => [r.step, r.accuracy_smooth]) },
    { name: "train", color: COLORS[1], dots: true, points: epochs.map((r) => [r.step, r.train_accuracy]) },
    { name: "evaluation", color: COLORS[2], dots: true, points: epochs.map((r) => [r.step, r.eval_accuracy]) },
  ], { percent: true });
  lineChart(document.getElementById("chart-lr"), [{ name: "learning rate", color: COLORS[4],
    points: ticks.map((r) => [r.step, r.lr]) }], {});
  lineChart(document.getElementById("chart-grads"), tensorSeries("grad_norms"), { logY: true });
  lineChart(document.getElementById("chart-updates"), tensorSeries("update_ratios"), { logY: true, hline: 1e-3 });
  const reluLayers = steps.length ? steps[steps.length - 1].activations.filter((a) => a.dead !== null) : [];
  lineChart(document.getElementById("chart-dead"), reluLayers.map((a, i) => ({ name: a.layer, color: COLORS[i],
    points: steps.map((r) => [r.step, r.activations.find((b) => b.layer === a.layer).dead]) })), { percent: true });
  if (steps.length) {
    const last = steps[steps.length - 1];
    drawHistograms(last.activations);
    document.getElementById("bn-ranges").innerHTML = Object.entries(last.batchnorm).map(([layer, r]) =>
      `layer ${layer}: γ ∈ [${r[0].toFixed(3)}, ${r[1].toFixed(3)}], β ∈ [${r[2].toFixed(3)}, ${r[3].toFixed(3)}]`)
      .join("<br>") || "no batch norm in this network";
  }
  if (epochs.length) {
    const last = epochs[epochs.length - 1];
    paintTiles(document.getElementById("mosaic"), last.mosaic.values, last.mosaic.units, 4, 28, diverging, 99);
    drawConfusion(document.getElementById("confusion"), last.confusion);
    drawMistakes(last.mistakes);
    drawPca(document.getElementById("pca"), last.pca, live.meta ? live.meta.probe_labels : []);
  }
}

function describeState() {
  const s = live.state, last = live.ticks[live.ticks.length - 1], epoch = live.epochs[live.epochs.length - 1];
  const where = `${epoch ? `epoch ${epoch.epoch} done (evaluation accuracy ${(100 * epoch.eval_accuracy).toFixed(2)}%)` :
    "first epoch running"}${last ? `, step ${last.step}` : ""}`;
  let text = `${where}.`;
  if (s.finished) text = `Finished: ${where}. This is the replay of the run's record.`;
  else if (s.stopping) text = `Stopping: ${where}. The last checkpoint is kept; continue with --resume.`;
  else if (s.paused_at_step !== null && s.paused_at_step !== undefined) text = `Paused at step ${s.paused_at_step}. ${where}.`;
  else if (s.paused) text = `Pausing… ${where}.`;
  if (!s.controllable && !s.finished) text += " (Following the run: only 'glassnet train --watch' can pause it.)";
  document.getElementById("run-status").textContent = text;
  const running = s.controllable && !s.finished && !s.stopping;
  document.getElementById("pause").disabled = !running || s.paused;
  document.getElementById("resume").disabled = !running || !s.paused;
  document.getElementById("stop").disabled = !running;
}

async function poll() {
  try {
    const stateResponse = await fetch("/api/live/state");
    if (!stateResponse.ok) return;                     // this server follows no run
    live.state = await stateResponse.json();
    if (document.getElementById("tabs").hidden) {
      document.getElementById("tabs").hidden = false;
      document.getElementById("live-subtitle").hidden = false;
      document.getElementById("run-name").textContent = live.state.run;
      showView(location.hash === "#training" ? "training" : "draw");
    }
    let fresh = false;
    for (;;) {                                         // a long replay arrives in pieces
      const response = await fetch(`/api/live/record?offset=${live.offset}`);
      const piece = await response.json();
      if (!response.ok || !piece.records.length) break;
      live.offset = piece.offset;
      fresh = true;
      for (const record of piece.records) {
        live.records.push(record);
        if (record.kind === "meta") live.meta = record;
        else if (record.kind === "step") { live.steps.push(record); live.ticks.push(record); }
        else if (record.kind === "tick") live.ticks.push(record);
        else if (record.kind === "epoch") live.epochs.push(record);
      }
    }
    live.polls += 1;
    describeState();
    if (fresh) redraw();
  } catch (error) {
    setStatus(`Live view: ${error.message}`);
  } finally {
    setTimeout(poll, 1000);
  }
}

async function control(action) {
  const response = await fetch("/api/live/control", { method: "POST",
    headers: { "Content-Type": "application/json", "X-Glassnet-Token": live.state.token },
    body: JSON.stringify({ action }) });
  const answer = await response.json();
  if (!response.ok) { setStatus(`Error: ${answer.error}`); return; }
  live.state = answer;
  describeState();
}
for (const action of ["pause", "resume", "stop"]) {
  document.getElementById(action).addEventListener("click", () => control(action));
}
poll();
