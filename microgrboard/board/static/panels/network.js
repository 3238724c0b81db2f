// Network: the model as a network at a training step, as TensorFlow Playground draws it.
// Layers are columns (inputs on the left); an edge's colour is its weight's sign (blue
// positive, orange negative) and its width the weight's size; a neuron is filled by its
// mean activation, or, for 2-D inputs, shows its output over the input plane as a small
// heat map (the last layer's is the decision function, drawn large with the data). The
// training-step slider replays training. Payload: GET /api/network (schema 1).

import { CLASS_COLORS, el } from "../lib/dom.js";
import { asNumber, formatNumber } from "../lib/format.js";
import { steppedPanel } from "../lib/stepped.js";

const SVG = "http://www.w3.org/2000/svg";
const POSITIVE = [33, 102, 172], NEGATIVE = [232, 113, 10], ZERO = [247, 247, 247];

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

// -1..1 to orange..white..blue.
function mix(t) {
  const v = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  const end = v >= 0 ? POSITIVE : NEGATIVE;
  return ZERO.map((z, i) => Math.round(z + (end[i] - z) * Math.abs(v)));
}
const rgb = (t) => `rgb(${mix(t).join(",")})`;

function maxAbs(values) {
  let max = 1e-12;
  for (const v of values) if (Number.isFinite(v)) max = Math.max(max, Math.abs(v));
  return max;
}

// A heat map (rows of numbers, row 0 at the smallest y) as an image URL, scaled to its
// own largest magnitude so every neuron's pattern shows.
function heatImage(grid) {
  const scale = maxAbs(grid.flat().map(asNumber));
  return planeImage(grid.length, grid.length ? grid[0].length : 0,
                    (r, c) => [...mix(asNumber(grid[r][c]) / scale), 255]);
}

// A rows × cols image of the input plane as a URL; rgbaAt(r, c) gives each cell's colour.
function planeImage(rows, cols, rgbaAt) {
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, cols);
  canvas.height = Math.max(1, rows);
  const context = canvas.getContext("2d");
  const image = context.createImageData(canvas.width, canvas.height);
  for (let r = 0; r < rows; r += 1) {
    for (let c = 0; c < cols; c += 1) {
      image.data.set(rgbaAt(r, c), 4 * ((rows - 1 - r) * cols + c));  // y grows upwards
    }
  }
  context.putImageData(image, 0, 0);
  return canvas.toDataURL();
}

function draw(view, net, tooltip) {
  const columns = [
    net.inputs.map((name, j) => ({ name, heat: net.plane ? net.plane.inputs[j] : null, activation: null })),
    ...net.layers.map((layer) => layer.neurons.map((n) => ({
      name: n.name, heat: net.plane ? net.plane.heat[n.name] : null,
      activation: asNumber(n.activation), weights: n.weights.map(asNumber), bias: asNumber(n.bias),
      kind: layer.activation,
    }))),
  ];
  const tallest = Math.max(...columns.map((c) => c.length));
  const size = Math.max(14, Math.min(48, Math.floor(420 / tallest) - 8));
  const gap = Math.max(6, Math.round(size / 3));
  const output = net.plane ? 150 : 0;  // the decision function, large, on the right
  const columnGap = Math.max(90, size * 3);
  const height = Math.max(tallest * (size + gap) + gap + 24, output + 40);
  const width = 40 + (columns.length - 1) * columnGap + size + (output ? output + 60 : 20);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
                            "aria-label": `network at step ${net.step}` });
  const place = columns.map((column, k) => column.map((_, i) => ({
    x: 40 + k * columnGap,
    y: 20 + (height - 20 - column.length * (size + gap) + gap) / 2 + i * (size + gap),
  })));
  const edges = svg("g", { class: "edges" });
  const nodes = svg("g", { class: "neurons" });
  root.append(edges, nodes);
  const biggest = maxAbs(columns.slice(1).flat().flatMap((n) => n.weights));
  // Many edges: thinner and fainter, so the biggest weights still stand out.
  const edgeCount = columns.slice(1).flat().reduce((n, unit) => n + unit.weights.length, 0);
  const widest = Math.max(1.5, Math.min(5, 6 * Math.sqrt(24 / Math.max(1, edgeCount))));
  const activations = maxAbs(columns.slice(1).flat().map((n) => n.activation));
  columns.forEach((column, k) => {
    column.forEach((unit, i) => {
      const at = place[k][i];
      if (k > 0) {
        unit.weights.forEach((w, j) => {
          const from = place[k - 1][j];
          if (!from) return;
          const line = svg("line", {
            x1: from.x + size, y1: from.y + size / 2, x2: at.x, y2: at.y + size / 2,
            stroke: rgb(w >= 0 ? 0.9 : -0.9), "stroke-width": (0.3 + widest * Math.abs(w) / biggest).toFixed(2),
            "stroke-opacity": (0.15 + 0.75 * Math.abs(w) / biggest).toFixed(2),
          });
          line.dataset.tip = `${columns[k - 1][j].name} → ${unit.name}\nweight ${formatNumber(w)}`;
          line.classList.add("edge");
          edges.append(line);
        });
      }
      const group = svg("g", { class: "neuron", transform: `translate(${at.x},${at.y})` });
      group.dataset.name = unit.name;
      if (unit.heat) {
        group.append(svg("image", { width: size, height: size, href: heatImage(unit.heat), preserveAspectRatio: "none" }));
        group.append(svg("rect", { width: size, height: size, fill: "none", stroke: "#90a4ae" }));
      } else {
        const fill = unit.activation === null ? "#eceff1" : rgb(unit.activation / activations);
        group.append(svg("rect", { width: size, height: size, rx: 4, fill, stroke: "#90a4ae" }));
      }
      const tip = [unit.name];
      if (unit.activation !== null) {
        tip.push(`mean activation ${formatNumber(unit.activation)}`, `bias ${formatNumber(unit.bias)}`);
        if (unit.kind) tip.push(`activation function ${unit.kind}`);
      } else tip.push("input");
      group.dataset.tip = tip.join("\n");
      nodes.append(group);
      if (k === 0 || column.length <= 12) {
        // Inputs are named on their left, neurons above (hover names them all).
        const label = k === 0
          ? svg("text", { x: at.x - 4, y: at.y + size / 2 + 4, "text-anchor": "end", class: "neuron-label" })
          : svg("text", { x: at.x + size / 2, y: at.y - 3, "text-anchor": "middle", class: "neuron-label" });
        label.textContent = unit.name;
        nodes.append(label);
      }
    });
  });
  if (net.plane) drawOutput(root, net, width - output - 30, (height - output) / 2, output);
  root.addEventListener("mousemove", (event) => {
    const target = event.target.closest("[data-tip]");
    if (!target) { tooltip.hidden = true; return; }
    tooltip.textContent = target.dataset.tip;
    tooltip.hidden = false;
    tooltip.style.left = `${event.clientX + 14}px`;
    tooltip.style.top = `${event.clientY + 14}px`;
  });
  root.addEventListener("mouseleave", () => { tooltip.hidden = true; });
  view.replaceChildren(root);
}

