// glassnet live training view: follows the run's diagnostics record (/api/live/record) and draws it.
// Shown when the server follows a run ("glassnet train --watch" or "glassnet serve RUN --live").
// A record comes from a file anyone may have written, so every record goes through the readers below,
// which keep only values of the expected type and size: a damaged or hostile record shows what it can,
// its strings are only ever text (textContent, SVG text, attribute values, canvas), and nothing in it stops the page.
// The Training view asks one question per chart, one tensor or layer at a time, over one step range shared by
// every chart, and says beside each what a healthy run looks like.
"use strict";

const live = { taken: 0, offset: 0, state: null, ticks: [], steps: [], epochs: [], lastStep: null, lastEpoch: null,
  meta: null, end: null, polls: 0, skipped: { damaged: 0, too_long: 0 }, nonfinite: new Map(), domain: [0, 1],
  ruleOfThumb: 1e-3 };
window.glassnetLive = live;            // for tests and the curious
const COLORS = ["#2f6fed", "#e8590c", "#17a34a", "#c2255c", "#7048e8", "#0c8599", "#e67700", "#495057",
                "#d6336c", "#5c940d"];
// the most of each thing the view reads from one record, and keeps of a run (far above what glassnet writes)
const LIMITS = { names: 256, bins: 256, classes: 100, mistakes: 64, points: 10000, mosaicUnits: 64, notes: 100,
  kept: 20000 };

// ---- readers: a record's values, checked ------------------------------------------------------------------
const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
const int = (v) => (Number.isSafeInteger(v) ? v : null);
const str = (v) => (typeof v === "string" ? v.slice(0, 200) : "");
const list = (v, max) => (Array.isArray(v) ? v.slice(0, max) : []);
const nums = (v, max) => list(v, max).map(num);
const fixed = (v, length) => Array.from({ length }, (_, i) => (Array.isArray(v) ? num(v[i]) ?? 0 : 0));

function fields(v, max) {              // an object's first entries, as a Map (a key is never a property name)
  const entries = new Map();
  if (!isObject(v)) return entries;
  for (const key in v) {
    if (entries.size >= max) break;
    entries.set(key.slice(0, 200), v[key]);
  }
  return entries;
}

function readMeta(r) {
  return { params: list(r.params, LIMITS.names).map(str), layers: list(r.layers, LIMITS.names).map(str),
    probeLabels: list(r.probe_labels, LIMITS.points).map(int), ruleOfThumb: num(r.rule_of_thumb) };
}

function readTick(r) {
  return { step: num(r.step), loss: num(r.loss), accuracy: num(r.accuracy), loss_smooth: num(r.loss_smooth),
    accuracy_smooth: num(r.accuracy_smooth), lr: num(r.lr) };
}

function readActivation(a) {
  return { layer: str(a.layer), counts: nums(a.counts, LIMITS.bins).map((c) => c ?? 0), edges: fixed(a.edges, 2),
    mean: num(a.mean), std: num(a.std), dead: num(a.dead), notFinite: int(a.not_finite) ?? 0 };
}

function readStep(r) {
  const byName = (v) => new Map([...fields(v, LIMITS.names)].map(([name, x]) => [name, num(x)]));
  return { tick: readTick(r), grads: byName(r.grad_norms), updates: byName(r.update_ratios),
    activations: list(r.activations, LIMITS.names).filter(isObject).map(readActivation),
    batchnorm: [...fields(r.batchnorm, LIMITS.names)].map(([layer, range]) => [layer, fixed(range, 4)]) };
}

