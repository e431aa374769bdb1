// glassnet, exported for the web: the draw-a-digit page with no server. Everything runs here, in the
// browser: the same MNIST-style preprocessing as `glassnet predict` (src/glassnet/data/preprocess.py,
// step for step) and the network's inference program, batch norm folded into the linear layers.
"use strict";

const MAX_SIDE = 256, MIN_SIDE_FOR_BACKGROUND = 64, NOISE_SIGMAS = 5;

function decode(base64) {                    // little-endian float32 array, as written by numpy
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

// The inference program (src/glassnet/nn/program.py): operations applied in order. Each kind of operation
// is one entry of OPS; export/web.py refuses, before writing anything, a program with any other.
const GELU_K = Math.sqrt(2 / Math.PI), GELU_C = 0.044715;
const OPS = {
  affine: (h, op) => {                      // y = x W + b, W (rows, cols) row-major
    const out = Float64Array.from(op.bias);
    for (let r = 0; r < op.rows; r++) {
      const v = h[r];
      if (v === 0) continue;
      const row = r * op.cols;
      for (let c = 0; c < op.cols; c++) out[c] += v * op.weight[row + c];
    }
    return out;
  },
  scale: (h, op) => h.map((v, i) => (v - op.center[i]) * op.scale[i] + op.shift[i]),   // batch norm
  relu: (h) => h.map((v) => Math.max(v, 0)),
  leaky_relu: (h, op) => h.map((v) => (v > 0 ? v : op.options.slope * v)),
  gelu: (h) => h.map((v) => 0.5 * v * (1 + Math.tanh(GELU_K * (v + GELU_C * v * v * v)))),
  tanh: (h) => h.map(Math.tanh),
  sigmoid: (h) => h.map((v) => 1 / (1 + Math.exp(-v))),
};

const NET = (() => {
  const w = window.GLASSNET_WEIGHTS;
  const unknown = w.ops.map((op) => op.op).filter((name) => !(name in OPS));
  if (unknown.length) throw new Error(`this page cannot run the operations ${unknown.join(", ")}`);
  const arrays = ["weight", "bias", "center", "scale", "shift"];
  return { ops: w.ops.map((op) => Object.fromEntries(Object.entries(op).map(([k, v]) =>
    [k, arrays.includes(k) ? decode(v) : v]))), meta: w.meta };
})();

// ---- the network: the program's operations, then softmax -----------------------------------------------
function forward(x) {
  let h = Float64Array.from(x);
  for (const op of NET.ops) h = OPS[op.op](h, op);
  const top = Math.max(...h);
  const e = h.map((v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return Array.from(e, (v) => v / sum);
}

// ---- preprocessing, as src/glassnet/data/preprocess.py --------------------------------------------------
// An image is { h, w, data: Float64Array(h*w) } of gray values in [0, 1].
function image(h, w, data) { return { h, w, data: data || new Float64Array(h * w) }; }

function resizeMatrix(nIn, nOut) {           // (nOut, nIn) area-resampling weights
  const m = new Float64Array(nOut * nIn);
  for (let o = 0; o < nOut; o++) {
    const start = o * nIn / nOut, stop = (o + 1) * nIn / nOut;
    let total = 0;
    for (let p = 0; p < nIn; p++) {
      const overlap = Math.max(0, Math.min(stop, p + 1) - Math.max(start, p));
      m[o * nIn + p] = overlap; total += overlap;
    }
    for (let p = 0; p < nIn; p++) m[o * nIn + p] /= total;
  }
  return m;
}

function resize(img, height, width) {       // R_h · image · R_wᵀ
  const rh = resizeMatrix(img.h, height), rw = resizeMatrix(img.w, width);
  const tmp = new Float64Array(height * img.w);
  for (let o = 0; o < height; o++) for (let p = 0; p < img.h; p++) {
    const k = rh[o * img.h + p];
    if (k) for (let c = 0; c < img.w; c++) tmp[o * img.w + c] += k * img.data[p * img.w + c];
  }
  const out = image(height, width);
  for (let r = 0; r < height; r++) for (let o = 0; o < width; o++) {
    let s = 0;
    for (let c = 0; c < img.w; c++) s += tmp[r * img.w + c] * rw[o * img.w + c];
    out.data[r * width + o] = s;
  }
  return out;
}

function filter1d(img, size, axis, reduce) {   // running min/max over `size` pixels, edges repeated
  const out = image(img.h, img.w), half = Math.floor(size / 2), pick = reduce === "min" ? Math.min : Math.max;
  for (let r = 0; r < img.h; r++) for (let c = 0; c < img.w; c++) {
    let best = reduce === "min" ? Infinity : -Infinity;
    for (let k = -half; k <= half; k++) {
      const rr = axis === 0 ? Math.min(img.h - 1, Math.max(0, r + k)) : r;
      const cc = axis === 1 ? Math.min(img.w - 1, Math.max(0, c + k)) : c;
      best = pick(best, img.data[rr * img.w + cc]);
    }
    out.data[r * img.w + c] = best;
  }
  return out;
}

function greyOpening(img, size) {
  const eroded = filter1d(filter1d(img, size, 0, "min"), size, 1, "min");
  return filter1d(filter1d(eroded, size, 0, "max"), size, 1, "max");
}

function otsuThreshold(img, bins = 64) {
  const counts = new Float64Array(bins);
  for (const v of img.data) counts[Math.min(bins - 1, Math.floor(v * bins))] += 1;
  let bestIndex = 0, best = -1, weightLow = 0, massLow = 0, total = 0, mass = 0;
  for (let i = 0; i < bins; i++) { total += counts[i]; mass += counts[i] * (i + 0.5) / bins; }
  for (let i = 0; i < bins; i++) {
    weightLow += counts[i]; massLow += counts[i] * (i + 0.5) / bins;
    const weightHigh = total - weightLow;
    const meanLow = massLow / Math.max(weightLow, 1), meanHigh = (mass - massLow) / Math.max(weightHigh, 1);
    const between = weightLow * weightHigh * (meanLow - meanHigh) ** 2;
    if (between > best) { best = between; bestIndex = i; }
  }
  return (bestIndex + 1) / bins;
}

function sorted(values) { return Float64Array.from(values).sort(); }
function median(values) {
  const s = sorted(values), n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}
function percentile(values, q) {             // numpy's default, linear interpolation
  const s = sorted(values), position = q / 100 * (s.length - 1), low = Math.floor(position);
  return low + 1 < s.length ? s[low] + (s[low + 1] - s[low]) * (position - low) : s[low];
}
function roundHalfEven(x) {                  // Python's round()
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
const clip = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

function cleanInk(img) {
  if (Math.max(img.h, img.w) > MAX_SIDE) {
    const scale = MAX_SIDE / Math.max(img.h, img.w);
    img = resize(img, Math.max(1, roundHalfEven(img.h * scale)), Math.max(1, roundHalfEven(img.w * scale)));
  }
  const large = Math.min(img.h, img.w) >= MIN_SIDE_FOR_BACKGROUND;
  const window_ = Math.floor(Math.max(img.h, img.w) / 4) | 1;
  let data = Float64Array.from(img.data);
  if (median(data) > 0.5) {                  // dark ink on light paper
    if (large) {
      const light = greyOpening(image(img.h, img.w, data.map((v) => 1 - v)), window_).data.map((v) => 1 - v);
      data = data.map((v, i) => clip(v / Math.max(light[i], 1e-3), 0, 1));
    }
    data = data.map((v) => 1 - v);
  }
  if (large) {
    const background = greyOpening(image(img.h, img.w, data), window_).data;
    data = data.map((v, i) => Math.max(v - background[i], 0));
  } else {
    const m = median(data);
    data = data.map((v) => Math.max(v - m, 0));
  }
  const max = Math.max(...data);
  let peak = data.length > 400 ? percentile(data, 99.5) : max;
  peak = Math.max(peak, max * 0.5);
  if (peak < 0.05) return image(1, 1);
  data = data.map((v) => clip(v / peak, 0, 1));
  const threshold = otsuThreshold(image(img.h, img.w, data));
  const core = data.map((v) => (v > threshold ? 1 : 0));   // the strokes proper; specks of noise stay below
  const floor = Math.min(noiseFloor(data.filter((v, i) => !core[i])), threshold);
  const ink = grow(img.h, img.w, core, data.map((v) => (v > floor ? 1 : 0)));   // with their rim
  let top = img.h, bottom = -1, left = img.w, right = -1;
  for (let r = 0; r < img.h; r++) for (let c = 0; c < img.w; c++) if (ink[r * img.w + c]) {
    top = Math.min(top, r); bottom = Math.max(bottom, r); left = Math.min(left, c); right = Math.max(right, c);
  }
  const crop = image(bottom - top + 1, right - left + 1);
  for (let r = top; r <= bottom; r++) for (let c = left; c <= right; c++) if (ink[r * img.w + c]) {
    crop.data[(r - top) * crop.w + (c - left)] = clip((data[r * img.w + c] - floor) / (1 - floor), 0, 1);
  }
  return crop;
}

function noiseFloor(background) {            // median + NOISE_SIGMAS robust standard deviations; 0 if clean
  if (!background.length) return 0;
  const m = median(background);
  return m + NOISE_SIGMAS * 1.4826 * median(background.map((v) => Math.abs(v - m)));
}

function grow(h, w, seed, allowed) {         // pixels of `allowed` 8-connected to `seed`: a flood fill
  const grown = new Uint8Array(h * w), stack = [];
  for (let i = 0; i < h * w; i++) if (seed[i] && allowed[i]) { grown[i] = 1; stack.push(i); }
  while (stack.length) {
    const i = stack.pop(), r = Math.floor(i / w), c = i % w;
    for (let rr = Math.max(r - 1, 0); rr <= Math.min(r + 1, h - 1); rr++) {
      for (let cc = Math.max(c - 1, 0); cc <= Math.min(c + 1, w - 1); cc++) {
        const j = rr * w + cc;
        if (allowed[j] && !grown[j]) { grown[j] = 1; stack.push(j); }
      }
    }
  }
  return grown;
}

function centerByMass(patch, size = 28) {
  const field = new Float64Array(size * size);
  let total = 0, comR = 0, comC = 0;
  for (let r = 0; r < patch.h; r++) for (let c = 0; c < patch.w; c++) {
    const v = patch.data[r * patch.w + c]; total += v; comR += r * v; comC += c * v;
  }
  [comR, comC] = total > 0 ? [comR / total, comC / total] : [(patch.h - 1) / 2, (patch.w - 1) / 2];
  const top = clip(roundHalfEven(size / 2 - comR), 0, size - patch.h);
  const left = clip(roundHalfEven(size / 2 - comC), 0, size - patch.w);
  for (let r = 0; r < patch.h; r++) for (let c = 0; c < patch.w; c++) {
    field[(top + r) * size + left + c] = patch.data[r * patch.w + c];
  }
  return field;
}

function preprocess(img, box = 20, size = 28) {   // any gray image of one digit → 784 values, MNIST-style
  const crop = cleanInk(img);
  if (!crop.data.some((v) => v > 0)) return new Float64Array(size * size);
  const scale = box / Math.max(crop.h, crop.w);
  const height = Math.max(1, roundHalfEven(crop.h * scale)), width = Math.max(1, roundHalfEven(crop.w * scale));
  const patch = resize(crop, height, width);
  patch.data = patch.data.map((v) => clip(v, 0, 1));
  const peak = Math.max(Math.max(...patch.data), 1e-6);
  patch.data = patch.data.map((v) => v / peak);
  return centerByMass(patch, size);
}

window.glassnetWeb = { forward, preprocess, image, meta: NET.meta };
