// microgrboard's page shell: the run list (filter, select all / none, colours, status),
// the hyper-parameter table, the layout, and polling. Everything else is a panel: one ES
// module under panels/, listed by the server's panel registry (GET /api/panels, from
// microgrboard.board.panels.PANELS), so a new panel is one Python slice, one module here
// and one line in that list; this file does not change. The module contract is in
// panels/README.md.

import { api, STALE, Tickets } from "./lib/api.js";
import { $, el, showMessage } from "./lib/dom.js";
import { formatNumber } from "./lib/format.js";
import { filterRuns, runColor, sortRows, statusText } from "./lib/runs.js";

const POLL_MS = 2000;

// plotly.js takes most of a second to run: the page first asks for its data, then runs
// plotly (preloaded by index.html) while the server answers. Panels await plotlyReady.
let plotlyLoaded, plotlyFailed;
const plotlyReady = new Promise((resolve, reject) => { plotlyLoaded = resolve; plotlyFailed = reject; });
function loadPlotly() {
  if (document.getElementById("plotly")) return;
  const script = el("script", { src: "/vendor/plotly.min.js", id: "plotly" });
  script.addEventListener("load", () => plotlyLoaded(window.Plotly));
  script.addEventListener("error", () => plotlyFailed(new Error("plotly.js did not load")));
  document.head.append(script);
}

const board = {
  runs: [],               // as /api/runs lists them
  byName: new Map(),
  selected: new Set(),
  known: new Set(),       // run names seen, so a new run is selected once
  filter: "",
  hparamSort: { key: "run", descending: false },
  panels: [],             // {spec, instance, card}
  tickets: new Tickets(),
  token: null,            // the "anything new?" answer last seen (GET /api/changes)
  runTokens: {},          // run name -> its own change token
  pending: 0,             // panel updates in flight (the browser tests wait for 0)
  polls: 0,
  api,
  runColor,
  plotlyReady,            // a panel awaits it before it draws a chart
  selectedRuns() { return this.runs.filter((r) => this.selected.has(r.name)); },
  // A panel's work: stale answers are dropped; an error is shown on the panel's card
  // (its content stays, and the next success clears the message).
  async guard(element, work) {
    this.pending += 1;
    document.body.dataset.pending = String(this.pending);
    const line = element.closest(".card")?.querySelector(".panel-error");
    try {
      await work();
      if (line) line.hidden = true;
    } catch (error) {
      if (error !== STALE) {
        if (line) {
          line.textContent = `Could not load: ${error.message}`;
          line.hidden = false;
        } else showMessage(element, `Could not load: ${error.message}`, true);
      }
    } finally {
      this.pending -= 1;
      document.body.dataset.pending = String(this.pending);
    }
  },
};
window.microgrboard = board;  // for the browser tests and the curious

function setLive(ok, text) {
  const live = $("live");
  live.className = `live ${ok ? "ok" : "error"}`;
  live.textContent = text;
}

// ---------------------------------------------------------------- run list

const rows = new Map();  // run name -> its <li>, kept across renders

function runRow(run) {
  const box = el("input", { type: "checkbox" });
  box.dataset.run = run.name;
  box.addEventListener("change", () => {
    if (box.checked) board.selected.add(run.name); else board.selected.delete(run.name);
    selectionChanged();
  });
  const status = el("span", { class: "status" });
  // A run the server could not read whole (a damaged row): its message, the rest shown.
  const problem = el("span", { class: "run-error error-text", role: "note", hidden: true });
  const label = el("label", { title: run.name }, box,
    el("span", { class: "swatch", style: { background: runColor(run.name) } }),
    el("span", { class: "run-text" }, el("span", { class: "name" }, run.name), status, problem));
  const li = el("li", {}, label);
  li.dataset.run = run.name;
  // The run list is the legend: pointing at a run picks its lines out in every chart.
  li.addEventListener("mouseenter", () => highlight(run.name));
  li.addEventListener("mouseleave", () => highlight(null));
  return { li, box, status, problem, label };
}

function showRunError(row, run) {
  const message = run.error || "";
  if (row.problem.textContent === message) return;
  row.problem.textContent = message;
  row.problem.hidden = !message;
  row.li.classList.toggle("has-error", Boolean(message));
  row.label.title = message ? `${run.name}\n${message}` : run.name;
}