function hexRgb(hex) {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

// Each cell's predicted class (the last layer's largest output) in its class colour.
function classImage(grids) {
  const rows = grids[0].length;
  return planeImage(rows, rows ? grids[0][0].length : 0, (r, c) => {
    let best = 0;
    grids.forEach((grid, k) => { if (asNumber(grid[r][c]) > asNumber(grids[best][r][c])) best = k; });
    return [...hexRgb(CLASS_COLORS[best % CLASS_COLORS.length]), 110];
  });
}

// The decision function over the plane, large, with the data points: the last layer's
// output for one output neuron (blue: class 1), its predicted class for several.
function drawOutput(root, net, x, y, size) {
  const last = net.layers[net.layers.length - 1];
  const plane = net.plane;
  const multiclass = last.neurons.length > 1;
  const href = multiclass ? classImage(last.neurons.map((n) => plane.heat[n.name]))
    : heatImage(plane.heat[last.neurons[0].name]);
  const group = svg("g", { class: "output", transform: `translate(${x},${y})` });
  group.append(svg("image", { width: size, height: size, href, preserveAspectRatio: "none" }));
  const [x0, x1] = [plane.xs[0], plane.xs[plane.xs.length - 1]];
  const [y0, y1] = [plane.ys[0], plane.ys[plane.ys.length - 1]];
  plane.points.forEach((p, i) => {
    const label = asNumber(plane.labels[i]);
    const fill = multiclass ? CLASS_COLORS[label % CLASS_COLORS.length] : rgb(label > 0 ? 1 : -1);
    group.append(svg("circle", {
      cx: ((p[0] - x0) / (x1 - x0)) * size, cy: size - ((p[1] - y0) / (y1 - y0)) * size, r: 2.6,
      fill, stroke: "white", "stroke-width": 0.8,
    }));
  });
  group.append(svg("rect", { width: size, height: size, fill: "none", stroke: "#607d8b" }));
  const caption = svg("text", { x: size / 2, y: size + 14, "text-anchor": "middle", class: "neuron-label" });
  caption.textContent = multiclass ? "predicted class over the input plane" : `output ${last.neurons[0].name} over the input plane`;
  group.append(caption);
  group.dataset.tip = multiclass ? "the class with the largest output, with the data"
    : `${last.neurons[0].name} over the input plane, with the data`;
  group.dataset.classes = String(multiclass ? last.neurons.length : 2);
  root.append(group);
}

export function createPanel(body, board) {
  const tooltip = el("div", { class: "tooltip", hidden: true });
  body.append(tooltip);
  const panel = steppedPanel(body, board, {
    id: "network", countField: "network", stepsPath: "/api/network/steps", payloadPath: "/api/network",
    emptyText: "No network logged by the selected runs (Run.log_network, or training.board_views).",
    show(view, net) {
      view.classList.add("network");
      draw(view, net, tooltip);
    },
  });
  return panel;
}

export const schema = 1;
export const wide = true;