function readEpoch(r) {
  const rows = list(r.confusion, LIMITS.classes);
  return { figures: { epoch: int(r.epoch), step: num(r.step), train_loss: num(r.train_loss),
    eval_loss: num(r.eval_loss), train_accuracy: num(r.train_accuracy), eval_accuracy: num(r.eval_accuracy) },
    confusion: rows.map((row) => fixed(row, rows.length)),
    mistakes: list(r.mistakes, LIMITS.mistakes).filter(isObject).map((m) => ({ label: int(m.label),
      predicted: int(m.predicted), confidence: num(m.confidence), pixels: fixed(m.pixels, 784) })),
    pca: list(r.pca, LIMITS.points).map((p) => (Array.isArray(p) ? [num(p[0]), num(p[1])] : [null, null])),
    mosaic: readMosaic(r.mosaic) };
}

function readMosaic(m) {
  if (!isObject(m) || !Array.isArray(m.values)) return null;
  const units = Math.min(int(m.units) ?? 0, Math.floor(m.values.length / 784), LIMITS.mosaicUnits);
  return units > 0 ? { units, values: fixed(m.values, units * 784) } : null;
}

function noteNonfinite(r) {            // the statistics a record could not give, for the note under the title
  for (const [pointer, value] of fields(r.nonfinite, LIMITS.notes)) {
    const seen = live.nonfinite.get(pointer);
    if (seen) { seen.count += 1; seen.last = num(r.step); }
    else if (live.nonfinite.size < LIMITS.notes) {
      live.nonfinite.set(pointer, { value: str(value), first: num(r.step), last: num(r.step), count: 1 });
    }
  }
}

function keep(list, item) {            // a curve keeps at most LIMITS.kept points: past that, every other one
  list.push(item);
  if (list.length > LIMITS.kept) list.splice(0, list.length, ...list.filter((_, i) => i % 2 === 1));
}

function take(record) {                // the curves keep a few figures of each record; the panels, the last one
  live.taken += 1;
  noteNonfinite(record);
  if (record.kind === "meta") {
    live.meta = readMeta(record);
    if (live.meta.ruleOfThumb !== null && live.meta.ruleOfThumb > 0) live.ruleOfThumb = live.meta.ruleOfThumb;
  }
  else if (record.kind === "tick") keep(live.ticks, readTick(record));
  else if (record.kind === "step") {
    const step = live.lastStep = readStep(record);
    keep(live.ticks, step.tick);
    keep(live.steps, { step: step.tick.step, grads: step.grads, updates: step.updates,
      activations: new Map(step.activations.map((a) => [a.layer, { mean: a.mean, std: a.std, dead: a.dead }])),
      batchnorm: new Map(step.batchnorm) });
  } else if (record.kind === "epoch") {
    const epoch = live.lastEpoch = readEpoch(record);
    keep(live.epochs, epoch.figures);
  }
  if (record.kind === "end") live.end = { finished: record.finished === true, reason: str(record.reason) };
  else if (record.kind !== "meta") live.end = null;      // the run went on (a resumed run drops its end line)
}

function restart() {                   // the record was rewritten (a resumed run): read it again from the start
  Object.assign(live, { taken: 0, offset: 0, ticks: [], steps: [], epochs: [], lastStep: null, lastEpoch: null,
    meta: null, end: null, skipped: { damaged: 0, too_long: 0 }, nonfinite: new Map(), domain: [0, 1],
    ruleOfThumb: 1e-3 });
}

// ---- views ----------------------------------------------------------------------------------------------------
function showView(name) {
  document.getElementById("draw-view").hidden = name !== "draw";
  document.getElementById("training-view").hidden = name !== "training";
  document.getElementById("tab-draw").classList.toggle("active", name === "draw");
  document.getElementById("tab-training").classList.toggle("active", name === "training");
  if (name === "training") redraw();
}
window.addEventListener("hashchange", () => showView(location.hash === "#training" ? "training" : "draw"));
let resizing = false;                  // the charts are drawn at the width they are shown at: again on a resize
window.addEventListener("resize", () => {
  if (!resizing) { resizing = true; requestAnimationFrame(() => { resizing = false; redraw(); }); }
});

function setStatus(text) { document.getElementById("status").textContent = text; }

