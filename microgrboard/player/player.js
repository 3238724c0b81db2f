// microgrboard's back-propagation player: one ES module, no build step, no dependency.
//
//   import { createPlayer } from "./player.js";
//   const player = createPlayer(element, payload, { idPrefix: "" });
//
// `element` holds (anywhere inside it) the SVG drawn for the payload by Python's
// microgrboard.player.player_svg(), inline or as <img class="mgb-static"> with a
// base64 data URI (see pictureIn); createPlayer adds the buttons, the slider and the
// arithmetic around it and returns { go(frame), frame, frameCount, destroy(), missing }.
// Keys (when the player has the focus): → and ← step, Home and End jump, space plays.
//
// The payload is built by microgrboard.player.player_payload() (Python), which formats
// every number and every line of arithmetic: this file only displays them, and never
// computes or formats a number. Schema 1:
//
//   { schema: 1, style: "record" | "book", root: id, output: name,
//     nodes:  [{ id, name, op, elements: [svg group ids] }],       by snapshot id
//     cells:  { svgCellId: text },        every cell the player writes, before frame 0
//     reveal: [[svgElementId, frame]],    the element is faded before that frame
//     frames: [{ phase: "forward" | "backward", step, node: id | null, title,
//                lines: [{ kind, text, node?, edge? }],   kind: value forward grad chain sum note
//                set:   [[svgCellId, text]],   cell texts from this frame on
//                focus: [svg group ids],       the node computed or processed
//                flow:  [svg edge ids] }] }    its inputs' arrows
//
// The frame shown is `cells` overwritten by the `set` of every frame up to it. SVG ids
// follow microgrboard/drawing.py (n3, a_n3-data, e0-2-1, ...), each after `idPrefix`.
// Everything is looked up inside `element`, so several players share a page safely.

export const SCHEMA = 1;
const AUTOPLAY_MS = 1100;

function make(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

// The drawing: an inline <svg>, or (as Python's Player.html() writes it, to survive
// notebook sanitizers) an <img class="mgb-static"> whose data URI holds the SVG, which
// is put inline here so that its cells can be rewritten.
function pictureIn(element) {
  const inline = element.querySelector(".mgb-graph svg") || element.querySelector("svg");
  if (inline) return inline;
  const img = element.querySelector("img.mgb-static");
  const match = img && /^data:image\/svg\+xml;base64,(.+)$/.exec(img.getAttribute("src") || "");
  if (!match) throw new Error("microgrboard player: no <svg> inside the player's element");
  const bytes = Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0));
  const parsed = new DOMParser().parseFromString(new TextDecoder().decode(bytes), "image/svg+xml");
  if (parsed.documentElement.localName !== "svg") {
    throw new Error("microgrboard player: the picture is not valid SVG");
  }
  const svg = document.importNode(parsed.documentElement, true);
  img.replaceWith(svg);
  return svg;
}

