// Step arithmetic shared by the curves panel and the server (cases pinned in
// tests/js/board_contract.json, "zoom_range"): a zoomed x-axis [x0, x1] asks the server
// for the integer steps start..end inclusive, start = ceil(x0), end = floor(x1), and
// no range at all when the axis shows everything again (autorange).

export function zoomRange(x0, x1) {
  if (x0 === undefined || x1 === undefined || x0 === null || x1 === null) return null;
  const lo = Math.min(Number(x0), Number(x1)), hi = Math.max(Number(x0), Number(x1));
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return null;
  const start = Math.max(0, Math.ceil(lo)), end = Math.floor(hi);
  return end < start ? { start, end: start } : { start, end };
}

// plotly's relayout event: {"xaxis.range[0]": a, "xaxis.range[1]": b}, or
// {"xaxis.range": [a, b]}, or {"xaxis.autorange": true}; undefined when x did not change.
export function relayoutRange(event) {
  if (!event) return undefined;
  if (event["xaxis.autorange"]) return null;
  if ("xaxis.range[0]" in event) return zoomRange(event["xaxis.range[0]"], event["xaxis.range[1]"]);
  if (Array.isArray(event["xaxis.range"])) return zoomRange(...event["xaxis.range"]);
  return undefined;
}

// Merge points fetched after a cursor into a series: usually appended at the end; a
// step logged again, or out of order, replaces or slots in.
export function mergeSeries(old, update) {
  if (!old) return { steps: update.steps.slice(), values: update.values.slice() };
  const last = old.steps.length ? old.steps[old.steps.length - 1] : -Infinity;
  if (!update.steps.length || update.steps[0] > last) {
    return { steps: old.steps.concat(update.steps), values: old.values.concat(update.values) };
  }
  const byStep = new Map(old.steps.map((step, i) => [step, old.values[i]]));
  update.steps.forEach((step, i) => byStep.set(step, update.values[i]));
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  return { steps, values: steps.map((step) => byStep.get(step)) };
}

// TensorBoard's debiased exponential moving average; gaps stay gaps.
export function smooth(values, weight) {
  if (!(weight > 0)) return values;
  let last = 0, count = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    last = last * weight + (1 - weight) * v;
    count += 1;
    // 12 digits: a constant series stays exactly constant (no 1e-17 wobble on the axis).
    return Number((last / (1 - Math.pow(weight, count))).toPrecision(12));
  });
}
