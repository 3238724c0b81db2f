"""What playing a graph costs, from the book's apple-orange graph to 100 times its size.

For each graph: how long the payload and the layout take in Python, how big the
self-contained page is, and (in headless Chromium, when /usr/bin/chromium and
playwright are there) how long the player takes to start and to show one step, a jump
to the end and back. Prints figures; asserts nothing about time.

    .venv/bin/python benchmarks/bench_player.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from microgrboard import Value, topological_order
from microgrboard.examples import tanh_derivative
from microgrboard.player import play, player_payload

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]


def shopping(items: int) -> Value:
    """apple-orange with ``items`` kinds of fruit: 4·items + 1 values (2 items: the book's)."""
    subtotal: Value | None = None
    for i in range(items):
        cost = Value(100.0 + 50 * i, f"price{i}") * Value(2.0 + i % 3, f"count{i}")
        cost.label = f"cost{i}"
        subtotal = cost if subtotal is None else subtotal + cost
    assert subtotal is not None
    total = subtotal * Value(1.1, "tax")
    total.label = "total"
    return total


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


# Milliseconds the player takes to handle these keys (it redraws synchronously).
PRESS = """([el, keys]) => { const t = performance.now();
  for (const key of keys) el.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}));
  return performance.now() - t; }"""


def in_browser(pages: dict[str, Path]) -> dict[str, str]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {}
    if not Path(CHROMIUM).exists():
        return {}
    figures = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, path in pages.items():
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            start = time.perf_counter()
            page.goto(path.as_uri())
            page.wait_for_selector(".mgb-player[data-frame='0']")
            ready = time.perf_counter() - start
            player = page.locator(".mgb-player")
            player.focus()
            handle = player.element_handle()
            steps = [page.evaluate(PRESS, [handle, ["ArrowRight"]]) for _ in range(20)]
            jump = page.evaluate(PRESS, [handle, ["End", "Home"]])
            step = statistics.median(steps)
            figures[name] = (f"page ready {ready:.2f} s, one step {step:.1f} ms "
                             f"(median of 20), End then Home {jump:.0f} ms")
            page.close()
        browser.close()
    return figures


def main() -> int:
    graphs = {
        "apple-orange (book)": shopping(2),
        "10x apple-orange": shopping(22),
        "100x apple-orange": shopping(225),
        "tanh, 7th derivative": tanh_derivative(7).output,
    }
    pages = {}
    out = Path(tempfile.mkdtemp(prefix="bench_player_"))
    print(f"{'graph':24} {'values':>7} {'steps':>6} {'payload':>9} {'layout':>8} {'page':>9}")
    for name, root in graphs.items():
        values = len(topological_order(root))
        payload_s = seconds(lambda root=root: player_payload(root))
        player = play(root)
        layout_s = seconds(player.svg)
        path = player.save(out / f"{len(pages)}.html")
        pages[name] = path
        print(f"{name:24} {values:7d} {player.frame_count:6d} {payload_s * 1000:7.0f} ms "
              f"{layout_s:6.2f} s {path.stat().st_size / 1024:7.0f} KiB")
    figures = in_browser(pages)
    if not figures:
        print("(no Chromium or playwright here: browser figures skipped)")
    for name, text in figures.items():
        print(f"{name:24} {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
