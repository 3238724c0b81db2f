// The JavaScript side of tests/js/board_contract.json (the Python side is
// tests/test_board_contract.py). Run: node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { formatNumber } from "../../microgrboard/board/static/lib/format.js";
import { compileFilter, filterRuns, hashName } from "../../microgrboard/board/static/lib/runs.js";
import { relayoutRange, zoomRange } from "../../microgrboard/board/static/lib/steps.js";

const contract = JSON.parse(readFileSync(new URL("./board_contract.json", import.meta.url)));

test("formatNumber writes every number as Python's format_number", () => {
  assert.ok(contract.format_number.length > 50);
  for (const { x, precision, text } of contract.format_number) {
    assert.equal(formatNumber(x, precision), text, `format_number(${x}, ${precision})`);
  }
});

test("a zoomed axis asks for the integer steps inside it", () => {
  for (const { x0, x1, range } of contract.zoom_range) {
    assert.deepEqual(zoomRange(x0, x1), range, `zoomRange(${x0}, ${x1})`);
  }
});

test("plotly relayout events: zoom, reset, and changes that are not the x-axis", () => {
  for (const { event, range } of contract.relayout) {
    assert.deepEqual(relayoutRange(event), range === "unchanged" ? undefined : range, JSON.stringify(event));
  }
});

test("the run filter is a case-insensitive regular expression; an invalid one says so", () => {
  for (const { filter, names, shown, valid } of contract.run_filter) {
    const result = filterRuns(names.map((name) => ({ name })), filter);
    assert.deepEqual(result.runs.map((r) => r.name), shown, filter);
    assert.equal(result.valid, valid, filter);
    if (!valid) assert.match(compileFilter(filter).error, /\S/);
  }
});

test("run colours hash names with FNV-1a (known test vectors)", () => {
  for (const { text, hash } of contract.fnv1a32) assert.equal(hashName(text), hash, text);
});

test("every panel in the server's registry has its module, reading the same schema", async () => {
  assert.ok(contract.panels.length >= 5);
  for (const { name, schema, module } of contract.panels) {
    assert.match(module, /^\/static\/panels\/[a-z_]+\.js$/, name);
    const url = new URL(`../../microgrboard/board${module}`, import.meta.url);
    const panel = await import(url.href);
    assert.equal(typeof panel.createPanel, "function", `${module} exports createPanel`);
    assert.equal(panel.schema, schema, `${module} reads schema ${panel.schema}, the server sends ${schema}`);
  }
});