// ---- what each chart may show: the record's tensors and layers, one at a time -----------------------------------
function layerName(index) {
  const layers = live.meta ? live.meta.layers : [];
  const i = Number(index);
  return Number.isInteger(i) && layers[i] ? `layer ${i} ${layers[i]}` : `layer ${index}`;
}

function tensorLabel(name) {           // "0.weight" → "layer 0 Linear: weight"
  const dot = name.indexOf(".");
  return dot > 0 ? `${layerName(name.slice(0, dot))}: ${name.slice(dot + 1)}` : name;
}

// The options of a selector (value, label); keeps the reader's choice while it is still offered.
function choices(id, options, preferred) {
  const select = document.getElementById(id);
  const key = JSON.stringify(options);
  if (select.dataset.options !== key) {
    const kept = select.value;
    select.replaceChildren(...options.map(([value, label]) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = label;
      return option;
    }));
    select.dataset.options = key;
    const values = options.map(([value]) => value);
    select.value = values.includes(kept) ? kept : values.includes(preferred) ? preferred : values[0] ?? "";
  }
  select.disabled = options.length < 2;
  return select.value;
}
for (const id of ["pick-learning", "pick-updates", "pick-grads", "pick-dead", "pick-spread", "pick-batchnorm"]) {
  document.getElementById(id).addEventListener("change", () => redraw());
}

function tensors() {
  const names = live.meta ? live.meta.params : [];
  const options = names.map((name) => [name, tensorLabel(name)]);
  return { options, preferred: names.find((name) => name.endsWith(".weight")) };
}

const along = (key, name) => live.steps.map((r) => [r.step, r[key].has(name) ? r[key].get(name) : null]);

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
  const ctx = canvas.getContext("2d"), n = matrix.length;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!n) return;
  const cell = (canvas.width - 22) / n, max = Math.log1p(Math.max(0, extent(matrix.flat())[1]));
  ctx.font = "12px system-ui, sans-serif";
  ctx.textAlign = "center";
  matrix.forEach((row, t) => row.forEach((count, p) => {
    const [r, g, b] = heat(Math.log1p(Math.max(0, count)), max);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(22 + p * cell, 22 + t * cell, cell - 1, cell - 1);
    if (t !== p && count) { ctx.fillStyle = "#fff"; ctx.fillText(String(count), 22 + (p + 0.5) * cell, 26 + (t + 0.5) * cell); }
  }));
  ctx.fillStyle = "#6b7385";
  for (let i = 0; i < n; i++) { ctx.fillText(String(i), 22 + (i + 0.5) * cell, 14); ctx.fillText(String(i), 9, 26 + (i + 0.5) * cell); }
}

function labelColor(label) {
  return label === null || label === undefined ? "#6b7385" : COLORS[((label % 10) + 10) % 10];
}

function drawPca(canvas, points, labels) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const shown = points.map((p, i) => [p[0], p[1], labels[i]]).filter((p) => p[0] !== null && p[1] !== null);
  const [x0, x1] = extent(shown.map((p) => p[0])), [y0, y1] = extent(shown.map((p) => p[1]));
  shown.forEach(([x, y, label]) => {
    ctx.fillStyle = labelColor(label);
    ctx.beginPath();
    ctx.arc(8 + (x - x0) / (x1 - x0 || 1) * (W - 16), H - 8 - (y - y0) / (y1 - y0 || 1) * (H - 16), 2.2, 0, 2 * Math.PI);
    ctx.fill();
  });
  document.getElementById("pca-legend").replaceChildren(...COLORS.map((c, d) => {
    const span = document.createElement("span");
    span.style.color = c;
    span.textContent = `● ${d} `;
    return span;
  }));
}

const figures = (v, digits = 2) => (v === null ? "not finite" : v.toFixed(digits));