function renderRuns() {
  const { runs: shown, valid, error } = filterRuns(board.runs, board.filter);
  const filterInput = $("run-filter");
  filterInput.classList.toggle("invalid", !valid);
  filterInput.setAttribute("aria-invalid", String(!valid));
  $("filter-error").textContent = valid ? "" : `invalid regular expression: ${error}`;
  $("filter-error").hidden = valid;
  $("run-count").textContent =
    `${board.selected.size} of ${board.runs.length} selected` +
    (shown.length !== board.runs.length ? ` · ${shown.length} shown` : "");
  $("no-runs").hidden = board.runs.length > 0;
  const now = Date.now() / 1000;
  const list = $("runs");
  for (const [name, row] of rows) {
    if (!board.byName.has(name)) { row.li.remove(); rows.delete(name); }
  }
  const children = [];
  for (const run of shown) {
    let row = rows.get(run.name);
    if (!row) { row = runRow(run); rows.set(run.name, row); }
    row.box.checked = board.selected.has(run.name);
    const step = run.last_step === null || run.last_step === undefined ? "" : ` · step ${run.last_step}`;
    const text = statusText(run, now) + step;
    if (row.status.textContent !== text) row.status.textContent = text;
    row.status.className = `status ${run.status}`;
    showRunError(row, run);
    children.push(row.li);
  }
  // Re-order only when the shown set changed: a poll leaves the DOM (and focus) alone.
  const current = [...list.children];
  if (current.length !== children.length || current.some((li, i) => li !== children[i])) {
    list.replaceChildren(...children);
  }
}

function highlight(name) {
  for (const { instance } of board.panels) if (instance.highlight) instance.highlight(name);
}

function selectShown(select) {
  for (const run of filterRuns(board.runs, board.filter).runs) {
    if (select) board.selected.add(run.name); else board.selected.delete(run.name);
  }
  selectionChanged();
}

// ---------------------------------------------------------------- hyper-parameters

// Numbers to 6 significant digits, as Python's format_number (0.009000000000000001 reads
// 0.009); the exact value is in the cell's tooltip.
function hparamText(value) {
  if (value === undefined) return "—";
  if (typeof value === "number") return formatNumber(value, 6);
  return typeof value === "string" ? value : JSON.stringify(value);
}

function renderHparams() {
  const table = $("hparams");
  const runs = board.selectedRuns();
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.hparams || {})))].sort();
  if (!runs.length || !keys.length) {
    table.replaceChildren(el("tbody", {}, el("tr", {}, el("td", { class: "hint" },
      runs.length ? "No hyper-parameters logged by the selected runs." : "No run selected."))));
    return;
  }
  const { key: sortKey, descending } = board.hparamSort;
  const header = el("tr", {}, ...["run", ...keys].map((key) => {
    const arrow = key === sortKey ? (descending ? " ▼" : " ▲") : "";
    const th = el("th", { scope: "col", title: `sort by ${key}` },
      el("button", { type: "button", class: "sort" }, key, arrow));
    th.dataset.key = key;
    th.setAttribute("aria-sort", key === sortKey ? (descending ? "descending" : "ascending") : "none");
    th.addEventListener("click", () => {
      board.hparamSort = { key, descending: key === sortKey ? !descending : false };
      renderHparams();
    });
    return th;
  }));
  const body = sortRows(runs, sortKey, descending).map((run) => {
    const tr = el("tr", {},
      el("th", { scope: "row" }, el("span", { class: "swatch", style: { background: runColor(run.name) } }),
        run.name),
      ...keys.map((key) => {
        const value = (run.hparams || {})[key];
        return el("td", { title: value === undefined ? "" : JSON.stringify(value) }, hparamText(value));
      }));
    tr.dataset.run = run.name;
    return tr;
  });
  table.replaceChildren(el("thead", {}, header), el("tbody", {}, ...body));
}

// ---------------------------------------------------------------- panels

