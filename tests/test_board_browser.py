"""End to end: the board in headless Chromium, over a real uvicorn server.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and the ``playwright``
Python package; no browser download. With ``CI`` set, a missing browser fails the
test; locally it skips with the reason. ``MICROGRBOARD_UPDATE_SCREENSHOTS=1``
rewrites docs/images/board.png.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from microgrboard import Value
from microgrboard.board.store import StoreReader
from microgrboard.board.writer import Run
from microgrboard.drawing import format_number
from microgrboard.snapshot import grads_at_step

# Rounding edges of Python's "g" format: exact ties (half to even), carries into a new
# digit, the switch to exponents, subnormals, the largest float.
FORMAT_CASES = [9999.5, 99995.0, 12345.0, 12.125, 0.125, 2.5, -2.5, 1e-5, 0.0001, 0.00009999,
                123456.0, 5e-324, 1.7976931348623157e308, 1e16, -9999.5, 220.00000000000003,
                0.70710678, 1.0, 100.0, 0.1, 1234.5, 1235.5, -0.0, 3.0000000000000004, 1e21]

# A hostile drawing, for sanitizeSvg: everything here that is active must go.
HOSTILE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
  onmouseover="window.__xss=2"><script>window.__xss=3</script>
  <a href="javascript:window.__xss=4"><text onclick="window.__xss=8">a</text></a>
  <a xlink:href=" JavaScript:window.__xss=5"><text>b</text></a>
  <a id="keep" xlink:href="#n1"><text>c</text></a>
  <g><animate attributeName="href" to="javascript:window.__xss=6"/>
     <set attributeName="onclick" to="window.__xss=7"/>
     <foreignObject><div xmlns="http://www.w3.org/1999/xhtml">html</div></foreignObject></g>
</svg>"""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "images" / "board.png"
EVIL = "<img src=x onerror=window.__xss=1> %{y}"  # HTML, and a plotly template field

pytestmark = pytest.mark.browser


def _require_browser() -> None:
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: apt-get install -y chromium"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright Python package is missing: pip install playwright"
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(reason)


def _last_snapshot(logdir: Path, run: str) -> dict[str, Any]:
    reader = StoreReader(logdir)
    newest = reader.graphs(run)[-1]
    return json.loads(reader.graph(run, newest["id"])["snapshot"])  # type: ignore[no-any-return]


def _train(logdir: Path) -> None:
    """Two small moons runs with everything the board shows, to compare."""
    from microgrboard.datasets import moons
    from microgrboard.nn import MLP
    from microgrboard.optim import SGD
    from microgrboard.training import train_classifier

    X, y = moons(40, noise=0.1, seed=3)
    for name, lr in (("moons-sgd-lr0.1", 0.1), ("moons-sgd-lr0.3", 0.3)):
        model = MLP(2, [8, 8, 1], seed=1)
        with Run(logdir, name=name, hparams={"optimizer": "sgd", "lr": lr, "layers": [8, 8, 1]}
                 ) as run:
            hook = run.training_callback(X, y, params_every=5, boundary_every=5, graph_every=5,
                                         resolution=25)
            train_classifier(model, X, y, SGD(model.parameters(), lr=lr), steps=21, on_step=hook)


def _log_hostile_run(logdir: Path) -> None:
    """A run whose name, tags, hparams and node labels are all HTML."""
    with Run(logdir, name=EVIL, hparams={"note": EVIL}) as run:
        x = Value(2.0, EVIL)
        out = (x * x).tanh()
        out.backward()
        for step in range(5):
            run.log(step, loss=1.0 / (step + 1), **{EVIL: float(step)})
        run.log_graph(out, 0, tag=EVIL)


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    _require_browser()
    import uvicorn

    from microgrboard.board.server import bind_socket, create_app

    base = tmp_path_factory.mktemp("board")
    logdir = base / "runs"
    logdir.mkdir()
    _train(logdir)
    # Served as `--logdir runs` from its parent, as a user runs it: the page (and the
    # screenshot in the docs) shows "runs", not a temporary path.
    previous_cwd = Path.cwd()
    os.chdir(base)
    sock, port = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(Path("runs")), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/", logdir
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        os.chdir(previous_cwd)


