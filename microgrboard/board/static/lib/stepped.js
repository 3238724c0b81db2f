// A panel over payloads logged at some training steps (parameters, decision boundary,
// network): a run picker among the selected runs that logged some, a training-step
// slider over its steps, and `show(payload, step)` for the chosen one. Answers that
// land after a newer request (a slider dragged fast) are dropped.

import { el, showMessage, stepSlider } from "./dom.js";

export function runPicker(label = "run") {
  const select = el("select");
  return {
    element: el("label", {}, label, select),
    select,
    // Offer `names`, keeping the current choice when it is still there.
    fill(names) {
      const current = select.value;
      const same = select.options.length === names.length && [...select.options].every((o, i) => o.value === names[i]);
      if (!same) select.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
      select.value = names.includes(current) ? current : (names[0] ?? "");
      return select.value || null;
    },
  };
}

export function steppedPanel(body, board, { id, countField, stepsPath, payloadPath, emptyText, show, extraControls = [] }) {
  const picker = runPicker();
  const slider = stepSlider("training step", () => board.guard(view, showStep));
  slider.input.id = `${id}-step`;
  picker.select.id = `${id}-run`;
  slider.output.id = `${id}-step-value`;
  const view = el("div", { class: "plot" }, el("p", { class: "hint" }, emptyText));
  view.id = `${id}-view`;
  body.append(el("div", { class: "controls" }, picker.element, slider.element, ...extraControls), view);
  let run = null;
  let steps = [];
  picker.select.addEventListener("change", () => board.guard(view, () => update({ runs: board.selectedRuns(), changed: null })));

  async function update({ runs, changed }) {
    const candidates = runs.filter((r) => (r[countField] || 0) > 0).map((r) => r.name);
    const chosen = picker.fill(candidates);
    const stamp = board.tickets.take(`${id}-list`);
    if (!chosen) {
      board.tickets.take(id);  // a payload still on its way must not replace the message
      run = null; steps = [];
      showMessage(view, emptyText);
      return;
    }
    if (chosen === run && changed && !changed.has(run)) return;  // nothing new for it
    const answer = await stamp(board.api(stepsPath, { run: chosen }));
    const same = chosen === run && answer.steps.length === steps.length;
    run = chosen;
    steps = answer.steps;
    slider.setLength(steps.length);
    if (!same || !view.dataset.step) await showStep();
  }

  async function showStep() {
    const step = steps[slider.index];
    if (step === undefined || run === null) return;
    slider.output.textContent = step;
    const stamp = board.tickets.take(id);
    const [payload] = await stamp(Promise.all([board.api(payloadPath, { run, step }), board.plotlyReady]));
    if (view.querySelector(":scope > p")) view.replaceChildren();
    show(view, payload, { run, step });
    view.dataset.step = String(step);  // which step is drawn (the browser tests read it)
  }

  return { update, view, refresh: () => board.guard(view, showStep) };
}
