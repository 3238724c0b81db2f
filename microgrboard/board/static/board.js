// microgrboard's page: runs, scalar curves, graph snapshots, parameters, decision boundary.
// Charts are plotly.js; graph pictures are server-side SVG (laid out once per structure)
// whose numbers and colours this script rewrites for each snapshot and backward step.
// User strings (run names, tags, labels) only ever reach the DOM as textContent, and
// plotly (which reads a little HTML in names) gets them HTML-escaped.
"use strict";

const POLL_MS = 2000;
const PLOT_CONFIG = { displaylogo: false, responsive: true };
// Diverging scales with white at 0: values and scores blue > 0 > red (class 1 is blue);
// gradients green > 0 > red, as the graph's gradient tints.
const VALUE_SCALE = [[0, "#b2182b"], [0.25, "#ef8a62"], [0.5, "#f7f7f7"], [0.75, "#67a9cf"], [1, "#2166ac"]];
const GRAD_SCALE = [[0, "#d62728"], [0.25, "#f4a582"], [0.5, "#f7f7f7"], [0.75, "#a6dba0"], [1, "#2ca02c"]];
const PALETTE = ["#1f77b4", "#e8710a", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

const state = {
  runs: [],
  selected: new Set(),
  known: new Set(),       // run names seen, so new runs get selected once
  signature: "",
  smoothing: 0.6,
  scalars: {},            // run name -> {tag: {steps, values}}, as shown
  scalarCache: new Map(), // run name -> {started, cursor, series}: polls fetch what is new
  svgByKey: new Map(),    // structure key -> promise of its SVG text (fetched once)
  layoutFetches: 0,
  tickets: {},            // panel -> number of its latest request (see ticket())
  graph: { run: null, tag: null, list: [], shownKey: null, snapshot: null, cells: null },
  params: { run: null, steps: [] },
  boundary: { run: null, steps: [] },
  pending: 0,
};
window.microgrboard = state;  // for the browser tests and the curious

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node[key] = value;
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// plotly renders a subset of HTML in names and hover text: give it escaped text.
function plotlyText(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

async function api(path, params = {}, as = "json") {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, item);
  }
  const response = await fetch(url);
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return as === "text" ? response.text() : response.json();
}

// Each panel's latest request wins: a response that lands after a newer request for
// the same panel (a slider dragged fast, a poll racing a click) is dropped. Usage:
// `const fresh = ticket("params"); const x = await fresh(api(...));`.
const STALE = new Error("a newer request replaced this one");
function ticket(panel) {
  const number = (state.tickets[panel] || 0) + 1;
  state.tickets[panel] = number;
  return async (promise) => {
    let value;
    try {
      value = await promise;
    } catch (error) {
      throw state.tickets[panel] === number ? error : STALE;
    }
    if (state.tickets[panel] !== number) throw STALE;
    return value;
  };
}