function drawHistogram(activation) {   // the chosen layer's outputs on the probe digits, at the newest step
  const box = document.getElementById("histograms");
  box.replaceChildren();
  if (!activation) return;
  const figure = document.createElement("figure");
  const W = Math.max(200, box.clientWidth), H = 90, max = extent(activation.counts)[1];
  const root = document.createElementNS(SVG_NS, "svg");
  root.setAttribute("width", String(W)); root.setAttribute("height", String(H));
  figure.append(root);
  box.append(figure);
  const n = activation.counts.length, barWidth = (W - 16) / Math.max(1, n);
  activation.counts.forEach((c, i) => {
    const h = max > 0 ? c / max * (H - 34) : 0;
    svg("rect", { class: "bar", x: 8 + i * barWidth, y: H - 28 - h, width: Math.max(1, barWidth - 1), height: h }, root);
  });
  const [low, high] = activation.edges;
  if (low !== null && high !== null) {
    svgText(root, 8, H - 6, formatNumber(low), "start");
    svgText(root, W - 8, H - 6, formatNumber(high), "end");
  }
  const caption = document.createElement("figcaption");
  caption.textContent = `${activation.layer}, newest step: mean ${figures(activation.mean)}, ` +
    `std ${figures(activation.std)}` + (activation.dead === null ? "" : `, dead ${figures(100 * activation.dead, 1)}%`) +
    (activation.notFinite ? `; ${activation.notFinite} values not finite, left out` : "");
  figure.append(caption);
}

function drawBatchnorm(ranges) {
  const box = document.getElementById("bn-ranges");
  box.replaceChildren(...ranges.map(([layer, r]) => {
    const line = document.createElement("div");
    line.textContent = `${layerName(layer)}, newest step: γ ∈ [${r[0].toFixed(3)}, ${r[1].toFixed(3)}], ` +
      `β ∈ [${r[2].toFixed(3)}, ${r[3].toFixed(3)}]`;
    return line;
  }));
  if (!ranges.length) box.textContent = "no batch norm in this network";
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
    caption.textContent = `${m.label ?? "?"}→${m.predicted ?? "?"} (${m.confidence === null ? "?" : Math.round(100 * m.confidence)}%)`;
    figure.append(canvas, caption);
    box.append(figure);
  });
}

// ---- the whole view -----------------------------------------------------------------------------------------
function stepRange() {                 // one range for every chart: step 0 to the newest step of any record
  let newest = 0;
  for (const list of [live.ticks, live.steps, live.epochs]) {
    for (const r of list) if (r.step !== null && r.step > newest) newest = r.step;
  }
  return [0, Math.max(1, newest)];
}

