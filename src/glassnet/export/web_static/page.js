// The page around glassnet-web.js: a drawing pad, the 28×28 image the network sees, ten probabilities.
"use strict";

const pad = document.getElementById("pad"), ctx = pad.getContext("2d");
let drawing = false, last = null;

function clearPad() { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, pad.width, pad.height); answer(); }
function point(e) { const b = pad.getBoundingClientRect(); return { x: (e.clientX - b.left) * pad.width / b.width, y: (e.clientY - b.top) * pad.height / b.height }; }
function stroke(a, b) {
  Object.assign(ctx, { strokeStyle: "#fff", lineWidth: 20, lineCap: "round", lineJoin: "round" });
  ctx.beginPath(); ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y); ctx.stroke();
}
pad.addEventListener("pointerdown", (e) => { pad.setPointerCapture(e.pointerId); drawing = true; last = point(e); stroke(last, last); answer(); });
pad.addEventListener("pointermove", (e) => { if (!drawing) return; const p = point(e); stroke(last, p); last = p; answer(); });
for (const t of ["pointerup", "pointercancel", "pointerleave"]) pad.addEventListener(t, () => { drawing = false; });
document.getElementById("clear").addEventListener("click", clearPad);

function drawingAsImage() {                  // the pad at 112×112, gray in [0, 1], as the server page sends it
  const side = 112, small = document.createElement("canvas");
  small.width = small.height = side;
  const c = small.getContext("2d");
  c.imageSmoothingEnabled = true; c.imageSmoothingQuality = "high";
  c.drawImage(pad, 0, 0, side, side);
  const rgba = c.getImageData(0, 0, side, side).data, data = new Float64Array(side * side);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(rgba[4 * i] / 255 * 1000) / 1000;
  return glassnetWeb.image(side, side, data);
}

function answer() {
  const seen = glassnetWeb.preprocess(drawingAsImage());
  const blank = !seen.some((v) => v > 0);
  const seenCtx = document.getElementById("seen").getContext("2d"), img = seenCtx.createImageData(28, 28);
  seen.forEach((v, i) => { const g = Math.round(v * 255); img.data.set([g, g, g, 255], 4 * i); });
  seenCtx.putImageData(img, 0, 0);
  const p = glassnetWeb.forward(seen), best = p.indexOf(Math.max(...p));
  document.getElementById("answer").textContent = blank ? "–" : String(best);
  const bars = document.getElementById("bars");
  bars.replaceChildren();
  p.forEach((v, d) => {
    const label = document.createElement("span"); label.textContent = d;
    const bar = document.createElement("div"); bar.className = "bar" + (d === best && !blank ? " top" : "");
    const fill = document.createElement("span"); fill.style.width = `${(100 * v).toFixed(1)}%`; bar.append(fill);
    const value = document.createElement("span"); value.className = "p"; value.textContent = `${(100 * v).toFixed(1)}%`;
    bars.append(label, bar, value);
  });
  const m = glassnetWeb.meta;
  document.getElementById("status").textContent = `${m.network}; ${m.note}`;
}
clearPad();
