import { test } from "node:test";
import assert from "node:assert/strict";

import { chunks, pointsPerCurve } from "../../microgrboard/board/static/panels/scalars.js";

test("the curves of every run come in one request, split only past its limits", () => {
  const few = Array.from({ length: 200 }, (_, i) => `sweep-${i}`);
  assert.deepEqual(chunks(few), [few]);
  const many = Array.from({ length: 2000 }, (_, i) => `run-${i}`);
  const groups = chunks(many);
  assert.deepEqual(groups.flat(), many, "every run once, in order");
  for (const group of groups) {
    assert.ok(group.length <= 400);
    assert.ok(group.reduce((n, name) => n + encodeURIComponent(name).length + 5, 0) <= 6000);
  }
  const long = Array.from({ length: 100 }, (_, i) => `${"é".repeat(60)}-${i}`);  // 6 bytes a char, encoded
  assert.ok(chunks(long).length > 1);
  assert.deepEqual(chunks([]), []);
});

test("points per curve: 2,000 for a few curves, a share of the page's budget for many", () => {
  assert.equal(pointsPerCurve(1), 2000);
  assert.equal(pointsPerCurve(100), 2000);
  assert.equal(pointsPerCurve(800), 250);      // 200 runs x 4 tags
  assert.equal(pointsPerCurve(100_000), 100);  // never fewer than 100: spikes need buckets
});
