// Numbers as the Python side writes them. Pinned against Python by the shared fixture
// tests/js/board_contract.json ("format_number"), read by a Python test and a node test.

const FLOAT_BITS = new DataView(new ArrayBuffer(8));

// Exactly Python's drawing.format_number(x, precision), i.e. format(x, f".{p}g") with
// "-0" as "0": round half to even on the exact binary value (JS's toFixed/toExponential
// round ties away from 0), then the exponent after rounding picks fixed or scientific.
// Strict-JSON non-finite numbers ("NaN", "Infinity", "-Infinity") are accepted too.
export function formatNumber(x, precision = 4) {
  if (x === null || x === undefined) return "?";
  if (typeof x === "string") x = asNumber(x);
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return "0";
  const p = Math.max(1, precision);
  // Ties never carry into a new digit differently (99..9|5 rounds up either way), so
  // JS's rounding gives the right exponent.
  let exponent = Number(Math.abs(x).toExponential(p - 1).split("e")[1]);
  // |x| = mantissa * 2^power exactly; digits = round_half_even(|x| * 10^(p-1-exponent)).
  FLOAT_BITS.setFloat64(0, Math.abs(x));
  const bits = FLOAT_BITS.getBigUint64(0);
  const biased = Number(bits >> 52n);
  const mantissa = (bits & 0xfffffffffffffn) | (biased ? 1n << 52n : 0n);
  const power = Math.max(biased, 1) - 1075;
  const shift = p - 1 - exponent;
  const num = mantissa * 2n ** BigInt(Math.max(power, 0)) * 10n ** BigInt(Math.max(shift, 0));
  const den = 2n ** BigInt(Math.max(-power, 0)) * 10n ** BigInt(Math.max(-shift, 0));
  let n = num / den;
  const twice = 2n * (num % den);
  if (twice > den || (twice === den && n % 2n === 1n)) n += 1n;
  let digits = n.toString();
  if (digits.length > p) { digits = digits.slice(0, p); exponent += 1; }  // defensive
  const sign = x < 0 ? "-" : "";
  const trim = (text) => text.replace(/0+$/, "");
  if (exponent >= -4 && exponent < p) {
    const whole = exponent >= 0 ? digits.slice(0, exponent + 1) : "0";
    const fraction = trim(exponent >= 0 ? digits.slice(exponent + 1) : "0".repeat(-exponent - 1) + digits);
    return `${sign}${whole}${fraction ? "." + fraction : ""}`;
  }
  const fraction = trim(digits.slice(1));
  const e = `${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  return `${sign}${digits[0]}${fraction ? "." + fraction : ""}e${e}`;
}

// A number from strict JSON, where non-finite numbers travel as strings.
export function asNumber(x) {
  if (typeof x === "number") return x;
  if (x === "Infinity") return Infinity;
  if (x === "-Infinity") return -Infinity;
  return NaN;
}

// For charts: non-finite values are gaps (null).
export function chartNumber(x) {
  const v = asNumber(x);
  return Number.isFinite(v) ? v : null;
}
