// Runs: their colours, the filter over their names, and the selection. No DOM here, so
// node's test runner checks it (tests/js/runs.test.js, cases in board_contract.json).

// FNV-1a over the name's UTF-8 bytes: a run keeps its colour whatever other runs exist,
// on every page load. Hue from the hash; two lightness levels double the distinct hues.
export function hashName(name) {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(name)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

// MurmurHash3's finalizer: names that differ in one late character (lr0.1, lr0.3)
// differ in every bit, so their hues land far apart as often as any two names.
function avalanche(h) {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export function runColor(name) {
  const hash = avalanche(hashName(name));
  const hue = hash % 360;
  const lightness = (hash >>> 9) % 2 ? 38 : 50;
  return `hsl(${hue}, 70%, ${lightness}%)`;
}

// TensorBoard's run filter: a case-insensitive regular expression; an invalid one
// matches nothing and says why (the page shows it), never throws.
export function compileFilter(text) {
  const source = (text || "").trim();
  if (!source) return { valid: true, error: null, test: () => true };
  try {
    const pattern = new RegExp(source, "i");
    return { valid: true, error: null, test: (name) => pattern.test(name) };
  } catch (error) {
    return { valid: false, error: error.message, test: () => false };
  }
}

export function filterRuns(runs, text) {
  const filter = compileFilter(text);
  return { ...filter, runs: runs.filter((run) => filter.test(run.name)) };
}

// Run statuses the writer records, with how the list shows them.
export const STATUS_TEXT = {
  running: "running", finished: "finished", failed: "failed", stopped: "stopped",
};

export function statusText(run, nowSeconds) {
  const base = STATUS_TEXT[run.status] || String(run.status);
  if (run.status !== "running" || typeof run.updated !== "number") return base;
  return `${base} · ${ago(nowSeconds - run.updated)}`;
}

export function ago(seconds) {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

// Sort hyper-parameter rows by one column: numbers numerically, then text; missing last.
export function sortRows(runs, key, descending = false) {
  const value = (run) => (key === "run" ? run.name : (run.hparams || {})[key]);
  const rank = (v) => (v === undefined ? 2 : typeof v === "number" ? 0 : 1);
  const sign = descending ? -1 : 1;
  return [...runs].sort((a, b) => {
    const va = value(a), vb = value(b);
    const ra = rank(va), rb = rank(vb);
    if (ra !== rb) return ra - rb;  // missing values stay last either way
    if (ra === 2) return 0;
    if (ra === 0) return sign * (va - vb);
    return sign * String(typeof va === "string" ? va : JSON.stringify(va))
      .localeCompare(String(typeof vb === "string" ? vb : JSON.stringify(vb)));
  });
}
