// glassnet's charts, in SVG: the live view's axes, ticks, series, healthy band and reference line.
// Every label is a text element at the size the stylesheet gives it, so it reads (and tests measure it) as text;
// every value reaches the page as an attribute or as textContent, never as markup.

function extent(values) {
  let low = Infinity, high = -Infinity;
  for (const v of values) { if (v < low) low = v; if (v > high) high = v; }
  return [low, high];
}

// ---- the chart ------------------------------------------------------------------------------------------------
const SVG_NS = "http://www.w3.org/2000/svg";
const CHART = { height: 220, left: 64, right: 14, top: 12, bottom: 44 };
const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
const power = (exponent) => `10${String(exponent).replace(/[-0-9]/g, (c) => SUPERSCRIPT[c])}`;

function svg(name, attributes, parent) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  parent.append(element);
  return element;
}

function svgText(parent, x, y, text, anchor, className = "tick") {
  const label = svg("text", { x, y, "text-anchor": anchor, class: className }, parent);
  label.textContent = text;
  return label;
}

function formatNumber(v) {             // short tick labels: 0.5, 12, 3×10⁻⁴
  if (v === 0) return "0";
  if (Math.abs(v) >= 1e4 || Math.abs(v) < 1e-2) {
    const exponent = Math.floor(Math.log10(Math.abs(v)));
    const mantissa = Number((v / 10 ** exponent).toPrecision(2));
    return mantissa === 1 ? power(exponent) : `${mantissa}×${power(exponent)}`;
  }
  return String(Number(v.toPrecision(3)));
}

function niceTicks(low, high, count) {  // round values 1, 2 or 5 × 10ⁿ apart, about count of them
  const raw = (high - low) / Math.max(1, count);
  const unit = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * unit).find((s) => s >= raw * (1 - 1e-9));
  const ticks = [];
  for (let i = Math.ceil(low / step - 1e-9); i * step <= high + step * 1e-9; i++) ticks.push(i * step);
  return ticks;
}

// The y range: whole decades on a log axis, round values on a linear one, always including `include`.
function yScale(values, { logY, percent, include }) {
  const shown = values.concat(include).map((v) => (logY ? Math.log10(v) : v));
  let [low, high] = extent(shown);
  if (!Number.isFinite(low)) [low, high] = logY ? [-3, 0] : [0, 1];
  if (logY) {
    low = Math.floor(low); high = Math.max(Math.ceil(high), low + 1);
    const stride = Math.ceil((high - low) / 5);
    const ticks = [];
    for (let e = high; e >= low; e -= stride) ticks.push(e);
    return { low, high, ticks: ticks.map((e) => [e, power(e)]) };
  }
  if (high === low) { const pad = Math.abs(low) * 0.1 || 0.05; low -= pad; high += pad; }
  if (percent) { low = Math.max(0, low); high = Math.min(1, high); }
  const ticks = niceTicks(low, high, 4);
  low = Math.min(low, ticks[0]); high = Math.max(high, ticks[ticks.length - 1]);
  return { low, high, ticks: ticks.map((v) => [v, percent ? `${Number((100 * v).toPrecision(3))}%` : formatNumber(v)]) };
}

// One chart: the step range `steps` ([first, last]) across, the chosen series up, an optional healthy band and
// reference line.
function chart(box, steps, series, { logY = false, percent = false, band = null, hline = null, include = [],
  quantity = "" } = {}) {
  const [x0, x1] = steps;
  const W = Math.max(240, box.clientWidth), H = CHART.height;
  const left = CHART.left, right = W - CHART.right, top = CHART.top, bottom = H - CHART.bottom;
  const usable = (p) => p[0] !== null && p[1] !== null && (!logY || p[1] > 0);
  const values = series.flatMap((s) => s.points.filter(usable).map((p) => p[1]));
  const y = yScale(values, { logY, percent, include: include.concat(band || [], hline === null ? [] : [hline]) });
  const X = (x) => left + (x - x0) / (x1 - x0) * (right - left);
  const Y = (v) => bottom - ((logY ? Math.log10(v) : v) - y.low) / (y.high - y.low) * (bottom - top);
  const root = document.createElementNS(SVG_NS, "svg");
  for (const [key, value] of Object.entries({ width: W, height: H, "data-x0": x0, "data-x1": x1 })) {
    root.setAttribute(key, String(value));
  }
  const legend = document.createElement("div");
  legend.className = "legend";
  const legendItem = (text, color, kind) => {
    const item = document.createElement("span");
    if (color) {
      const swatch = document.createElement("span");
      swatch.className = `swatch ${kind}`;
      swatch.style.background = color;
      item.append(swatch);
    }
    item.append(text);
    legend.append(item);
  };
  if (quantity) legendItem(quantity, null);
  box.replaceChildren(root, legend);
  if (band) {
    const [lo, hi] = band;
    svg("rect", { class: "band", x: left, y: Y(hi), width: right - left, height: Y(lo) - Y(hi) }, root);
    legendItem("healthy range", "rgba(23, 163, 74, 0.25)", "area");
  }
  for (const [v, text] of y.ticks) {
    svg("line", { class: "grid", x1: left, x2: right, y1: Y(logY ? 10 ** v : v), y2: Y(logY ? 10 ** v : v) }, root);
    svgText(root, left - 8, Y(logY ? 10 ** v : v) + 4, text, "end");
  }
  svg("rect", { class: "frame", x: left, y: top, width: right - left, height: bottom - top }, root);
  // step labels: the newest step at the right end, round steps between; one that would touch another is left out
  const placed = [svgText(root, right, bottom + 18, String(x1), "end").getBBox()];
  for (const step of niceTicks(x0, x1, Math.max(2, Math.floor((right - left) / 90)))) {
    const label = svgText(root, X(step), bottom + 18, String(step), X(step) - left < 20 ? "start" : "middle");
    const box_ = label.getBBox();
    if (placed.some((b) => box_.x < b.x + b.width + 10 && b.x < box_.x + box_.width + 10)) label.remove();
    else placed.push(box_);
  }
  svgText(root, right, H - 6, "training step", "end", "axis-title");
  if (hline !== null) {
    svg("line", { class: "reference", x1: left, x2: right, y1: Y(hline), y2: Y(hline) }, root);
    legendItem(`${formatNumber(hline)}, the rule of thumb`, "#1d2433", "dash");
  }
  const named = new Set();
  series.forEach((s) => {
    if (s.dots) {
      s.points.filter(usable).forEach((p) => {
        svg("circle", { class: "dot", cx: X(p[0]), cy: Y(p[1]), r: 3.5, fill: s.color }, root);
      });
    } else {
      let d = "", run = [];                          // a missing value leaves a gap in the line
      const end = () => {                            // a point alone between gaps is drawn as a dot
        if (run.length === 1) svg("circle", { cx: run[0][0], cy: run[0][1], r: 2.5, fill: s.color }, root);
        run = [];
      };
      s.points.forEach((p) => {
        if (!usable(p)) { end(); return; }
        d += `${run.length ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`;
        run.push([X(p[0]), Y(p[1])]);
      });
      end();
      const path = svg("path", { class: "series", d, stroke: s.color }, root);
      path.setAttribute("data-series", s.name);
    }
    if (!named.has(s.name)) { named.add(s.name); legendItem(s.name, s.color, s.dots ? "dot" : "line"); }
  });
  if (!values.length) svgText(root, (left + right) / 2, (top + bottom) / 2, "no data yet", "middle", "empty");
}