function redraw() {
  if (document.getElementById("training-view").hidden) return;
  const epochs = live.epochs, ticks = live.ticks, last = live.lastStep;
  live.domain = stepRange();
  document.getElementById("step-range").textContent = `Every chart below shows the same steps: 0 to ` +
    `${live.domain[1]}, the newest recorded. A chart is empty where its statistic has no record yet.`;
  const learning = choices("pick-learning", [["loss", "loss"], ["accuracy", "accuracy"]], "loss");
  const loss = learning === "loss";
  chart(document.getElementById("chart-learning"), live.domain, [
    { name: "training batches (smoothed)", color: COLORS[0],
      points: ticks.map((r) => [r.step, loss ? r.loss_smooth : r.accuracy_smooth]) },
    { name: "training, per epoch", color: COLORS[1], dots: true,
      points: epochs.map((r) => [r.step, loss ? r.train_loss : r.train_accuracy]) },
    { name: "evaluation, per epoch", color: COLORS[2], dots: true,
      points: epochs.map((r) => [r.step, loss ? r.eval_loss : r.eval_accuracy]) },
  ], loss ? { logY: true, quantity: "cross-entropy loss, log scale:" } : { percent: true, quantity: "accuracy:" });
  chart(document.getElementById("chart-lr"), live.domain, [{ name: "learning rate", color: COLORS[4],
    points: ticks.map((r) => [r.step, r.lr]) }], { include: [0] });
  const all = tensors();
  const updated = choices("pick-updates", all.options, all.preferred);
  const isWeight = updated.endsWith(".weight");
  const rule = live.ruleOfThumb;        // healthy: within a factor of ten of the rule of thumb
  chart(document.getElementById("chart-updates"), live.domain, [{ name: tensorLabel(updated), color: COLORS[0],
    points: along("updates", updated) }], { logY: true, band: isWeight ? [rule / 10, rule * 10] : null,
    hline: isWeight ? rule : null, quantity: "‖Δθ‖ / ‖θ‖ of one step, log scale:" });
  const graded = choices("pick-grads", all.options, all.preferred);
  chart(document.getElementById("chart-grads"), live.domain, [{ name: tensorLabel(graded), color: COLORS[3],
    points: along("grads", graded) }], { logY: true, quantity: "‖∂L/∂θ‖, log scale:" });
  const layers = last ? last.activations : [];
  const relu = layers.filter((a) => a.dead !== null).map((a) => [a.layer, a.layer]);
  const dying = choices("pick-dead", relu, relu.length ? relu[0][0] : "");
  chart(document.getElementById("chart-dead"), live.domain, dying ? [{ name: dying, color: COLORS[1],
    points: live.steps.map((r) => [r.step, r.activations.has(dying) ? r.activations.get(dying).dead : null]) }] : [],
  { percent: true, include: [0, 0.1], quantity: "share of units dead on all probe digits:" });
  const spreadOptions = layers.filter((a) => !a.layer.endsWith("Dropout")).map((a) => [a.layer, a.layer]);
  const spread = choices("pick-spread", spreadOptions, (spreadOptions.find(([name]) => name.endsWith("BatchNorm"))
    || spreadOptions[0] || [""])[0]);
  const statistic = (key) => live.steps.map((r) => [r.step, r.activations.has(spread)
    ? r.activations.get(spread)[key] : null]);
  chart(document.getElementById("chart-spread"), live.domain, spread ? [
    { name: "standard deviation", color: COLORS[0], points: statistic("std") },
    { name: "mean", color: COLORS[1], points: statistic("mean") }] : [],
  { include: [0], quantity: "on the probe digits:" });
  drawHistogram(layers.find((a) => a.layer === spread));
  const bnOptions = (last ? last.batchnorm : []).map(([layer]) => [layer, layerName(layer)]);
  const bn = choices("pick-batchnorm", bnOptions, bnOptions.length ? bnOptions[0][0] : "");
  const range = (i) => live.steps.map((r) => [r.step, r.batchnorm.has(bn) ? r.batchnorm.get(bn)[i] : null]);
  chart(document.getElementById("chart-batchnorm"), live.domain, bn ? [
    { name: "γ, smallest and largest", color: COLORS[0], points: range(0) },
    { name: "γ, smallest and largest", color: COLORS[0], points: range(1) },
    { name: "β, smallest and largest", color: COLORS[1], points: range(2) },
    { name: "β, smallest and largest", color: COLORS[1], points: range(3) }] : [],
  { include: [0, 1], quantity: "over the layer's units:" });
  drawBatchnorm(last ? last.batchnorm : []);
  const epoch = live.lastEpoch;
  if (epoch) {
    const mosaic = document.getElementById("mosaic");
    if (epoch.mosaic) paintTiles(mosaic, epoch.mosaic.values, epoch.mosaic.units, 4, 28, diverging, 99);
    else mosaic.getContext("2d").clearRect(0, 0, mosaic.width, mosaic.height);   // not finite this epoch
    drawConfusion(document.getElementById("confusion"), epoch.confusion);
    drawMistakes(epoch.mistakes);
    drawPca(document.getElementById("pca"), epoch.pca, live.meta ? live.meta.probeLabels : []);
  }
}

