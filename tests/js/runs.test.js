import { test } from "node:test";
import assert from "node:assert/strict";

import { Tickets, STALE } from "../../microgrboard/board/static/lib/api.js";
import { runColor, sortRows, statusText } from "../../microgrboard/board/static/lib/runs.js";
import { mergeSeries, smooth } from "../../microgrboard/board/static/lib/steps.js";

test("a run's colour depends on its name only, and 200 runs get many distinct colours", () => {
  const names = Array.from({ length: 200 }, (_, i) => `sweep/lr=${(i + 1) / 1000}`);
  const colors = names.map(runColor);
  assert.deepEqual(names.map(runColor), colors);
  assert.equal(runColor("sweep/lr=0.001"), colors[0]);
  assert.ok(new Set(colors).size > 120, `only ${new Set(colors).size} colours for 200 runs`);
  for (const c of colors) assert.match(c, /^hsl\(\d+, 70%, (38|50)%\)$/);
});

test("hyper-parameter rows sort numerically, then as text, missing values last", () => {
  const runs = [
    { name: "c", hparams: { lr: 0.1, opt: "sgd" } },
    { name: "a", hparams: { lr: 0.05 } },
    { name: "b", hparams: { lr: 1, opt: "adam" } },
    { name: "d", hparams: {} },
  ];
  assert.deepEqual(sortRows(runs, "lr").map((r) => r.name), ["a", "c", "b", "d"]);
  assert.deepEqual(sortRows(runs, "lr", true).map((r) => r.name), ["b", "c", "a", "d"]);
  assert.deepEqual(sortRows(runs, "opt").map((r) => r.name), ["b", "c", "a", "d"]);
  assert.deepEqual(sortRows(runs, "run").map((r) => r.name), ["a", "b", "c", "d"]);
  assert.equal(runs[0].name, "c", "sorting copies");
});

test("statuses, including stopped, read as words; a running run says how fresh it is", () => {
  assert.equal(statusText({ status: "stopped" }, 0), "stopped");
  assert.equal(statusText({ status: "finished", updated: 5 }, 100), "finished");
  assert.equal(statusText({ status: "running", updated: 90 }, 100), "running · 10 s ago");
  assert.equal(statusText({ status: "running", updated: 0 }, 7200), "running · 2 h ago");
});

test("merging polled points: append, replace a re-logged step, slot in out of order", () => {
  const old = { steps: [0, 1, 2], values: [1, 2, 3] };
  assert.deepEqual(mergeSeries(old, { steps: [3, 4], values: [4, 5] }),
    { steps: [0, 1, 2, 3, 4], values: [1, 2, 3, 4, 5] });
  assert.deepEqual(mergeSeries(old, { steps: [1, 5], values: [20, 6] }),
    { steps: [0, 1, 2, 5], values: [1, 20, 3, 6] });
  assert.deepEqual(mergeSeries(undefined, { steps: [7], values: [1] }), { steps: [7], values: [1] });
  assert.deepEqual(old, { steps: [0, 1, 2], values: [1, 2, 3] }, "merging copies");
});

test("smoothing is TensorBoard's debiased moving average; gaps stay gaps", () => {
  assert.deepEqual(smooth([2, 2, 2], 0.9), [2, 2, 2]);
  assert.deepEqual(smooth([1, null, 3], 0), [1, null, 3]);
  const s = smooth([0, 10], 0.5);
  assert.equal(s[0], 0);
  assert.ok(Math.abs(s[1] - 10 * 0.5 / 0.75) < 1e-9);
});

test("the latest request for a key wins; an older answer is dropped as stale", async () => {
  const tickets = new Tickets();
  const first = tickets.take("p");
  const second = tickets.take("p");
  const other = tickets.take("q");
  await assert.rejects(first(Promise.resolve(1)), (e) => e === STALE);
  assert.equal(await second(Promise.resolve(2)), 2);
  assert.equal(await other(Promise.resolve(3)), 3);
  await assert.rejects(tickets.take("p")(Promise.reject(new Error("boom"))), /boom/);
});
