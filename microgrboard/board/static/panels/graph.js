// Computational graph: a logged graph played by the player (/player/player.js, the same
// module the notebooks use), forward and backward, inside a viewport that zooms and pans
// (wheel / drag / buttons): text stays readable however big the graph. Pick the run, the
// graph (its tag: one neuron, the loss over the logged points collapsed per neuron, …)
// and the training step; the player steps through the passes. Its payload is built in
// Python (GET /api/graph/player), so this module formats no number and does no
// chain-rule arithmetic.

import { el, showMessage, stepSlider } from "../lib/dom.js";
import { runPicker } from "../lib/stepped.js";
import { createViewport } from "../lib/viewport.js";

const READABLE = 0.75;  // a graph opens at no less than this scale: its text stays legible

let playerModule = null;
function loadPlayer() {
  if (!playerModule) {
    playerModule = import(new URL("/player/player.js", window.location.origin).href);
    playerModule.catch(() => { playerModule = null; });
    // The player's stylesheet, once.
    if (!document.querySelector('link[data-player]')) {
      const link = el("link", { rel: "stylesheet", href: "/player/player.css" });
      link.dataset.player = "";
      document.head.append(link);
    }
  }
  return playerModule;
}

export function createPanel(body, board) {
  const runs = runPicker("run");
  const tags = runPicker("graph");
  runs.select.id = "graph-run";
  tags.select.id = "graph-tag";
  const slider = stepSlider("training step", () => board.guard(view, show));
  slider.input.id = "graph-step";
  slider.output.id = "graph-step-value";
  const viewport = createViewport();
  const view = viewport.stage;
  view.id = "graph-view";
  const caption = el("p", { class: "hint", id: "graph-caption" });
  body.append(el("div", { class: "controls" }, runs.element, tags.element, slider.element, viewport.buttons),
    caption, viewport.element);
  showMessage(view, "No graph logged.");

  let run = null, list = [], graphs = [];
  let shown = null;   // {id, key}: what the player shows
  let player = null;

  runs.select.addEventListener("change", () => board.guard(view, () => update({ runs: board.selectedRuns(), changed: null })));
  tags.select.addEventListener("change", () => board.guard(view, () => pick(true)));

  async function update({ runs: selected, changed }) {
    const candidates = selected.filter((r) => (r.graphs || 0) > 0).map((r) => r.name);
    const chosen = runs.fill(candidates);
    const stamp = board.tickets.take("graph-list");
    if (!chosen) {
      board.tickets.take("graph");
      run = null; shown = null; player = null;
      showMessage(view, "No graph logged by the selected runs (Run.log_graph).");
      caption.textContent = "";
      return;
    }
    if (chosen === run && changed && !changed.has(run)) return;
    const answer = await stamp(board.api("/api/graphs", { run: chosen }));
    const runChanged = chosen !== run;
    run = chosen;
    graphs = answer.graphs;
    // The loss over the logged points first when there is one: it is the whole picture.
    const names = [...new Set(graphs.map((g) => g.tag))].sort((a, b) => (b === "loss") - (a === "loss"));
    tags.fill(names);
    await pick(runChanged);
  }

  async function pick(reset) {
    const tag = tags.select.value;
    const next = graphs.filter((g) => g.tag === tag);
    const same = !reset && next.length === list.length && next.every((g, i) => g.id === list[i].id);
    list = next;
    slider.setLength(list.length);
    if (!same || !shown) await show();
  }

  async function show() {
    const entry = list[slider.index];
    if (!entry) return;
    slider.output.textContent = entry.step;
    const stamp = board.tickets.take("graph");
    const [record, module] = await stamp(Promise.all([
      board.api("/api/graph/player", { run, id: entry.id }), loadPlayer()]));
    const sameLayout = shown && shown.key === record.structure_key;
    if (sameLayout && player && typeof player.load === "function") {
      player.load(record.player);  // keep the zoom and the player's position
    } else {
      view.replaceChildren();
      player = module.createPlayer(view, record.player);
      viewport.fit(READABLE);
    }
    shown = { id: entry.id, key: record.structure_key };
    view.dataset.graph = String(entry.id);
    view.dataset.step = String(entry.step);
    caption.textContent = `${entry.tag} at training step ${entry.step} · ${entry.nodes} nodes · ` +
      "wheel or the buttons zoom, drag pans";
  }

  return { update };
}

export const schema = 1;
export const wide = true;