async function loadPanels() {
  const { panels } = await api("/api/panels");
  const container = $("panels");
  // Every module is asked for at once; each is mounted, in registry order, when it is in.
  const modules = panels.map((spec) => import(new URL(spec.module, window.location.origin).href));
  for (const [index, spec] of panels.entries()) {
    const card = el("section", { class: "card", id: `${spec.name}-card` }, el("h2", {}, spec.title),
      el("p", { class: "panel-error error-text", hidden: true, role: "alert" }));
    // The first panel (the curves) on top, then the hyper-parameter table, then the rest.
    card.style.order = index === 0 ? "0" : "2";
    const body = el("div", { class: "panel-body", id: spec.name });
    card.append(body);
    container.append(card);
    try {
      const module = await modules[index];
      if (module.schema !== spec.schema) {
        throw new Error(`the server sends schema ${spec.schema}, this page reads ${module.schema}: reload`);
      }
      const instance = module.createPanel(body, board, spec);
      if (module.wide) card.classList.add("wide");
      board.panels.push({ spec, instance, card, body });
    } catch (error) {
      showMessage(body, `Could not load the ${spec.title} panel: ${error.message}`, true);
    }
  }
  // Cards change width with the window and the sidebar: charts follow their card's
  // width (a card growing taller as its charts arrive redraws nothing).
  const widths = new WeakMap();
  const resized = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const width = Math.round(entry.contentRect.width);
      if (widths.get(entry.target) === width) continue;
      const first = !widths.has(entry.target);
      widths.set(entry.target, width);
      if (first || !window.Plotly) continue;
      for (const plot of entry.target.querySelectorAll(".js-plotly-plot")) {
        if (plot.offsetParent !== null) window.Plotly.Plots.resize(plot);
      }
    }
  });
  for (const { card } of board.panels) resized.observe(card);
}

function updatePanels(changedRuns) {
  for (const { instance, body } of board.panels) {
    board.guard(body, () => instance.update({ runs: board.selectedRuns(), changed: changedRuns }));
  }
}

function selectionChanged() {
  renderRuns();
  renderHparams();
  updatePanels(null);
}

// ---------------------------------------------------------------- polling

// Take a new run list; returns whether a selected run went away (deleted, replaced).
function takeRuns(runs) {
  board.runs = runs;
  board.byName = new Map(runs.map((r) => [r.name, r]));
  for (const run of runs) {
    if (!board.known.has(run.name)) { board.known.add(run.name); board.selected.add(run.name); }
  }
  const gone = [...board.selected].filter((name) => !board.byName.has(name));
  for (const name of gone) board.selected.delete(name);
  return gone.length > 0;
}

// Ask the cheap question ("anything new since token T?"); only when the answer is yes,
// fetch the run list, and let panels fetch for the runs whose own token moved.
async function poll() {
  try {
    const first = board.token === null;  // then both at once: the run list is needed
    const [news, listed] = await Promise.all([
      api("/api/changes", { token: board.token ?? undefined }), first ? api("/api/runs") : null]);
    if (news.changed) {
      const { runs } = listed ?? await api("/api/runs");
      const changed = new Set(Object.entries(news.runs || {})
        .filter(([name, token]) => board.runTokens[name] !== token).map(([name]) => name));
      board.token = news.token;
      board.runTokens = news.runs || {};
      const lostSelected = takeRuns(runs);
      renderRuns();
      renderHparams();
      if (lostSelected) updatePanels(null);
      else if ([...changed].some((name) => board.selected.has(name))) updatePanels(changed);
    } else {
      renderRuns();  // the "updated … ago" times
    }
    const running = board.runs.some((r) => r.status === "running");
    setLive(true, running ? "live: a run is writing" : `up to date (${board.runs.length} runs)`);
  } catch (error) {
    setLive(false, `cannot reach the log: ${error.message}`);
  }
  board.polls += 1;
  document.body.dataset.polls = String(board.polls);
  setTimeout(poll, POLL_MS);
}

async function start() {
  const filter = $("run-filter");
  filter.addEventListener("input", () => { board.filter = filter.value; renderRuns(); });
  $("select-all").addEventListener("click", () => selectShown(true));
  $("select-none").addEventListener("click", () => selectShown(false));
  plotlyReady.catch((error) => setLive(false, error.message));
  try {
    await loadPanels();
  } catch (error) {
    setLive(false, `cannot load the panels: ${error.message}`);
  }
  await poll();  // the first requests for data are on their way
  loadPlotly();
}

start();
