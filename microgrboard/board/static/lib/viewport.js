// Zoom and pan over any content (the graph player's drawing): wheel zooms around the
// pointer, drag pans, buttons zoom in / out, fit the whole drawing, or show it at its
// natural size, where its text is as large as the drawing's own font (readable however
// big the graph). A CSS transform on one "stage" element: the content is untouched.

import { el } from "./dom.js";

const MIN_SCALE = 0.05, MAX_SCALE = 8;

export function createViewport() {
  const stage = el("div", { class: "stage" });
  const element = el("div", { class: "viewport", tabIndex: 0 }, stage);
  const view = { scale: 1, x: 0, y: 0 };

  function apply() {
    stage.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
    element.dataset.scale = view.scale.toFixed(3);
  }

  function zoomAt(factor, cx, cy) {
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, view.scale * factor));
    // Keep the point under (cx, cy) where it is.
    view.x = cx - ((cx - view.x) * scale) / view.scale;
    view.y = cy - ((cy - view.y) * scale) / view.scale;
    view.scale = scale;
    apply();
  }

  function contentSize() {
    return { width: stage.scrollWidth || 1, height: stage.scrollHeight || 1 };
  }

  // The whole content in view, but never shrunk below `minScale` (text stays readable:
  // a big graph then opens at a readable size, and pans; see reveal).
  function fit(minScale = 0) {
    const { width, height } = contentSize();
    const box = element.getBoundingClientRect();
    const scale = Math.min(1.5, Math.max(minScale, Math.min(box.width / width, box.height / height)));
    view.scale = scale;
    view.x = Math.max(0, (box.width - width * scale) / 2);
    view.y = Math.max(0, (box.height - height * scale) / 2);
    apply();
  }

  element.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = element.getBoundingClientRect();
    zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });

  let drag = null;
  element.addEventListener("pointerdown", (event) => {
    // Controls inside the content (the player's buttons, sliders) keep their clicks.
    if (event.button !== 0 || event.target.closest("button, input, select, a, label")) return;
    drag = { x: event.clientX - view.x, y: event.clientY - view.y, id: event.pointerId };
    element.setPointerCapture(event.pointerId);
    element.classList.add("dragging");
  });
  element.addEventListener("pointermove", (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    view.x = event.clientX - drag.x;
    view.y = event.clientY - drag.y;
    apply();
  });
  const stop = () => { drag = null; element.classList.remove("dragging"); };
  element.addEventListener("pointerup", stop);
  element.addEventListener("pointercancel", stop);
  element.addEventListener("keydown", (event) => {
    // + and - zoom; arrows stay with the player (they step through the passes).
    const box = element.getBoundingClientRect();
    if (event.key === "+" || event.key === "=") zoomAt(1.25, box.width / 2, box.height / 2);
    else if (event.key === "-") zoomAt(0.8, box.width / 2, box.height / 2);
    else return;
    event.preventDefault();
  });

  // Pan so that `elements` (inside the content) are in view, centred, when they are not
  // already: a big graph shown at a readable size follows what is happening in it.
  function reveal(elements) {
    const boxes = elements.map((e) => e.getBoundingClientRect()).filter((b) => b.width || b.height);
    if (!boxes.length) return;
    const area = element.getBoundingClientRect();
    const left = Math.min(...boxes.map((b) => b.left)), right = Math.max(...boxes.map((b) => b.right));
    const top = Math.min(...boxes.map((b) => b.top)), bottom = Math.max(...boxes.map((b) => b.bottom));
    const inside = left >= area.left && right <= area.right && top >= area.top && bottom <= area.bottom;
    if (inside) return;
    view.x += area.left + area.width / 2 - (left + right) / 2;
    view.y += area.top + area.height / 2 - (top + bottom) / 2;
    apply();
  }

  const center = () => { const b = element.getBoundingClientRect(); return [b.width / 2, b.height / 2]; };
  const button = (text, title, action) => el("button", { type: "button", title, onclick: action }, text);
  const buttons = el("span", { class: "zoom-buttons" },
    button("−", "zoom out (or the mouse wheel)", () => zoomAt(0.8, ...center())),
    button("+", "zoom in (or the mouse wheel)", () => zoomAt(1.25, ...center())),
    button("fit", "show the whole graph", () => fit()),
    button("1:1", "natural size: the drawing's own font size", () => { view.scale = 1; view.x = 0; view.y = 0; apply(); }));
  buttons.querySelectorAll("button").forEach((b, i) => { b.dataset.zoom = ["out", "in", "fit", "one"][i]; });
  apply();
  return { element, stage, buttons, fit, zoomAt, reveal, view };
}
