// Parameters: heat maps of every parameter's value and gradient at a training step, one
// pair per layer (a row per neuron, a column per weight and the bias), from the names
// nn gives them ("L0.N3.w1"); histograms for parameters named otherwise.

import { GRAD_SCALE, PLOT_CONFIG, plotlyText, VALUE_SCALE } from "../lib/dom.js";
import { asNumber } from "../lib/format.js";
import { steppedPanel } from "../lib/stepped.js";

const PARAMETER_NAME = /^(.+?)\.N(\d+)\.(?:w(\d+)|b)$/;

function byLayer(payload) {
  const layers = new Map();
  for (const [i, name] of payload.names.entries()) {
    const m = PARAMETER_NAME.exec(name);
    if (!m) return null;
    const layer = layers.get(m[1]) || { rows: new Map(), width: 0 };
    const row = Number(m[2]);
    const col = m[3] === undefined ? -1 : Number(m[3]);
    if (!layer.rows.has(row)) layer.rows.set(row, new Map());
    layer.rows.get(row).set(col, { data: asNumber(payload.data[i]), grad: asNumber(payload.grad[i]) });
    layer.width = Math.max(layer.width, col + 2);
    layers.set(m[1], layer);
  }
  return layers.size ? layers : null;
}

function maxAbs(layers, field) {
  let max = 1e-12;
  for (const layer of layers.values()) {
    for (const cells of layer.rows.values()) {
      for (const c of cells.values()) if (Number.isFinite(c[field])) max = Math.max(max, Math.abs(c[field]));
    }
  }
  return max;
}

function heatmaps(div, layers) {
  const names = [...layers.keys()];
  const limits = { data: maxAbs(layers, "data"), grad: maxAbs(layers, "grad") };
  const traces = [];
  names.forEach((layerName, index) => {
    const layer = layers.get(layerName);
    const rows = [...layer.rows.keys()].sort((a, b) => a - b);
    const columns = [...Array(layer.width - 1).keys()].map((j) => `w${j}`).concat(["b"]);
    const colIndex = (j) => (j === columns.length - 1 ? -1 : j);
    const grid = (field) => rows.map((r) => columns.map((_, j) => {
      const cell = layer.rows.get(r).get(colIndex(j));
      return cell && Number.isFinite(cell[field]) ? cell[field] : null;
    }));
    const text = rows.map((r) => columns.map((col) => plotlyText(`${layerName}.N${r}.${col}`)));
    const y = rows.map((r) => `N${r}`);
    for (const [field, offset, scale, title] of [["data", 1, VALUE_SCALE, "value"], ["grad", 2, GRAD_SCALE, "grad"]]) {
      traces.push({
        type: "heatmap", z: grid(field), x: columns, y, text,
        xaxis: `x${2 * index + offset}`, yaxis: `y${2 * index + offset}`,
        colorscale: scale, zmin: -limits[field], zmax: limits[field],
        showscale: index === 0, hoverongaps: false,
        colorbar: { len: 0.45, y: offset === 1 ? 0.78 : 0.22, thickness: 10, title: { text: title } },
        hovertemplate: `%{text}<br>${title} %{z:.4g}<extra></extra>`,
      });
    }
  });
  // Each layer's band is as tall as its neurons, plus room for its title and ticks.
  const GAP = 3, UNIT = 22;
  const heights = names.map((name) => layers.get(name).rows.size);
  const units = heights.reduce((a, b) => a + b, 0) + GAP * names.length;
  const layout = { margin: { l: 50, r: 20, t: 10, b: 10 }, height: Math.max(300, units * UNIT + 20), annotations: [] };
  let used = 0;
  names.forEach((name, index) => {
    const top = 1 - (used + 1.2) / units;
    const bottom = 1 - (used + 1.2 + heights[index]) / units;
    used += heights[index] + GAP;
    for (const [offset, what, domain] of [[1, "values", [0, 0.44]], [2, "gradients", [0.5, 0.94]]]) {
      const n = 2 * index + offset;
      layout[`xaxis${n}`] = { domain, anchor: `y${n}`, tickangle: 0, tickfont: { size: 10 } };
      layout[`yaxis${n}`] = { domain: [bottom, top], anchor: `x${n}`, autorange: "reversed", tickfont: { size: 10 } };
      layout.annotations.push({ text: plotlyText(`${name} ${what}`), showarrow: false,
        xref: "paper", yref: "paper", x: (domain[0] + domain[1]) / 2, y: top, yanchor: "bottom", font: { size: 12 } });
    }
  });
  window.Plotly.react(div, traces, layout, PLOT_CONFIG);
}

function histograms(div, payload) {
  const finite = (xs) => xs.map(asNumber).filter(Number.isFinite);
  window.Plotly.react(div, [
    { type: "histogram", x: finite(payload.data), name: "values", opacity: 0.7 },
    { type: "histogram", x: finite(payload.grad), name: "gradients", opacity: 0.7, xaxis: "x2", yaxis: "y2" },
  ], { grid: { rows: 1, columns: 2, pattern: "independent" }, margin: { l: 40, r: 10, t: 30, b: 30 }, height: 320 },
  PLOT_CONFIG);
}

export function createPanel(body, board) {
  return steppedPanel(body, board, {
    id: "params", countField: "params", stepsPath: "/api/params/steps", payloadPath: "/api/params",
    emptyText: "No parameters logged by the selected runs (Run.log_params).",
    show(view, payload) {
      const layers = byLayer(payload);
      if (layers) heatmaps(view, layers); else histograms(view, payload);
    },
  });
}

export const schema = 1;
