// Computational graph: a logged graph played by the player (/player/player.js, the same
// module the notebooks and the docs use), forward then backward, one step at a time,
// inside a viewport that zooms and pans (wheel / drag / buttons): text stays readable
// however big the graph. Pick the run, the graph (its tag: "loss", the loss over the
// logged points collapsed per neuron; "neuron", one neuron on one point; ...) and the
// training step. The payload and its drawing come from GET /api/graph/player, built in
// Python: this module formats no number and does no chain-rule arithmetic.

import { STALE } from "../lib/api.js";
import { el, showMessage, stepSlider } from "../lib/dom.js";
import { runPicker } from "../lib/stepped.js";
import { sanitizeSvg } from "../lib/svg.js";
import { createViewport } from "../lib/viewport.js";

const READABLE = 0.8;  // a graph opens at no less than this scale: its text stays legible

let playerModule = null;
function loadPlayer() {
  if (!playerModule) {
    playerModule = import(new URL("/player/player.js", window.location.origin).href);
    playerModule.catch(() => { playerModule = null; });
    if (!document.querySelector("link[data-player]")) {
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
  const slider = stepSlider("training step", () => board.guard(message, show));
  slider.input.id = "graph-step";
  slider.output.id = "graph-step-value";
  // The player's element: its controls and lines around our viewport, which it takes
  // as its picture (class mgb-graph) and we zoom and pan.
  const viewport = createViewport();
  viewport.element.classList.add("mgb-graph");
  const host = el("div", { class: "board-player", id: "graph-view" }, viewport.element);
  const message = el("div", { class: "graph-message" });
  const caption = el("p", { class: "hint", id: "graph-caption" });
  body.append(el("div", { class: "controls" }, runs.element, tags.element, slider.element, viewport.buttons),
    caption, message, host);
  host.hidden = true;
  showMessage(message, "No graph logged.");
  // The player marks what each frame computes (mgb-current): keep it in view.
  const follow = () => viewport.reveal([...viewport.stage.querySelectorAll(".mgb-current")]);
  new MutationObserver(follow).observe(host, { attributes: true, attributeFilter: ["data-frame"] });

  let run = null, list = [], graphs = [];
  let shownKey = null;  // the structure the viewport shows (its zoom is kept across steps)
  let player = null;

  runs.select.addEventListener("change", () => board.guard(message, () => update({ runs: board.selectedRuns(), changed: null })));
  tags.select.addEventListener("change", () => board.guard(message, () => pick(true)));

  function say(text) {
    board.tickets.take("graph");  // a graph still on its way must not replace this
    if (player) { player.destroy(); player = null; }
    host.hidden = true;
    shownKey = null;
    caption.textContent = "";
    showMessage(message, text);
  }

  async function update({ runs: selected, changed }) {
    const candidates = selected.filter((r) => (r.graphs || 0) > 0).map((r) => r.name);
    const chosen = runs.fill(candidates);
    const stamp = board.tickets.take("graph-list");
    if (!chosen) {
      run = null;
      say("No graph logged by the selected runs (Run.log_graph, or training.board_views).");
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
    if (!same || !player) await show();
  }

  async function show() {
    const entry = list[slider.index];
    if (!entry) return;
    slider.output.textContent = entry.step;
    const stamp = board.tickets.take("graph");
    let record, module;
    try {
      [record, module] = await stamp(Promise.all([
        board.api("/api/graph/player", { run, id: entry.id }), loadPlayer()]));
    } catch (error) {
      if (error === STALE) throw error;
      say(`Cannot show this graph: ${error.message}`);  // e.g. too large to draw
      return;
    }
    // The same structure at another training step: same layout, same zoom, same frame.
    const frame = player && shownKey === record.structure_key ? player.frame : null;
    if (player) player.destroy();
    viewport.stage.replaceChildren(sanitizeSvg(record.svg));
    message.replaceChildren();
    host.hidden = false;
    player = module.createPlayer(host, record.player, frame === null ? {} : { frame });
    if (shownKey !== record.structure_key) { viewport.fit(READABLE); follow(); }
    shownKey = record.structure_key;
    host.dataset.graph = String(entry.id);
    host.dataset.step = String(entry.step);
    caption.textContent = `"${entry.tag}" at training step ${entry.step} · ${entry.nodes} nodes · ` +
      "the wheel or the buttons zoom, dragging pans; ← → step through the passes";
  }

  board.graph = { get player() { return player; } };
  return { update };
}

export const schema = 1;
export const wide = true;
