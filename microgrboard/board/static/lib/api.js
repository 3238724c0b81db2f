// Requests to the board's own server (same origin only), and "latest request wins".

export async function api(path, params = {}, as = "json") {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, item);
  }
  const response = await fetch(url);
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return as === "text" ? response.text() : response.json();
}

// Each panel's latest request wins: a response that lands after a newer request for the
// same key (a slider dragged fast, a poll racing a click) is dropped. Usage:
// `const fresh = tickets.take("params"); const x = await fresh(api(...));`.
export const STALE = new Error("a newer request replaced this one");

export class Tickets {
  constructor() { this.latest = new Map(); }

  take(key) {
    const number = (this.latest.get(key) || 0) + 1;
    this.latest.set(key, number);
    return async (promise) => {
      let value;
      try {
        value = await promise;
      } catch (error) {
        throw this.latest.get(key) === number ? error : STALE;
      }
      if (this.latest.get(key) !== number) throw STALE;
      return value;
    };
  }
}
