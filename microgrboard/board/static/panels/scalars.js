// Scalars: one plotly chart per tag, a line per selected run in the run's colour (the
// run list is the legend: plotly's is off, so 200 runs never crush a chart).
// - One request fetches the curves of every run that needs them; polls ask only for
//   the runs that changed, from their cursor (since=).
// - The server sends at most a few thousand points per curve, keeping each bucket's
//   extremes, so a one-step spike stays; zooming a chart re-fetches its step range at
//   full resolution (start=/end=), double-click goes back to the overview.

import { el, plotlyText, PLOT_CONFIG, showMessage } from "../lib/dom.js";
import { chartNumber } from "../lib/format.js";
import { mergeSeries, relayoutRange, smooth } from "../lib/steps.js";

const MANY_RUNS = 12;  // past this, hover names one run, not all of them
// Points drawn on the whole page at most: a chart a few hundred pixels wide shows no
// more, and plotly draws ~200,000 points in a fraction of a second. Each curve gets its
// share (the server keeps every bucket's extremes, so spikes stay); zoom for the rest.
const POINT_BUDGET = 200_000;
const MAX_POINTS = 2000, MIN_POINTS = 100;

const MAX_RUNS_PER_REQUEST = 400, MAX_NAME_CHARS = 6000;

export function chunks(names) {
  const groups = [[]];
  let chars = 0;
  for (const name of names) {
    const size = encodeURIComponent(name).length + 5;  // "run=" and "&"
    if (groups[groups.length - 1].length >= MAX_RUNS_PER_REQUEST || chars + size > MAX_NAME_CHARS) {
      groups.push([]);
      chars = 0;
    }
    groups[groups.length - 1].push(name);
    chars += size;
  }
  return groups.filter((g) => g.length);
}

export function pointsPerCurve(curves) {
  return Math.max(MIN_POINTS, Math.min(MAX_POINTS, Math.floor(POINT_BUDGET / Math.max(1, curves))));
}

function numbers(series) {
  return { steps: series.steps, values: series.values.map(chartNumber) };
}