// Exactly Python's format(x, f".{precision}g") (drawing.format_number): round half to
// even on the exact binary value (JS's toFixed/toExponential round ties away from 0),
// then the exponent after rounding picks fixed or scientific notation.
const FLOAT_BITS = new DataView(new ArrayBuffer(8));
function formatNumber(x, precision = 4) {
  if (x === null || x === undefined) return "?";
  if (typeof x === "string") return x === "NaN" ? "nan" : (x.startsWith("-") ? "-inf" : "inf");
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return "0";
  const p = Math.max(1, precision);
  // Ties never carry into a new digit differently (99..9|5 rounds up either way), so
  // JS's rounding gives the right exponent.
  let exponent = Number(Math.abs(x).toExponential(p - 1).split("e")[1]);
  // |x| = mantissa * 2^power exactly; digits = round_half_even(|x| * 10^(p-1-exponent)).
  FLOAT_BITS.setFloat64(0, Math.abs(x));
  const bits = FLOAT_BITS.getBigUint64(0);
  const biased = Number(bits >> 52n);
  const mantissa = (bits & 0xfffffffffffffn) | (biased ? 1n << 52n : 0n);
  const power = Math.max(biased, 1) - 1075;
  const shift = p - 1 - exponent;
  const num = mantissa * 2n ** BigInt(Math.max(power, 0)) * 10n ** BigInt(Math.max(shift, 0));
  const den = 2n ** BigInt(Math.max(-power, 0)) * 10n ** BigInt(Math.max(-shift, 0));
  let n = num / den;
  const twice = 2n * (num % den);
  if (twice > den || (twice === den && n % 2n === 1n)) n += 1n;
  let digits = n.toString();
  if (digits.length > p) { digits = digits.slice(0, p); exponent += 1; }  // defensive
  const sign = x < 0 ? "-" : "";
  const trim = (text) => text.replace(/0+$/, "");
  if (exponent >= -4 && exponent < p) {
    const whole = exponent >= 0 ? digits.slice(0, exponent + 1) : "0";
    const fraction = trim(exponent >= 0 ? digits.slice(exponent + 1) : "0".repeat(-exponent - 1) + digits);
    return `${sign}${whole}${fraction ? "." + fraction : ""}`;
  }
  const fraction = trim(digits.slice(1));
  const e = `${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  return `${sign}${digits[0]}${fraction ? "." + fraction : ""}e${e}`;
}

function asNumber(x) {
  if (typeof x === "number") return x;
  if (x === "Infinity") return Infinity;
  if (x === "-Infinity") return -Infinity;
  return NaN;
}

function runColor(name) {
  const index = state.runs.findIndex((r) => r.name === name);
  return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
}

function setLive(ok, text) {
  const live = $("live");
  live.className = `live ${ok ? "ok" : "error"}`;
  live.textContent = text;
}

function showMessage(container, text, isError = false) {
  if (window.Plotly && container.classList.contains("js-plotly-plot")) Plotly.purge(container);
  container.replaceChildren(el("p", { class: isError ? "hint error-text" : "hint" }, text));
}

// ---------------------------------------------------------------- runs and hparams

function ago(seconds) {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

function renderRuns() {
  const list = $("runs");
  list.replaceChildren();
  $("no-runs").hidden = state.runs.length > 0;
  const now = Date.now() / 1000;
  for (const run of state.runs) {
    const box = el("input", { type: "checkbox", checked: state.selected.has(run.name) });
    box.dataset.run = run.name;
    box.addEventListener("change", () => {
      if (box.checked) state.selected.add(run.name); else state.selected.delete(run.name);
      refreshPanels();
    });
    const status = run.status === "running" ? `running · ${ago(now - run.updated)}` : run.status;
    const step = run.last_step === null ? "" : ` · step ${run.last_step}`;
    list.append(el("li", {},
      el("label", { title: run.name }, box,
        el("span", { class: "swatch", style: { background: runColor(run.name) } }),
        el("span", { class: "run-text" },
          el("span", { class: "name" }, run.name),
          el("span", { class: `status ${run.status}` }, status + step)))));
  }
}

function renderHparams() {
  const table = $("hparams");
  table.replaceChildren();
  const runs = state.runs.filter((r) => state.selected.has(r.name));
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.hparams)))].sort();
  if (!runs.length || !keys.length) {
    table.append(el("tr", {}, el("td", { class: "hint" }, "none logged")));
    return;
  }
  table.append(el("tr", {}, el("th", {}, "run"), ...keys.map((k) => el("th", {}, k))));
  for (const run of runs) {
    table.append(el("tr", {},
      el("th", { style: { color: runColor(run.name) } }, run.name),
      ...keys.map((k) => el("td", {}, k in run.hparams ? JSON.stringify(run.hparams[k]) : "—"))));
  }
}

function fillRunSelect(select, runs, current) {
  select.replaceChildren(...runs.map((r) => el("option", { value: r.name }, r.name)));
  const keep = runs.some((r) => r.name === current);
  select.value = keep ? current : (runs[0] ? runs[0].name : "");
  return select.value || null;
}

// Move a slider to a new range; a slider sitting on its last value follows new data.
function setSliderRange(slider, length) {
  const wasAtEnd = Number(slider.value) >= Number(slider.max);
  slider.max = Math.max(0, length - 1);
  slider.disabled = length <= 1;
  if (wasAtEnd || Number(slider.value) > Number(slider.max)) slider.value = slider.max;
}

// ---------------------------------------------------------------- scalars

function smooth(values, weight) {
  // TensorBoard's debiased exponential moving average; gaps stay gaps.
  let last = 0, count = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    last = last * weight + (1 - weight) * v;
    count += 1;
    // 12 digits: a constant series stays exactly constant (no 1e-17 wobble on the axis).
    return Number((last / (1 - Math.pow(weight, count))).toPrecision(12));
  });
}

// Merge points fetched after a cursor into a series: usually appended at the end; a
// step logged again, or out of order, replaces or slots in.
function mergeSeries(old, update) {
  if (!old) return { steps: update.steps, values: update.values };
  const last = old.steps.length ? old.steps[old.steps.length - 1] : -Infinity;
  if (!update.steps.length || update.steps[0] > last) {
    return { steps: old.steps.concat(update.steps), values: old.values.concat(update.values) };
  }
  const byStep = new Map(old.steps.map((step, i) => [step, old.values[i]]));
  update.steps.forEach((step, i) => byStep.set(step, update.values[i]));
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  return { steps, values: steps.map((step) => byStep.get(step)) };
}

async function refreshScalars() {
  const fresh = ticket("scalars");
  const names = [...state.selected];
  const started = new Map(state.runs.map((r) => [r.name, r.started]));
  for (const [name, cached] of state.scalarCache) {  // gone, or replaced under its name
    if (cached.started !== started.get(name)) state.scalarCache.delete(name);
  }
  // One request per run, each from its own cursor: a poll fetches only new points.
  const answers = await fresh(Promise.all(names.map((run) => {
    const cached = state.scalarCache.get(run);
    return api("/api/scalars", { run, since: cached ? cached.cursor : 0 });
  })));
  answers.forEach((answer, i) => {
    const name = names[i];
    const cached = state.scalarCache.get(name) || { started: started.get(name), cursor: 0, series: {} };
    for (const [tag, update] of Object.entries(answer.runs[name])) {
      cached.series[tag] = mergeSeries(cached.series[tag], update);
    }
    cached.cursor = Math.max(cached.cursor, answer.cursors[name]);
    state.scalarCache.set(name, cached);
  });
  state.scalars = Object.fromEntries(names.map((name) => [name, state.scalarCache.get(name).series]));
  renderScalars();
}

function renderScalars() {
  const container = $("scalars");
  const tags = [...new Set(Object.values(state.scalars).flatMap((s) => Object.keys(s)))].sort();
  if (!tags.length) { showMessage(container, "No scalars logged by the selected runs."); return; }
  for (const child of [...container.children]) {
    if (!child.dataset.tag || !tags.includes(child.dataset.tag)) {
      if (window.Plotly) Plotly.purge(child);
      child.remove();
    }
  }
  for (const tag of tags) {
    let div = [...container.children].find((c) => c.dataset.tag === tag);
    if (!div) { div = el("div", { class: "chart" }); div.dataset.tag = tag; container.append(div); }
    const traces = [];
    for (const [run, series] of Object.entries(state.scalars)) {
      const s = series[tag];
      if (!s) continue;
      const color = runColor(run);
      const name = plotlyText(run);
      if (state.smoothing > 0) {
        traces.push({ x: s.steps, y: s.values, name, legendgroup: name, showlegend: false,
          mode: "lines", line: { color, width: 1 }, opacity: 0.25, hoverinfo: "skip" });
      }
      // The name comes in through fullData, never into the template: a "%{y}" in a
      // run name stays text.
      traces.push({ x: s.steps, y: smooth(s.values, state.smoothing), name, legendgroup: name,
        mode: "lines", line: { color, width: 2 },
        hovertemplate: "%{fullData.name}<br>step %{x}: %{y:.4g}<extra></extra>" });
    }
    Plotly.react(div, traces, {
      title: { text: plotlyText(tag), font: { size: 14 } },
      margin: { l: 50, r: 10, t: 36, b: 24 },
      xaxis: { zeroline: false },  // the hover label says "step"
      showlegend: Object.keys(state.scalars).length > 1,
      legend: { orientation: "h", y: -0.15 },
      hovermode: "x unified",
    }, PLOT_CONFIG);
  }
}

// ---------------------------------------------------------------- graph snapshots

function sanitizeSvg(text) {
  // The server's SVG comes from Graphviz with escaped labels; parse it as XML (no
  // script runs) and drop anything active anyway before it enters the page.
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName !== "svg") throw new Error("the server sent an invalid drawing");
  // Elements that run code, embed HTML, or can rewrite attributes (animate/set can set
  // an href to javascript: after this pass).
  const active = new Set(["script", "foreignobject", "iframe", "embed", "object", "animate",
                          "set", "animatemotion", "animatetransform", "discard", "handler"]);
  for (const node of [svg, ...svg.querySelectorAll("*")]) {  // the <svg> itself too
    if (node !== svg && active.has(node.localName.toLowerCase())) { node.remove(); continue; }
    for (const attr of [...node.attributes]) {
      // Event handlers, and links anywhere but inside the drawing (javascript:, data:...).
      const link = attr.localName.toLowerCase() === "href" && !attr.value.trim().startsWith("#");
      if (/^on/i.test(attr.localName) || link) node.removeAttributeNode(attr);
    }
  }
  // Cells carry <a xlink:title="data"> for Graphviz's ids: our tooltip replaces them.
  for (const a of svg.querySelectorAll("a")) a.removeAttribute("xlink:title");
  for (const title of svg.querySelectorAll("title")) title.remove();
  return document.importNode(svg, true);
}

async function refreshGraphList() {
  const fresh = ticket("graph-list");
  const candidates = state.runs.filter((r) => state.selected.has(r.name) && r.graphs > 0);
  const select = $("graph-run");
  const run = fillRunSelect(select, candidates, state.graph.run);
  if (run !== state.graph.run) { state.graph.run = run; state.graph.tag = null; }
  if (!run) {
    state.graph.list = [];
    showGraphMessage("No graph snapshots logged by the selected runs (Run.log_graph).");
    return;
  }
  const { graphs } = await fresh(api("/api/graphs", { run }));
  const tags = [...new Set(graphs.map((g) => g.tag))];
  const tagSelect = $("graph-tag");
  tagSelect.replaceChildren(...tags.map((t) => el("option", { value: t }, t)));
  state.graph.tag = tags.includes(state.graph.tag) ? state.graph.tag : tags[0];
  tagSelect.value = state.graph.tag;
  const list = graphs.filter((g) => g.tag === state.graph.tag);
  const changed = JSON.stringify(list) !== JSON.stringify(state.graph.list);
  state.graph.list = list;
  setSliderRange($("graph-snapshot"), list.length);
  if (changed || !state.graph.snapshot) await showSnapshot();
}

function showGraphMessage(text, isError = false) {
  ticket("graph");  // a snapshot still on its way must not replace this message
  state.graph.shownKey = null;
  state.graph.snapshot = null;
  showMessage($("graph"), text, isError);
  $("graph-caption").textContent = "";
}

// A structure's layout, fetched once even when several snapshots ask at the same time.
function layoutOf(run, key) {
  let promise = state.svgByKey.get(key);
  if (promise === undefined) {
    state.layoutFetches += 1;
    promise = api("/api/graph.svg", { run, key }, "text");
    promise.catch(() => state.svgByKey.delete(key));  // a failure is not cached
    state.svgByKey.set(key, promise);
  }
  return promise;
}

async function showSnapshot() {
  const fresh = ticket("graph");
  const entry = state.graph.list[Number($("graph-snapshot").value)];
  if (!entry) return;
  $("graph-snapshot-value").textContent = entry.step;
  const record = await fresh(api("/api/graph", { run: state.graph.run, id: entry.id }));
  const snap = record.snapshot;
  if (state.graph.shownKey !== record.structure_key) {
    let text;
    try {
      text = await fresh(layoutOf(state.graph.run, record.structure_key));
    } catch (error) {
      if (error === STALE) throw error;
      showGraphMessage(`Cannot draw this graph: ${error.message}`, true);
      return;
    }
    $("graph").replaceChildren(sanitizeSvg(text));
    state.graph.shownKey = record.structure_key;
    state.graph.cells = indexSvg($("graph").querySelector("svg"));
  }
  const previousMax = Number($("graph-backward").max);
  const wasAtEnd = Number($("graph-backward").value) >= previousMax;
  state.graph.snapshot = prepareSnapshot(snap);
  const backward = $("graph-backward");
  backward.max = snap.nodes.length - 1;
  if (wasAtEnd || Number(backward.value) > Number(backward.max)) backward.value = backward.max;
  showBackwardStep();
}

function indexSvg(svg) {
  // Look every cell up once per layout: a slider move then only touches text nodes.
  const cells = new Map();
  for (const g of svg.querySelectorAll("g.node")) {
    const match = /^n(\d+)$/.exec(g.id);
    if (!match) continue;
    const id = Number(match[1]);
    const data = svg.getElementById(`a_n${id}-data`);
    const grad = svg.getElementById(`a_n${id}-grad`);
    cells.set(id, {
      group: g,
      data: data && data.querySelector("text"),
      grad: grad && grad.querySelector("text"),
      gradBox: grad && grad.querySelector("polygon"),
    });
  }
  const edges = [];
  for (const g of svg.querySelectorAll("g.edge")) {
    const match = /^e(\d+)-(\d+)-\d+$/.exec(g.id);
    if (match) edges.push({ parent: Number(match[1]), child: Number(match[2]), group: g });
  }
  return { cells, edges };
}

function prepareSnapshot(snap) {
  const byId = new Map(snap.nodes.map((n) => [n.id, n]));
  const order = snap.nodes.map((n) => n.id).reverse();  // backward visits ids downwards
  return { ...snap, byId, order };
}

// The gradients known after backward step `step` (snapshot.grads_at_step in Python).
function gradsAtStep(snap, step) {
  const processed = new Set(snap.order.slice(0, step + 1));
  const known = new Map(snap.nodes.map((n) => [n.id, null]));
  known.set(snap.root, asNumber(snap.seed));
  for (const edge of snap.edges) {
    if (processed.has(edge.child)) {
      const previous = known.get(edge.parent);  // null: not reached yet (a NaN stays NaN)
      known.set(edge.parent, asNumber(edge.share) + (previous === null ? 0 : previous));
    }
  }
  return { known, processed };
}

function showBackwardStep() {
  const snap = state.graph.snapshot;
  if (!snap || !state.graph.cells) return;
  const step = Number($("graph-backward").value);
  const last = snap.order.length - 1;
  const { known, processed } = gradsAtStep(snap, step);
  const current = snap.order[step];  // as draw(step=...): the last step's node too
  const finite = [...known.values()].filter((g) => g !== null && Number.isFinite(g));
  const scale = Math.max(1e-12, ...finite.map(Math.abs));
  for (const [id, cell] of state.graph.cells.cells) {
    const node = snap.byId.get(id);
    if (!node) continue;
    const grad = known.get(id);
    if (cell.data) cell.data.textContent = `data ${formatNumber(asNumber(node.data))}`;
    if (cell.grad) cell.grad.textContent = `grad ${formatNumber(grad)}`;
    if (cell.gradBox) {
      // Tint each gradient by sign and size: green pushes up, red pushes down.
      const strength = grad === null || !Number.isFinite(grad) ? 0 : Math.abs(grad) / scale;
      const rgb = grad >= 0 ? "46,160,67" : "214,39,40";
      cell.gradBox.style.fill = strength ? `rgba(${rgb},${(0.08 + 0.5 * strength).toFixed(3)})` : "";
    }
    cell.group.classList.toggle("mgb-pending", grad === null);
    cell.group.classList.toggle("mgb-current", id === current);
  }
  for (const edge of state.graph.cells.edges) {
    edge.group.classList.toggle("mgb-flow", edge.child === current);
  }
  const name = snap.byId.get(current).label;
  const label = `processing node ${current}${name ? ` (${name})` : ""}`
    + (step === last ? "; done: every gradient is known" : "");
  $("graph-backward-value").textContent = `${step} / ${last}`;
  $("graph-caption").textContent =
    `${snap.nodes.length} nodes · backward step ${step}: ${label}. Hover a node for its numbers.`;
  $("graph").dataset.step = String(step);
}

function graphHover(event) {
  const tooltip = $("tooltip");
  const snap = state.graph.snapshot;
  const group = event.target.closest && event.target.closest("g.node");
  for (const g of $("graph").querySelectorAll("g.mgb-hover")) if (g !== group) g.classList.remove("mgb-hover");
  const match = group && /^n(\d+)/.exec(group.id);
  if (!snap || !match || !snap.byId.has(Number(match[1]))) { tooltip.hidden = true; return; }
  group.classList.add("mgb-hover");
  const node = snap.byId.get(Number(match[1]));
  const { known } = gradsAtStep(snap, Number($("graph-backward").value));
  tooltip.textContent = [
    `node ${node.id}${node.label ? `  ${node.label}` : ""}`,
    `op    ${node.op || "(leaf)"}`,
    `data  ${formatNumber(asNumber(node.data), 6)}`,
    `grad  ${formatNumber(known.get(node.id), 6)}`,
    `final ${formatNumber(asNumber(node.grad), 6)}`,
  ].join("\n");
  tooltip.hidden = false;
  tooltip.style.left = `${event.clientX + 14}px`;
  tooltip.style.top = `${event.clientY + 14}px`;
}

// ---------------------------------------------------------------- parameters

const PARAMETER_NAME = /^(.+?)\.N(\d+)\.(?:w(\d+)|b)$/;

// A panel of payloads logged per step (parameters, decision boundary): pick a run that
// logged some, load its steps into the slider, show the selected one. Its elements are
// `${panel}`, `${panel}-run` and `${panel}-step`; its state is state[panel].
async function refreshStepped(panel, { countField, stepsPath, emptyText, show }) {
  const fresh = ticket(`${panel}-list`);
  const candidates = state.runs.filter((r) => state.selected.has(r.name) && r[countField] > 0);
  const run = fillRunSelect($(`${panel}-run`), candidates, state[panel].run);
  state[panel].run = run;
  if (!run) { ticket(panel); showMessage($(panel), emptyText); return; }
  const { steps } = await fresh(api(stepsPath, { run }));
  state[panel].steps = steps;
  setSliderRange($(`${panel}-step`), steps.length);
  await show();
}

function refreshParams() {
  return refreshStepped("params", {
    countField: "params", stepsPath: "/api/params/steps", show: showParams,
    emptyText: "No parameters logged by the selected runs (Run.log_params).",
  });
}

async function showParams() {
  const step = state.params.steps[Number($("params-step").value)];
  if (step === undefined) return;
  $("params-step-value").textContent = step;
  const fresh = ticket("params");
  const payload = await fresh(api("/api/params", { run: state.params.run, step }));
  const layers = new Map();
  let parsed = true;
  payload.names.forEach((name, i) => {
    const m = PARAMETER_NAME.exec(name);
    if (!m) { parsed = false; return; }
    const layer = layers.get(m[1]) || { rows: new Map(), width: 0 };
    const row = Number(m[2]);
    const col = m[3] === undefined ? -1 : Number(m[3]);
    if (!layer.rows.has(row)) layer.rows.set(row, []);
    layer.rows.get(row).push({ col, name, data: asNumber(payload.data[i]), grad: asNumber(payload.grad[i]) });
    layer.width = Math.max(layer.width, col + 2);
    layers.set(m[1], layer);
  });
  const div = $("params");
  div.dataset.step = String(step);
  if (div.querySelector("p")) div.replaceChildren();
  if (!parsed || !layers.size) { plotParamHistograms(div, payload); return; }
  plotParamHeatmaps(div, layers);
}

function plotParamHeatmaps(div, layers) {
  // One row per layer: weights and bias of each neuron (rows), values left, gradients right.
  const names = [...layers.keys()];
  const traces = [];
  let maxValue = 1e-12, maxGrad = 1e-12;
  for (const layer of layers.values()) {
    for (const cells of layer.rows.values()) {
      for (const c of cells) {
        if (Number.isFinite(c.data)) maxValue = Math.max(maxValue, Math.abs(c.data));
        if (Number.isFinite(c.grad)) maxGrad = Math.max(maxGrad, Math.abs(c.grad));
      }
    }
  }
  names.forEach((layerName, index) => {
    const layer = layers.get(layerName);
    const rows = [...layer.rows.keys()].sort((a, b) => a - b);
    const columns = [...Array(layer.width - 1).keys()].map((j) => `w${j}`).concat(["b"]);
    const grid = (field) => rows.map((r) => columns.map((_, j) => {
      const cell = layer.rows.get(r).find((c) => (j === columns.length - 1 ? c.col === -1 : c.col === j));
      return cell ? cell[field] : null;
    }));
    const text = rows.map((r) => columns.map((col) => plotlyText(`${layerName}.N${r}.${col}`)));
    const y = rows.map((r) => `N${r}`);
    const axis = 2 * index;
    for (const [field, offset, maxAbs, scale, title] of [
      ["data", 1, maxValue, VALUE_SCALE, "value"], ["grad", 2, maxGrad, GRAD_SCALE, "grad"]]) {
      traces.push({
        type: "heatmap", z: grid(field), x: columns, y, text,
        xaxis: `x${axis + offset}`, yaxis: `y${axis + offset}`,
        colorscale: scale, zmin: -maxAbs, zmax: maxAbs,
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
  const layout = { margin: { l: 50, r: 20, t: 10, b: 10 }, height: Math.max(300, units * UNIT + 20),
                   annotations: [] };
  let used = 0;
  names.forEach((name, index) => {
    const top = 1 - (used + 1.2) / units;
    const bottom = 1 - (used + 1.2 + heights[index]) / units;
    used += heights[index] + GAP;
    for (const [offset, what, domain] of [[1, "values", [0, 0.44]], [2, "gradients", [0.5, 0.94]]]) {
      const n = 2 * index + offset;
      layout[`xaxis${n}`] = { domain, anchor: `y${n}`, tickangle: 0, tickfont: { size: 10 } };
      layout[`yaxis${n}`] = { domain: [bottom, top], anchor: `x${n}`, autorange: "reversed",
                              tickfont: { size: 10 } };
      layout.annotations.push({ text: plotlyText(`${name} ${what}`), showarrow: false,
        xref: "paper", yref: "paper", x: (domain[0] + domain[1]) / 2, y: top,
        yanchor: "bottom", font: { size: 12 } });
    }
  });
  Plotly.react(div, traces, layout, PLOT_CONFIG);
}

function plotParamHistograms(div, payload) {
  const finite = (xs) => xs.map(asNumber).filter(Number.isFinite);
  Plotly.react(div, [
    { type: "histogram", x: finite(payload.data), name: "values", opacity: 0.7 },
    { type: "histogram", x: finite(payload.grad), name: "gradients", opacity: 0.7, xaxis: "x2", yaxis: "y2" },
  ], {
    grid: { rows: 1, columns: 2, pattern: "independent" },
    margin: { l: 40, r: 10, t: 30, b: 30 }, height: 320,
  }, PLOT_CONFIG);
}

// ---------------------------------------------------------------- decision boundary

function refreshBoundary() {
  return refreshStepped("boundary", {
    countField: "boundaries", stepsPath: "/api/boundaries/steps", show: showBoundary,
    emptyText: "No decision boundary logged by the selected runs (Run.log_decision_boundary).",
  });
}

async function showBoundary() {
  const step = state.boundary.steps[Number($("boundary-step").value)];
  if (step === undefined) return;
  $("boundary-step-value").textContent = step;
  const fresh = ticket("boundary");
  const b = await fresh(api("/api/boundary", { run: state.boundary.run, step }));
  const z = b.scores.map((row) => row.map((v) => { const x = asNumber(v); return Number.isFinite(x) ? x : null; }));
  const limit = Math.max(1e-12, ...z.flat().filter((v) => v !== null).map(Math.abs));
  const traces = [
    { type: "heatmap", x: b.xs, y: b.ys, z, zmin: -limit, zmax: limit, colorscale: VALUE_SCALE,
      showlegend: false,
      opacity: 0.75, colorbar: { thickness: 10, title: { text: "score" } },
      hovertemplate: "(%{x:.2f}, %{y:.2f})<br>score %{z:.3g}<extra></extra>" },
    { type: "contour", x: b.xs, y: b.ys, z, showscale: false, hoverinfo: "skip",
      name: "boundary (score 0)", showlegend: true,
      contours: { coloring: "none", start: 0, end: 0, size: 1 }, line: { color: "#263238", width: 2.5 } },
  ];
  const classes = [...new Set(b.labels.map(asNumber))].sort((p, q) => p - q);
  classes.forEach((label, k) => {
    const points = b.points.filter((_, i) => asNumber(b.labels[i]) === label);
    traces.push({ type: "scatter", mode: "markers", name: `class ${formatNumber(label)}`,
      x: points.map((p) => p[0]), y: points.map((p) => p[1]),
      marker: { size: 7, color: k === 0 ? "#b2182b" : "#2166ac", line: { color: "white", width: 1 },
                symbol: k === 0 ? "circle" : "diamond" } });
  });
  const div = $("boundary");
  div.dataset.step = String(step);  // which step is drawn (the browser test reads it)
  if (div.querySelector("p")) div.replaceChildren();
  Plotly.react(div, traces, {
    margin: { l: 40, r: 10, t: 10, b: 30 }, height: 360,
    xaxis: { range: [b.xs[0], b.xs[b.xs.length - 1]] },
    yaxis: { range: [b.ys[0], b.ys[b.ys.length - 1]], scaleanchor: "x" },
    legend: { orientation: "h", y: -0.12 },
  }, PLOT_CONFIG);
}

// ---------------------------------------------------------------- polling

async function guarded(panel, work) {
  try {
    await work();
  } catch (error) {
    if (error === STALE) return;  // a newer request for this panel shows its own result
    const container = $(panel);
    if (container) showMessage(container, `Could not load: ${error.message}`, true);
  }
}

async function refreshPanels() {
  renderRuns();
  renderHparams();
  await Promise.all([
    guarded("scalars", refreshScalars),
    guarded("graph", refreshGraphList),
    guarded("params", refreshParams),
    guarded("boundary", refreshBoundary),
  ]);
}

async function poll() {
  try {
    const { runs } = await api("/api/runs");
    state.runs = runs;
    for (const run of runs) {
      if (!state.known.has(run.name)) { state.known.add(run.name); state.selected.add(run.name); }
    }
    for (const name of [...state.selected]) {
      if (!runs.some((r) => r.name === name)) state.selected.delete(name);
    }
    const signature = JSON.stringify(runs.map((r) => [r.name, r.updated, r.status]));
    if (signature !== state.signature) {
      state.signature = signature;
      await refreshPanels();
    } else {
      renderRuns();  // refresh the "updated … ago" times
    }
    const running = runs.some((r) => r.status === "running");
    setLive(true, running ? "live: a run is writing" : `up to date (${runs.length} runs)`);
  } catch (error) {
    setLive(false, `cannot reach the log: ${error.message}`);
  }
  document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  setTimeout(poll, POLL_MS);
}

function start() {
  const smoothing = $("smoothing");
  smoothing.addEventListener("input", () => {
    state.smoothing = Number(smoothing.value);
    $("smoothing-value").textContent = state.smoothing.toFixed(2);
    renderScalars();
  });
  $("graph-run").addEventListener("change", (e) => { state.graph.run = e.target.value; state.graph.list = []; guarded("graph", refreshGraphList); });
  $("graph-tag").addEventListener("change", (e) => { state.graph.tag = e.target.value; state.graph.list = []; guarded("graph", refreshGraphList); });
  $("graph-snapshot").addEventListener("input", () => guarded("graph", showSnapshot));
  $("graph-backward").addEventListener("input", showBackwardStep);
  $("graph").addEventListener("mousemove", graphHover);
  $("graph").addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
  $("params-run").addEventListener("change", (e) => { state.params.run = e.target.value; guarded("params", refreshParams); });
  $("params-step").addEventListener("input", () => guarded("params", showParams));
  $("boundary-run").addEventListener("change", (e) => { state.boundary.run = e.target.value; guarded("boundary", refreshBoundary); });
  $("boundary-step").addEventListener("input", () => guarded("boundary", showBoundary));
  if (!window.Plotly) setLive(false, "plotly.js did not load");
  poll();
}

document.addEventListener("DOMContentLoaded", start);