export function createPlayer(element, payload, options = {}) {
  if (!payload || payload.schema !== SCHEMA) {
    throw new Error(`microgrboard player: payload schema ${payload && payload.schema} ` +
                    `is not ${SCHEMA}; rebuild it with this version's player_payload()`);
  }
  const prefix = options.idPrefix || "";
  const svg = pictureIn(element);
  const frames = payload.frames;
  const last = frames.length - 1;

  // ---- the page around the picture
  element.classList.add("mgb-player", `mgb-style-${payload.style}`);
  if (!element.hasAttribute("tabindex")) element.setAttribute("tabindex", "0");
  for (const note of element.querySelectorAll(".mgb-static-note")) note.remove();
  let graph = svg.closest(".mgb-graph");
  if (!graph || !element.contains(graph)) {
    graph = make("div", { class: "mgb-graph" });
    svg.replaceWith(graph);
    graph.append(svg);
  }
  const controls = make("div", { class: "mgb-controls" });
  const button = (action, label, title) => {
    const b = make("button", { type: "button", "data-action": action, title, "aria-label": title },
                   label);
    controls.append(b);
    return b;
  };
  button("first", "|◀", "First step (Home)");
  button("prev", "◀", "Previous step (←)");
  const playButton = button("play", "play", "Play / pause (space)");
  button("next", "▶", "Next step (→)");
  button("last", "▶|", "Last step (End)");
  const slider = make("input", { type: "range", class: "mgb-slider", min: "0", max: String(last),
                                 step: "1", value: "0", "aria-label": "step" });
  const counter = make("span", { class: "mgb-counter" });
  const zoom = make("button", { type: "button", "data-action": "zoom", class: "mgb-zoom",
                                title: "Fit the picture to the width, or show it full size" },
                    "full size");
  controls.append(slider, counter, zoom);
  const title = make("div", { class: "mgb-title", "aria-live": "polite" });
  const lines = make("ol", { class: "mgb-lines" });
  element.insertBefore(controls, graph);
  element.insertBefore(title, graph);
  graph.after(lines);

  // ---- the picture's elements, looked up once
  const byId = new Map();
  for (const node of svg.querySelectorAll("[id]")) {
    const id = node.getAttribute("id");
    if (id.startsWith(prefix)) byId.set(id.slice(prefix.length), node);
  }
  const missing = [];
  const cells = new Map();  // cell id -> { group, text, shown }
  for (const [id, initial] of Object.entries(payload.cells)) {
    const group = byId.get(id);
    const text = group && group.querySelector("text");
    if (!text) { missing.push(id); continue; }
    cells.set(id, { group, text, initial, shown: null });
  }
  const reveal = [];
  for (const [id, frame] of payload.reveal) {
    const node = byId.get(id);
    if (node) reveal.push([node, frame]); else missing.push(id);
  }
  const nodeElements = (id) => (payload.nodes[id] ? payload.nodes[id].elements : [])
    .map((e) => byId.get(e)).filter(Boolean);
  // Marks another player left on this same drawing (the board replays one layout).
  const MARKS = ["mgb-current", "mgb-flow", "mgb-changed", "mgb-hover"];
  for (const node of svg.querySelectorAll(MARKS.map((m) => `.${m}`).join(","))) {
    node.classList.remove(...MARKS);
  }
  let marked = [];  // elements carrying mgb-current / mgb-flow / mgb-changed

  // ---- showing a frame
  // Scroll the graph's own box (never the page around it) by as little as brings
  // ``node`` into view, with a small margin: a tall graph keeps its current node visible.
  function showInGraph(node) {
    const box = node.getBoundingClientRect();
    const frame = graph.getBoundingClientRect();
    const margin = 12;
    const shift = (start, end, viewStart, viewSize) => {
      const viewEnd = viewStart + viewSize;
      if (end - start + 2 * margin > viewSize) {  // bigger than the view: show its start
        return start >= viewStart && start < viewEnd ? 0 : start - viewStart - margin;
      }
      if (start < viewStart + margin) return start - viewStart - margin;
      if (end > viewEnd - margin) return end - viewEnd + margin;
      return 0;
    };
    graph.scrollTop += shift(box.top, box.bottom, frame.top + graph.clientTop, graph.clientHeight);
    graph.scrollLeft += shift(box.left, box.right, frame.left + graph.clientLeft,
                              graph.clientWidth);
  }
  let current = -1;
  function go(frame) {
    const target = Math.max(0, Math.min(last, Math.round(Number(frame)) || 0));
    current = target;
    const texts = new Map();
    for (let f = 0; f <= target; f += 1) for (const [id, text] of frames[f].set) texts.set(id, text);
    for (const [id, cell] of cells) {
      const text = texts.has(id) ? texts.get(id) : cell.initial;
      if (cell.shown !== text) { cell.text.textContent = text; cell.shown = text; }
      cell.group.classList.toggle("mgb-unknown", !texts.has(id));
    }
    for (const [node, frameShown] of reveal) node.classList.toggle("mgb-pending", target < frameShown);
    for (const node of marked) node.classList.remove("mgb-current", "mgb-flow", "mgb-changed");
    marked = [];
    const mark = (ids, cls) => {
      for (const id of ids) {
        const node = byId.get(id);
        if (node) { node.classList.add(cls); marked.push(node); }
      }
    };
    const shown = frames[target];
    mark(shown.focus, "mgb-current");
    mark(shown.flow, "mgb-flow");
    mark(shown.set.map(([id]) => id), "mgb-changed");
    const focused = shown.focus.map((id) => byId.get(id)).find(Boolean);
    if (focused) showInGraph(focused);
    element.classList.toggle("mgb-phase-forward", shown.phase === "forward");
    element.classList.toggle("mgb-phase-backward", shown.phase === "backward");
    element.dataset.frame = String(target);
    element.dataset.phase = shown.phase;
    title.textContent = shown.title;
    lines.replaceChildren(...shown.lines.map((line) => {
      const item = make("li", { class: `mgb-line mgb-${line.kind}` }, line.text);
      if (line.node !== undefined) item.dataset.node = String(line.node);
      return item;
    }));
    slider.value = String(target);
    counter.textContent = `${target} / ${last}`;
    for (const b of controls.querySelectorAll("button[data-action]")) {
      const action = b.dataset.action;
      if (action === "first" || action === "prev") b.disabled = target === 0;
      if (action === "next" || action === "last") b.disabled = target === last;
    }
    if (target === last) stop();
  }

  // ---- playing on its own
  let timer = null;
  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    playButton.textContent = "play";
  }
  function start() {
    if (current === last) go(0);
    timer = setInterval(() => go(current + 1), AUTOPLAY_MS);
    playButton.textContent = "pause";
  }

  // ---- input
  const actions = {
    first: () => go(0),
    prev: () => go(current - 1),
    next: () => go(current + 1),
    last: () => go(last),
    play: () => (timer === null ? start() : stop()),
    zoom: () => {
      const full = element.classList.toggle("mgb-full-size");
      zoom.textContent = full ? "fit" : "full size";
    },
  };
  const keys = { ArrowRight: "next", ArrowDown: "next", ArrowLeft: "prev", ArrowUp: "prev",
                 Home: "first", End: "last", PageDown: "next", PageUp: "prev" };
  function onClick(event) {
    const b = event.target.closest("button[data-action]");
    if (!b || !controls.contains(b)) return;
    if (b.dataset.action !== "play" && b.dataset.action !== "zoom") stop();
    actions[b.dataset.action]();
  }
  function onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    let action = keys[event.key];
    if (!action && event.key === " " && !event.target.closest("button")) action = "play";
    if (!action) return;
    event.preventDefault();  // the slider, and the page, would move too
    event.stopPropagation();  // notebook front ends use arrows to move between cells
    if (action !== "play") stop();
    actions[action]();
  }
  function onSlide() { stop(); go(slider.value); }
  function onHover(event) {
    const item = event.target.closest && event.target.closest("li[data-node]");
    for (const node of element.querySelectorAll(".mgb-hover")) node.classList.remove("mgb-hover");
    if (!item) return;
    for (const node of nodeElements(Number(item.dataset.node))) node.classList.add("mgb-hover");
  }
  controls.addEventListener("click", onClick);
  element.addEventListener("keydown", onKey);
  slider.addEventListener("input", onSlide);
  lines.addEventListener("mouseover", onHover);
  lines.addEventListener("mouseleave", onHover);

  go(Number.isInteger(options.frame) ? options.frame : 0);

  return {
    go,
    get frame() { return current; },
    frameCount: frames.length,
    missing,
    destroy() {
      stop();
      element.removeEventListener("keydown", onKey);
      controls.remove();
      title.remove();
      lines.remove();
      for (const node of svg.querySelectorAll("[class]")) {
        node.classList.remove(...MARKS, "mgb-pending", "mgb-unknown");
      }
      element.classList.remove("mgb-phase-forward", "mgb-phase-backward");
    },
  };
}
