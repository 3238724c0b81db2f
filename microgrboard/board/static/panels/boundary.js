// Decision boundary: the classifier over the input plane at a training step, with the
// data. A binary classifier's raw score is drawn on a diverging scale with its zero line;
// a multi-class one's predicted class, one colour per class, the data in the same colours
// (payload schema 2: `classes` is null for a binary classifier, else the class names).

import { CLASS_COLORS, PLOT_CONFIG, plotlyText, VALUE_SCALE } from "../lib/dom.js";
import { asNumber, chartNumber, formatNumber } from "../lib/format.js";
import { steppedPanel } from "../lib/stepped.js";

function classColor(k) { return CLASS_COLORS[k % CLASS_COLORS.length]; }

export function boundaryTraces(b) {
  const z = b.scores.map((row) => row.map(chartNumber));
  const labels = b.labels.map(asNumber);
  const classes = [...new Set(labels)].sort((p, q) => p - q);
  const traces = [];
  const multiclass = Array.isArray(b.classes);
  const className = (label) => (multiclass && b.classes[label] !== undefined ? b.classes[label] : formatNumber(label));
  if (multiclass) {
    // Predicted class index per cell: a stepped colour scale, one band per class.
    const count = Math.max(b.classes.length, 1);
    const scale = [];
    for (let k = 0; k < count; k += 1) {
      scale.push([k / count, classColor(k)], [(k + 1) / count, classColor(k)]);
    }
    traces.push({ type: "heatmap", x: b.xs, y: b.ys, z, zmin: -0.5, zmax: count - 0.5, colorscale: scale,
      opacity: 0.45, showscale: false, hoverinfo: "skip" });
  } else {
    const limit = Math.max(1e-12, ...z.flat().filter((v) => v !== null).map(Math.abs));
    traces.push(
      { type: "heatmap", x: b.xs, y: b.ys, z, zmin: -limit, zmax: limit, colorscale: VALUE_SCALE,
        opacity: 0.75, colorbar: { thickness: 10, title: { text: "score" } },
        hovertemplate: "(%{x:.2f}, %{y:.2f})<br>score %{z:.3g}<extra></extra>" },
      { type: "contour", x: b.xs, y: b.ys, z, showscale: false, hoverinfo: "skip",
        name: "boundary (score 0)", showlegend: true,
        contours: { coloring: "none", start: 0, end: 0, size: 1 }, line: { color: "#263238", width: 2.5 } });
  }
  classes.forEach((label, k) => {
    const index = multiclass && Number.isInteger(label) ? label : k;
    const points = b.points.filter((_, i) => labels[i] === label);
    traces.push({ type: "scatter", mode: "markers", name: plotlyText(`class ${className(label)}`),
      x: points.map((p) => p[0]), y: points.map((p) => p[1]),
      marker: { size: 7, color: classColor(index), line: { color: "white", width: 1 },
                symbol: ["circle", "diamond", "square", "triangle-up", "cross"][index % 5] } });
  });
  return traces;
}

export function createPanel(body, board) {
  return steppedPanel(body, board, {
    id: "boundary", countField: "boundaries", stepsPath: "/api/boundary/steps", payloadPath: "/api/boundary",
    emptyText: "No decision boundary logged by the selected runs (Run.log_decision_boundary).",
    show(view, b) {
      view.dataset.classes = String(new Set(b.labels.map(asNumber)).size);
      view.dataset.multiclass = String(Array.isArray(b.classes));
      window.Plotly.react(view, boundaryTraces(b), {
        margin: { l: 40, r: 10, t: 10, b: 30 }, height: 380,
        xaxis: { range: [b.xs[0], b.xs[b.xs.length - 1]], constrain: "domain" },
        yaxis: { range: [b.ys[0], b.ys[b.ys.length - 1]], scaleanchor: "x", constrain: "domain" },
        legend: { orientation: "h", y: -0.12 },
      }, PLOT_CONFIG);
    },
  });
}

export const schema = 2;
