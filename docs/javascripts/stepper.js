// The backward-stepping view of docs/backprop-stepper.md. When the site was built, docs/stepper_hook.py put the
// tiny network's graph in the page as JSON: boxes, lines of text and arrows, laid out by glassnet.learn.graph
// from a real forward and backward pass. This script draws it as SVG and walks the backward pass, from the loss
// back to the input, one node at a time: the forward values are shown throughout, and each gradient appears
// when the pass reaches its node. Text goes in with textContent only.
(() => {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const root = document.getElementById("backprop-stepper");
  const source = document.getElementById("backprop-stepper-data");
  if (!root || !source) return;
  const drawing = JSON.parse(source.textContent);
  const order = drawing.order;                        // the nodes that get a gradient, as the backward pass reaches them

  function element(namespace, name, attributes, text) {
    const made = namespace ? document.createElementNS(namespace, name) : document.createElement(name);
    for (const [key, value] of Object.entries(attributes)) made.setAttribute(key, value);
    if (text !== undefined) made.textContent = text;
    return made;
  }

  const back = element(null, "button", { type: "button" }, "◀ Step back");
  const next = element(null, "button", { type: "button" }, "Next ▶");
  const status = element(null, "p", { class: "stepper-status", "aria-live": "polite" });
  const frame = element(null, "div", { class: "stepper-graph", tabindex: "0",
                                       "aria-label": "The graph; arrow keys step the backward pass" });
  const controls = element(null, "div", { class: "stepper-controls" });
  controls.append(back, next);

  const svg = element(SVG, "svg", { width: drawing.width, height: drawing.height,
                                    viewBox: `0 0 ${drawing.width} ${drawing.height}`,
                                    "font-family": "monospace", "font-size": drawing.font_size });
  const edges = drawing.edges.map((edge) => {
    const group = element(SVG, "g", { class: "edge", "data-from": edge.from, "data-to": edge.to });
    const [x1, y1, x2, y2] = edge.line;
    group.append(element(SVG, "line", { x1, y1, x2, y2 }),
                 element(SVG, "polygon", { points: edge.head.join(" ") }));
    svg.append(group);
    return group;
  });
  const nodes = new Map();
  for (const node of drawing.nodes) {
    const group = element(SVG, "g", { class: "node", "data-node": node.name });
    group.append(element(SVG, "rect", { x: node.x, y: node.y, width: node.width, height: node.height, rx: 4 }));
    const gradients = [];                            // [text element, its number] for each number of the gradient
    for (const text of node.texts) {
      const drawn = element(SVG, "text", { x: text.x, y: text.y, "text-anchor": text.anchor, class: text.role },
                            text.role === "grad" ? "" : text.text);
      if (text.role === "grad") gradients.push([drawn, text.text]);
      group.append(drawn);
    }
    svg.append(group);
    nodes.set(node.name, { group, gradients, box: node });
  }
  frame.append(svg);
  root.append(controls, status, frame);

  let step = 0;                                      // how many nodes of `order` have their gradient so far

  function describe(current) {
    if (current === null) {
      return `The forward pass is done: every box shows its value. Next starts the backward pass at ${order[0]}.`;
    }
    const users = edges.filter((edge) => edge.dataset.from === current).map((edge) => edge.dataset.to);
    const where = users.length === 0
      ? `the output, so its gradient is ∂${current}/∂${current} = 1: the backward pass starts here.`
      : `its gradient ∂${order[0]}/∂(${current}) comes back from the backward pass of ${users.join(" and ")}.`;
    const end = step === order.length ? " That was the last node: the backward pass is done." : "";
    return `Step ${step} of ${order.length} · ${current}: ${where}${end}`;
  }

  function show(wanted) {
    step = Math.max(0, Math.min(order.length, wanted));
    const reached = new Set(order.slice(0, step));
    const current = step > 0 ? order[step - 1] : null;
    for (const [name, node] of nodes) {
      for (const [text, number] of node.gradients) text.textContent = reached.has(name) ? number : "";
      node.group.classList.toggle("done", reached.has(name));
      node.group.classList.toggle("current", name === current);
    }
    for (const edge of edges) edge.classList.toggle("current", edge.dataset.from === current);
    back.disabled = step === 0;
    next.disabled = step === order.length;
    status.textContent = describe(current);
    if (current !== null) {                          // bring the node into the frame (on a phone it scrolls)
      const box = nodes.get(current).box;
      frame.scrollTo({ left: box.x + box.width / 2 - frame.clientWidth / 2,
                       top: box.y + box.height / 2 - frame.clientHeight / 2 });
    }
  }

  back.addEventListener("click", () => show(step - 1));
  next.addEventListener("click", () => show(step + 1));
  root.addEventListener("keydown", (event) => {
    const to = { ArrowRight: step + 1, ArrowDown: step + 1, ArrowLeft: step - 1, ArrowUp: step - 1,
                 Home: 0, End: order.length }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    show(to);
  });
  show(0);
})();
