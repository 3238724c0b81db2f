// DOM helpers. User strings (run names, tags, labels) only ever reach the DOM as
// textContent; plotly, which reads a little HTML in names, gets them escaped.

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "style") Object.assign(node.style, value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key.includes("-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function plotlyText(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function showMessage(container, text, isError = false) {
  if (window.Plotly && container.classList.contains("js-plotly-plot")) window.Plotly.purge(container);
  container.replaceChildren(el("p", { class: isError ? "hint error-text" : "hint" }, text));
}

// A labelled range slider over a list of steps; `onChange(index)` on input.
export function stepSlider(label, onChange) {
  const input = el("input", { type: "range", min: 0, max: 0, value: 0, disabled: true });
  const output = el("output");
  input.addEventListener("input", () => onChange(Number(input.value)));
  const wrap = el("label", {}, label, input, output);
  return {
    element: wrap, input, output,
    // A slider sitting on its last value follows new data.
    setLength(length) {
      const wasAtEnd = Number(input.value) >= Number(input.max);
      input.max = Math.max(0, length - 1);
      input.disabled = length <= 1;
      if (wasAtEnd || Number(input.value) > Number(input.max)) input.value = input.max;
    },
    get index() { return Number(input.value); },
  };
}

export const PLOT_CONFIG = { displaylogo: false, responsive: true };

// Diverging scales with white at 0: values and scores blue > 0 > red (class 1 is blue);
// gradients green > 0 > red.
export const VALUE_SCALE = [[0, "#b2182b"], [0.25, "#ef8a62"], [0.5, "#f7f7f7"], [0.75, "#67a9cf"], [1, "#2166ac"]];
export const GRAD_SCALE = [[0, "#d62728"], [0.25, "#f4a582"], [0.5, "#f7f7f7"], [0.75, "#a6dba0"], [1, "#2ca02c"]];
// Class colours (decision boundaries, data points): ten distinct, colour-blind-safe first.
export const CLASS_COLORS = ["#b2182b", "#2166ac", "#1b9e77", "#e6ab02", "#7570b3",
                             "#66a61e", "#e7298a", "#a6761d", "#666666", "#17becf"];