def test_board_in_chromium(board: tuple[str, Path], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, logdir = board
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 else None)
            page.goto(url)

            # Runs list and their hyper-parameters, side by side.
            expect(page.locator("#runs li")).to_have_count(2)
            expect(page.locator("#runs .name").nth(1)).to_have_text("moons-sgd-lr0.3")
            expect(page.locator("#hparams tr")).to_have_count(3)  # header and two runs
            expect(page.locator("#hparams")).to_contain_text("0.3")

            # Scalar curves: one plotly chart per tag, a line per run.
            expect(page.locator("#scalars .chart")).to_have_count(3)
            loss_lines = page.locator('#scalars .chart[data-tag="loss"] .scatterlayer .trace')
            expect(loss_lines).to_have_count(4)  # smoothed and faint raw, per run
            page.locator("#smoothing").fill("0")  # raw curves only: one line per run
            expect(loss_lines).to_have_count(2)
            page.locator("#smoothing").fill("0.6")

            # The graph renders, with this snapshot's numbers written over the layout.
            expected = _last_snapshot(logdir, "moons-sgd-lr0.1")["nodes"][0]
            data_cell = page.locator("#graph svg #a_n0-data text")
            expect(data_cell).to_have_text(f"data {format_number(expected['data'])}")
            expect(page.locator("#graph svg g.node").first).to_be_visible()
            assert "8.888" not in (page.locator("#graph svg").text_content() or "")

            # Backward step-through: at step 0 only the root's gradient is known.
            backward = page.locator("#graph-backward")
            last = int(backward.get_attribute("max") or 0)
            assert last >= 5
            backward.focus()
            page.keyboard.press("Home")
            expect(page.locator("#graph-caption")).to_contain_text("backward step 0:")
            root = page.locator(f"#graph svg #n{last}")
            expect(root).to_have_class("node mgb-current")
            expect(page.locator("#graph svg #a_n0-grad text")).to_have_text("grad ?")
            page.keyboard.press("ArrowRight")
            expect(page.locator("#graph-caption")).to_contain_text("backward step 1:")
            page.keyboard.press("End")
            expect(page.locator("#graph svg #a_n0-grad text")).not_to_have_text("grad ?")
            # The last step highlights the last node processed, as draw(step=last) does.
            expect(page.locator("#graph svg #n0")).to_have_class("node mgb-current")
            expect(page.locator("#graph-caption")).to_contain_text("done")

            # Hover shows a node's numbers.
            root.locator("text").first.hover(timeout=5000)
            expect(page.locator("#tooltip")).to_contain_text("op    ")
            expect(page.locator("#tooltip")).to_contain_text("grad  1")

            # The page's number format is Python's, digit for digit.
            js_numbers = page.evaluate(
                "(xs) => xs.map((x) => [4, 6, 1].map((p) => formatNumber(x, p)))",
                FORMAT_CASES)
            assert js_numbers == [[format_number(x, 4), format_number(x, 6), format_number(x, 1)]
                                  for x in FORMAT_CASES]

            # Partial sums as snapshot.grads_at_step: a NaN share keeps the sum NaN.
            nan_snap = {"version": 1, "root": 2, "seed": 1.0, "nodes": [
                {"id": i, "label": "", "op": "" if i == 0 else "+", "data": 1.0, "grad": 1.0}
                for i in range(3)], "edges": [
                {"parent": 0, "child": 2, "share": "NaN"}, {"parent": 1, "child": 2, "share": 2.0},
                {"parent": 0, "child": 1, "share": 3.0}]}
            for step in range(3):
                known = page.evaluate(
                    "([s, step]) => [...gradsAtStep(prepareSnapshot(s), step).known.entries()]"
                    ".map(([id, g]) => [id, Number.isNaN(g) ? 'NaN' : g])",
                    [nan_snap, step])
                edges: list[dict[str, Any]] = nan_snap["edges"]  # type: ignore[assignment]
                as_floats = {**nan_snap, "edges": [{**e, "share": float(e["share"])}
                                                   for e in edges]}
                expected = grads_at_step(as_floats, step)  # type: ignore[arg-type]
                assert known == [[i, "NaN" if g is not None and math.isnan(g) else g]
                                 for i, g in expected.items()], step

            # Active SVG content never reaches the page, even if the server sent it.
            reported = len(problems)
            cleaned = page.evaluate("(t) => sanitizeSvg(t).outerHTML", HOSTILE_SVG)
            page.wait_for_timeout(100)
            # Chromium already tries the handlers as DOMParser parses them; the page's CSP
            # blocks that (and says so), and sanitizeSvg drops them before any reaches the page.
            assert all("inline event handler" in p for p in problems[reported:]), problems
            del problems[reported:]
            for bad in ("script", "javascript", "JavaScript", "onclick", "onmouseover",
                        "<animate", "<set",
                        "foreignObject", "__xss"):
                assert bad not in cleaned, (bad, cleaned)
            assert 'xlink:href="#n1"' in cleaned and cleaned.count("<text>") == 3

            # Slider responses landing out of order: the last position asked for wins.
            boundary_step = page.locator("#boundary-step")
            page.evaluate("""() => {
              const realFetch = window.fetch;
              window.fetch = (url, ...rest) => {
                const slow = /[/]api[/]boundary[?].*step=0/.test(String(url));
                return slow ? new Promise((resolve) => setTimeout(resolve, 600)).then(
                  () => realFetch(url, ...rest)) : realFetch(url, ...rest);
              };
            }""")
            boundary_step.focus()
            page.keyboard.press("Home")  # step 0: its answer is slow
            page.keyboard.press("End")   # step 20: answered at once
            expect(page.locator("#boundary")).to_have_attribute("data-step", "20")
            page.wait_for_timeout(900)  # the slow answer for step 0 has landed by now
            expect(page.locator("#boundary")).to_have_attribute("data-step", "20")
            expect(page.locator("#boundary-step-value")).to_have_text("20")

            # Later training steps reuse the layout: only numbers change.
            snapshot = page.locator("#graph-snapshot")
            snapshot.focus()
            page.keyboard.press("Home")
            expect(page.locator("#graph-snapshot-value")).to_have_text("0")
            page.keyboard.press("End")
            expect(page.locator("#graph-snapshot-value")).to_have_text("20")
            assert page.evaluate("window.microgrboard.layoutFetches") == 1

            # Parameters heat maps and the decision boundary render.
            expect(page.locator("#params .heatmaplayer").first).to_be_attached()
            expect(page.locator("#boundary .contourlayer").first).to_be_attached()
            expect(page.locator("#boundary-step-value")).to_have_text("20")

            page.locator("#graph-backward").focus()
            page.keyboard.press("Home")
            for _ in range(3):
                page.keyboard.press("ArrowRight")
            page.mouse.move(0, 0)
            page.wait_for_timeout(300)  # let plotly finish its transitions
            shot = page.screenshot(full_page=True)
            assert len(shot) > 20_000
            if os.environ.get("MICROGRBOARD_UPDATE_SCREENSHOTS") == "1":
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                SCREENSHOT.write_bytes(shot)

            # Live: a run that starts writing appears, and grows, without reload; polls
            # ask only for what is new (since=cursor).
            scalar_urls: list[str] = []
            page.on("request", lambda r: scalar_urls.append(r.url)
                    if "/api/scalars" in r.url else None)
            with Run(logdir, name="live") as live:
                live.log(0, loss=1.0)
                expect(page.locator('#runs input[data-run="live"]')).to_be_checked(timeout=8000)
                live.log(1, loss=0.5)
                live.log(2, loss=0.25)
                expect(page.locator("#runs li", has_text="live")).to_contain_text(
                    "step 2", timeout=8000)
            expect(page.locator("#runs li", has_text="live")).to_contain_text(
                "finished", timeout=8000)
            live_steps = page.evaluate("window.microgrboard.scalars.live.loss.steps")
            assert live_steps == [0, 1, 2]
            assert any("run=live&since=" in u and not u.endswith("since=0") for u in scalar_urls)

            # Hostile strings are shown as text everywhere and never run.
            _log_hostile_run(logdir)
            expect(page.locator("#runs .name").nth(3)).to_have_text(EVIL, timeout=8000)
            expect(page.locator(f'#scalars .chart[data-tag="{EVIL}"]')).to_have_count(1)
            # A "%{y}" in a run name is text in the hover label, not a template field.
            hover = page.evaluate("""(tag) => {
              const div = [...document.querySelectorAll("#scalars .chart")].find(
                (d) => d.dataset.tag === tag);
              Plotly.Fx.hover(div, { xval: 1 });
              return div.querySelector(".hoverlayer").textContent;
            }""", EVIL)
            assert EVIL in hover, hover
            expect(page.locator("#hparams")).to_contain_text(EVIL)
            page.locator("#graph-run").select_option(EVIL)
            expect(page.locator("#graph svg")).to_contain_text(EVIL)
            expect(page.locator("#graph-tag")).to_contain_text(EVIL)
            assert page.evaluate("window.__xss") is None
            assert page.locator("img[src=x]").count() == 0
        finally:
            browser.close()
    assert problems == [], problems