function describeNotes() {             // what the record could not give: skipped lines, statistics not finite
  const notes = [];
  const { damaged, too_long } = live.skipped;
  if (damaged || too_long) {
    notes.push(`${damaged + too_long} line(s) of the record were skipped (${damaged} damaged or not a record, ` +
      `${too_long} longer than 4 MiB).`);
  }
  if (live.nonfinite.size) {
    const named = [...live.nonfinite].slice(0, 8).map(([pointer, n]) =>
      `${pointer} (${n.value}${n.first === null ? "" : `, step ${n.first}${n.count > 1 ? ` and ${n.count - 1} more` : ""}`})`);
    notes.push(`Not finite, so left as gaps: ${named.join(", ")}${live.nonfinite.size > 8 ? ", …" : ""}.`);
  }
  document.getElementById("run-notes").textContent = notes.join(" ");
}

function describeState() {
  const s = live.state, end = live.end;
  const last = live.ticks[live.ticks.length - 1], epoch = live.epochs[live.epochs.length - 1];
  const accuracy = epoch && epoch.eval_accuracy !== null ? ` (evaluation accuracy ${(100 * epoch.eval_accuracy).toFixed(2)}%)` : "";
  const where = `${epoch ? `epoch ${epoch.epoch ?? "?"} done${accuracy}` : "first epoch running"}` +
    `${last && last.step !== null ? `, step ${last.step}` : ""}`;
  let text = `${where}.`;
  if (end && end.finished) text = `Finished: ${where}. This is the replay of the run's record.`;
  else if (end) text = `Stopped (${end.reason || "no reason recorded"}): ${where}. Continue it with glassnet train --resume.`;
  else if (s.stopping) text = `Stopping: ${where}. The last checkpoint is kept; continue with --resume.`;
  else if (s.paused_at_step !== null && s.paused_at_step !== undefined) text = `Paused at step ${s.paused_at_step}. ${where}.`;
  else if (s.paused) text = `Pausing… ${where}.`;
  if (!s.controllable && !end) text += " (Following the run: only 'glassnet train --watch' can pause it.)";
  document.getElementById("run-status").textContent = text;
  const running = s.controllable && !end && !s.stopping;
  document.getElementById("pause").disabled = !running || s.paused;
  document.getElementById("resume").disabled = !running || !s.paused;
  document.getElementById("stop").disabled = !running;
  describeNotes();
}

async function readRecord() {          // every piece the server has now; a long replay arrives in several
  let fresh = false;
  for (;;) {
    const response = await fetch(`/api/live/record?offset=${live.offset}`);
    const piece = await response.json();
    if (!response.ok) { setStatus(`Live view: ${piece.error}`); return fresh; }
    if (piece.restart) { restart(); fresh = true; continue; }
    live.skipped.damaged += piece.skipped.damaged;
    live.skipped.too_long += piece.skipped.too_long;
    piece.records.forEach(take);
    if (piece.offset === live.offset) return fresh;
    live.offset = piece.offset;
    fresh = true;
  }
}

async function poll() {
  try {
    const stateResponse = await fetch("/api/live/state");
    if (stateResponse.status === 403) { setStatus((await stateResponse.json()).error); return; }
    if (!stateResponse.ok) return;                     // this server follows no run
    live.state = await stateResponse.json();
    if (document.getElementById("tabs").hidden) {
      document.getElementById("tabs").hidden = false;
      document.getElementById("live-subtitle").hidden = false;
      document.getElementById("run-name").textContent = live.state.run;
      showView(location.hash === "#training" ? "training" : "draw");
    }
    const fresh = await readRecord();
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
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ action }) });
  const answer = await response.json();
  if (!response.ok) { setStatus(`Error: ${answer.error}`); return; }
  live.state = answer;
  describeState();
}
for (const action of ["pause", "resume", "stop"]) {
  document.getElementById(action).addEventListener("click", () => control(action));
}
poll();