export function createPanel(body, board) {
  const cache = new Map();   // run name -> {started, cursor, series: {tag: {steps, values}}}
  const charts = new Map();  // tag -> {div, zoom: {start, end} | null, zoomed: {run: series}}
  let selected = [];
  let smoothing = 0.6;
  let zoomFetches = 0;

  const slider = el("input", { type: "range", min: 0, max: 0.99, step: 0.01, value: smoothing,
                               id: "smoothing", "aria-label": "smoothing" });
  const shown = el("output", { id: "smoothing-value" }, smoothing.toFixed(2));
  slider.addEventListener("input", () => {
    smoothing = Number(slider.value);
    shown.textContent = smoothing.toFixed(2);
    for (const tag of charts.keys()) draw(tag);
  });
  const grid = el("div", { class: "charts", id: "scalar-charts" },
    el("p", { class: "hint" }, "Select a run to see its curves."));
  // Runs whose rows the server could not read (text in a value column, say): the
  // server's message per run, while every other run's curves show as usual.
  const errors = new Map();  // run name -> message
  const errorList = el("ul", { class: "run-errors error-text", id: "scalar-errors", role: "alert",
                               hidden: true });
  body.append(el("div", { class: "controls" }, el("label", {}, "smoothing", slider, shown)),
    errorList, grid);

  function showErrors() {
    const lines = selected.filter((name) => errors.has(name));
    errorList.replaceChildren(...lines.map((name) => {
      const li = el("li", {}, errors.get(name));
      li.dataset.run = name;
      return li;
    }));
    errorList.hidden = lines.length === 0;
  }

  let maxPoints = MAX_POINTS;

  // One request for every run, split only past what one request may carry (the server
  // takes at most 500 runs, and a request line must stay well under 16 KB).
  async function fetchCurves(names, since, extra = {}) {
    if (!names.length) return { runs: {}, cursor: null };
    const answers = await Promise.all(chunks(names).map((run) => board.api("/api/scalars",
      { run, since, max_points: since ? undefined : maxPoints, ...extra })));
    // Only a whole fetch clears a run's error: a poll from a cursor may not reach its bad row.
    const whole = since === 0 && !extra.tag;
    for (const answer of answers) {
      for (const name of Object.keys(answer.runs)) {
        if (answer.errors?.[name]) errors.set(name, answer.errors[name]);
        else if (whole) errors.delete(name);
      }
    }
    return {
      runs: Object.assign({}, ...answers.map((a) => a.runs)),
      cursor: Math.min(...answers.map((a) => a.cursor)),  // valid for every run asked
    };
  }

  async function update({ runs, changed }) {
    selected = runs.map((r) => r.name);
    maxPoints = pointsPerCurve(runs.reduce((n, r) => n + (r.tags ? r.tags.length : 1), 0));
    const started = new Map(runs.map((r) => [r.name, r.started]));
    for (const [name, cached] of cache) {  // gone, or re-created under its name
      if (cached.started !== started.get(name) && started.has(name)) cache.delete(name);
    }
    // Fetched whole (since=0): a run not seen yet, or drawn from fewer points than its
    // share now allows (fewer runs selected). Otherwise only what it logged since its
    // cursor (the server's cursor when it was fetched, valid for every run; asking from
    // the oldest re-sends a few points, which merge as no-ops). Two requests at most,
    // whatever the number of runs.
    const whole = (n) => !cache.has(n) || (cache.get(n).coarse && cache.get(n).budget < maxPoints);
    const missing = selected.filter(whole);
    const fresh = selected.filter((n) => !whole(n) && (!changed || changed.has(n)));
    const since = Math.min(...fresh.map((n) => cache.get(n).cursor));
    const stamp = board.tickets.take("scalars");
    const [older, newer] = await stamp(Promise.all([
      fetchCurves(fresh, since), fetchCurves(missing, 0)]));
    for (const [name, tags] of Object.entries(newer.runs)) {
      const series = {};
      let coarse = false;
      for (const [tag, curve] of Object.entries(tags)) {
        series[tag] = numbers(curve);
        coarse = coarse || Boolean(curve.downsampled);
      }
      cache.set(name, { started: started.get(name), cursor: newer.cursor, series, budget: maxPoints, coarse });
    }
    for (const [name, tags] of Object.entries(older.runs)) {
      const cached = cache.get(name);
      for (const [tag, curve] of Object.entries(tags)) {
        cached.series[tag] = mergeSeries(cached.series[tag], numbers(curve));
      }
      cached.cursor = older.cursor;
    }
    showErrors();
    await board.plotlyReady;
    const tags = new Set();
    for (const name of selected) for (const tag of Object.keys(cache.get(name)?.series || {})) tags.add(tag);
    if (!tags.size) {
      for (const chart of charts.values()) window.Plotly.purge(chart.div);
      charts.clear();
      showMessage(grid, selected.length ? "No scalars logged by the selected runs." : "Select a run to see its curves.");
      return;
    }
    if (grid.querySelector("p")) grid.replaceChildren();
    for (const [tag, chart] of charts) {
      if (!tags.has(tag)) { window.Plotly.purge(chart.div); chart.div.remove(); charts.delete(tag); }
    }
    for (const tag of [...tags].sort()) {
      if (!charts.has(tag)) addChart(tag);
      const chart = charts.get(tag);
      if (chart.zoom) await refetchZoom(tag);  // a live run grows inside the zoom too
      else draw(tag);
    }
  }

  function addChart(tag) {
    const div = el("div", { class: "chart" });
    div.dataset.tag = tag;
    const next = [...grid.children].find((c) => c.dataset.tag > tag);
    grid.insertBefore(div, next || null);
    charts.set(tag, { div, zoom: null, zoomed: {}, runs: [], listening: false });
  }

  // A zoom asks the server for the steps shown, at full resolution; a reset (double
  // click) shows the overview again.
  function listen(tag, chart) {
    chart.listening = true;
    chart.div.on("plotly_relayout", (event) => {
      const range = relayoutRange(event);
      if (range === undefined) return;
      chart.zoom = range;
      chart.div.dataset.zoom = range ? `${range.start}-${range.end}` : "";
      if (!range) { chart.zoomed = {}; draw(tag); return; }
      board.guard(body, () => refetchZoom(tag));
    });
  }

  async function refetchZoom(tag) {
    const chart = charts.get(tag);
    const { start, end } = chart.zoom;
    const stamp = board.tickets.take(`zoom-${tag}`);
    zoomFetches += 1;
    const names = selected.filter((name) => cache.get(name)?.series[tag]);
    const answer = await stamp(fetchCurves(names, undefined,
      { tag, start, end, max_points: pointsPerCurve(names.length) }));
    chart.zoomed = {};
    for (const [name, tags] of Object.entries(answer.runs)) {
      if (tags[tag]) chart.zoomed[name] = numbers(tags[tag]);
    }
    draw(tag);
  }

  function draw(tag) {
    const chart = charts.get(tag);
    const traces = [];
    chart.runs = [];  // the run of each trace, in order
    const faint = selected.length <= 50;  // raw lines under smoothed ones, while readable
    for (const name of selected) {
      const s = chart.zoom ? chart.zoomed[name] : cache.get(name)?.series[tag];
      if (!s) continue;
      const color = board.runColor(name);
      const label = plotlyText(name);
      if (smoothing > 0 && faint) {
        traces.push({ x: s.steps, y: s.values, name: label, mode: "lines", showlegend: false,
          line: { color, width: 1 }, opacity: 0.3, hoverinfo: "skip" });
        chart.runs.push(name);
      }
      // The name comes in through fullData, never into the template: a "%{y}" in a
      // run name stays text.
      traces.push({ x: s.steps, y: smoothing > 0 ? smooth(s.values, smoothing) : s.values,
        name: label, mode: "lines", showlegend: false, line: { color, width: faint ? 1.8 : 1.2 },
        hovertemplate: "%{fullData.name}<br>step %{x}: %{y:.4g}<extra></extra>" });
      chart.runs.push(name);
    }
    const layout = {
      title: { text: plotlyText(tag), font: { size: 14 } },
      margin: { l: 50, r: 12, t: 34, b: 28 },
      showlegend: false,
      hovermode: selected.length > MANY_RUNS ? "closest" : "x unified",
      xaxis: { zeroline: false, ...(chart.zoom ? { range: [chart.zoom.start, chart.zoom.end] } : {}) },
      yaxis: { zeroline: false },
      uirevision: tag,  // keep the user's zoom across redraws
    };
    window.Plotly.react(chart.div, traces, layout, PLOT_CONFIG);
    if (!chart.listening) listen(tag, chart);
    if (highlighted !== null) highlight(highlighted);
    chart.div.dataset.points = String(traces.reduce((n, t) => n + t.x.length, 0));
  }

  // Pick one run's lines out (the run list's hover): classes on plotly's trace groups,
  // no redraw, so it is instant with 200 runs.
  let highlighted = null;
  function highlight(name) {
    highlighted = name;
    for (const chart of charts.values()) {
      const groups = chart.div.querySelectorAll(".scatterlayer .trace");
      chart.div.classList.toggle("has-highlight", name !== null && chart.runs.includes(name));
      groups.forEach((g, i) => g.classList.toggle("highlight", chart.runs[i] === name));
    }
  }

  board.scalars = { cache, charts, get zoomFetches() { return zoomFetches; } };
  return { update, highlight };
}

export const schema = 2;
export const wide = true;
