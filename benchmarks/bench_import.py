"""How long ``import microgrboard`` takes, over a bare Python start.

    .venv/bin/python benchmarks/bench_import.py [--runs N]

Each figure is a median over N fresh interpreters (subprocesses), so nothing is cached
in the measuring process:

* ``-X importtime``: the cumulative time Python reports for the ``microgrboard`` line,
  that is everything ``import microgrboard`` imported that the bare start had not;
* wall clock: ``python -c "import microgrboard"`` minus ``python -c "pass"``.

Measured as users run it, with compiled bytecode cached (in a temporary
``PYTHONPYCACHEPREFIX``: nothing is written into the tree, and it works even where
``PYTHONDONTWRITEBYTECODE`` is set), and in the environment as inherited (where
``PYTHONDONTWRITEBYTECODE`` is set, microgrboard is compiled on every start). The
working agreement's budget is 100 ms over bare Python.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

BUDGET_MS = 100.0
# `import time:      2253 |      26314 | microgrboard` (self and cumulative, in µs)
IMPORTTIME_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)$")


def cached_env(cache: str) -> dict[str, str]:
    """The environment for a child Python that caches bytecode under ``cache``."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def importtime(module: str, env: dict[str, str]) -> tuple[float, list[tuple[float, str]]]:
    """Cumulative ms of ``import module`` and each imported module's own ms."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    # A module's line comes after the lines of everything it imported: the block of
    # lines that ends with the top-level `module` line is what its import cost.
    total_us, selves, block = None, [], []
    for line in done.stderr.splitlines():
        match = IMPORTTIME_LINE.match(line)
        if not match:
            continue
        self_us, cumulative_us, indent, name = match.groups()
        block.append((int(self_us) / 1e3, name))
        if indent == " ":  # a top-level import
            if name == module:
                total_us, selves = int(cumulative_us), block
            block = []
    if total_us is None:
        raise RuntimeError(f"no importtime line for {module!r} in:\n{done.stderr}")
    return total_us / 1e3, selves


def wall_ms(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return (time.perf_counter() - start) * 1e3


def measure(runs: int, env: dict[str, str]) -> tuple[float, float, list[tuple[float, str]]]:
    """Medians: importtime ms, wall ms over bare python, and each module's own ms."""
    totals: list[float] = []
    selves: dict[str, list[float]] = {}
    for _ in range(runs):
        total, own = importtime("microgrboard", env)
        totals.append(total)
        for ms, name in own:
            selves.setdefault(name, []).append(ms)
    bare = statistics.median(wall_ms("pass", env) for _ in range(runs))
    loaded = statistics.median(wall_ms("import microgrboard", env) for _ in range(runs))
    heaviest = sorted(((statistics.median(v), k) for k, v in selves.items()), reverse=True)
    return statistics.median(totals), loaded - bare, heaviest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per figure")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")

    with tempfile.TemporaryDirectory(prefix="pycache-") as cache:
        warm = cached_env(cache)
        importtime("microgrboard", warm)  # fills the bytecode cache
        cached = measure(args.runs, warm)
    inherited = measure(args.runs, dict(os.environ))

    print(
        f"import microgrboard: medians of {args.runs} fresh interpreters, "
        f"Python {sys.version.split()[0]}"
    )
    as_is = "environment as is" + (
        " (PYTHONDONTWRITEBYTECODE set)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""
    )
    for name, (importtime_ms, over_bare_ms, _) in (("bytecode cached", cached), (as_is, inherited)):
        print(
            f"  {name}: -X importtime {importtime_ms:.1f} ms, "
            f"wall clock over bare python {over_bare_ms:.1f} ms"
        )
    print("  heaviest modules, bytecode cached (own time):")
    for ms, module in cached[2][:6]:
        print(f"    {ms:6.1f} ms  {module}")
    worst = max(cached[0], cached[1])
    verdict = "ok" if worst < BUDGET_MS else "OVER BUDGET"
    print(
        f"budget: < {BUDGET_MS:.0f} ms over bare python (bytecode cached): {worst:.1f} ms {verdict}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
