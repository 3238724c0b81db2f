"""End to end: the board in headless Chromium, over a real uvicorn server.

One log directory for the whole module: 200 short runs (a sweep, written straight
through the writer), one long run with a one-step spike, two small trained MLPs (graphs,
parameters, network, decision boundary), a multi-class run and, later, a hostile one.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and the ``playwright``
Python package; no browser download. With ``CI`` set, a missing browser fails the
test; locally it skips with the reason. ``MICROGRBOARD_UPDATE_SCREENSHOTS=1``
rewrites docs/images/board.png.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from microgrboard import Value
from microgrboard.board.writer import Run

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
SWEEP = 200
LONG_STEPS, SPIKE_STEP, SPIKE = 6000, 4321, 100.0

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


def _sweep(logdir: Path) -> None:
    """200 short runs, as a hyper-parameter sweep leaves them, and one long run."""
    for i in range(SWEEP):
        optimizer = ("sgd", "adam", "rmsprop")[i % 3]
        lr = round(0.001 * (i + 1), 3)
        with Run(logdir, name=f"sweep-{optimizer}-lr{lr}",
                 hparams={"optimizer": optimizer, "lr": lr, "seed": i % 7}) as run:
            for step in range(10):
                run.log(step, loss=math.exp(-lr * step * 20), accuracy=1 - math.exp(-lr * step))
    with Run(logdir, name="long-spike", hparams={"optimizer": "sgd", "lr": 0.5}) as run:
        for step in range(LONG_STEPS):
            run.log(step, loss=SPIKE if step == SPIKE_STEP else 1.0 / (1 + step / 500))
    # A training process killed mid-run: the run was never closed.
    crash = ("import os, sys; from microgrboard.board.writer import Run; "
             "run = Run(sys.argv[1], name='killed'); run.log(0, loss=1.0); os._exit(1)")
    subprocess.run([sys.executable, "-c", crash, str(logdir)], check=False, timeout=60)


def _train(logdir: Path) -> None:
    """Two small moons runs with everything the board shows, and a 3-class spiral run."""
    from microgrboard.datasets import moons, spirals
    from microgrboard.nn import MLP
    from microgrboard.optim import SGD
    from microgrboard.training import board_views, train_classifier

    X, y = moons(40, noise=0.1, seed=3)
    for name, lr in (("moons-sgd-lr0.1", 0.1), ("moons-sgd-lr0.3", 0.3)):
        model = MLP(2, [6, 6, 1], seed=2)  # its first neuron is alive on the first point
        with Run(logdir, name=name, hparams={"optimizer": "sgd", "lr": lr, "layers": [6, 6, 1]}
                 ) as run:
            views = board_views(X, y, resolution=15, boundary_every=5, graph_every=5,
                                network_every=5)
            hook = run.training_callback(views, params_every=5, total_steps=11)
            train_classifier(model, X, y, SGD(model.parameters(), lr=lr), steps=11, on_step=hook)
    X, y = spirals(30, classes=3, seed=3)
    model = MLP(2, [6, 3], seed=1)
    with Run(logdir, name="spiral-3-classes", hparams={"optimizer": "sgd", "lr": 0.2}) as run:
        views = board_views(X, y, resolution=12, boundary_every=3, graph_every=100,
                            network_every=100, loss="cross_entropy")
        hook = run.training_callback(views, params_every=3, total_steps=4)
        train_classifier(model, X, y, SGD(model.parameters(), lr=0.2), steps=4,
                         loss="cross_entropy", on_step=hook)


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
    _sweep(logdir)
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


@pytest.fixture(scope="module")
def browser(board: tuple[str, Path]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Page:
    """A fresh tab on the board that records every JavaScript error, failed response
    and request outside the page's origin; the test fails on any of them."""

    def __init__(self, browser: Any, url: str) -> None:
        self.url = url
        self.origin = url.rstrip("/")
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page = self.page
        page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(str(e)))
        page.on("response", lambda r: self.problems.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        page.on("request", self._request)

    def _request(self, request: Any) -> None:
        self.requests.append(request.url)
        if not (request.url.startswith(self.origin + "/") or request.url.startswith("data:")):
            self.problems.append(f"request outside the page's origin: {request.url}")

    def open(self) -> Any:
        self.page.goto(self.url)
        self.settle()
        return self.page

    def settle(self, polls: int = 1) -> None:
        """Wait until the page has polled ``polls`` times and no panel is loading."""
        deadline = time.monotonic() + 20
        script = f"() => Number(document.body.dataset.polls || 0) >= {polls} " \
                 "&& (document.body.dataset.pending || '0') === '0'"
        while not self.page.evaluate(script):
            assert time.monotonic() < deadline, "the page did not settle"
            self.page.wait_for_timeout(50)

    def close(self) -> None:
        self.page.close()
        assert self.problems == [], self.problems


@pytest.fixture
def tab(browser: Any, board: tuple[str, Path]) -> Iterator[Page]:
    tab = Page(browser, board[0])
    yield tab
    tab.close()


def _select_only(page: Any, pattern: str) -> None:
    page.locator("#select-none").click()
    page.locator("#run-filter").fill(pattern)
    page.locator("#select-all").click()
    page.locator("#run-filter").fill("")


def test_many_runs_filter_select_sort_and_colours(tab: Page) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    total = SWEEP + 5  # the sweep, the long run, the killed run, two moons, the spiral
    expect(page.locator("#runs li")).to_have_count(total)
    expect(page.locator("#run-count")).to_have_text(f"{total} of {total} selected")
    # Each run says how it ended, a killed one too.
    expect(page.locator('#runs li[data-run="killed"] .status')).to_have_text("stopped · step 0")
    expect(page.locator('#runs li[data-run="long-spike"] .status')).to_have_text(
        f"finished · step {LONG_STEPS - 1}")
    # Every chart has room: the run list is the legend; plotly's legends are off.
    charts = page.locator("#scalars .chart")
    expect(charts).to_have_count(3)  # accuracy, loss, lr
    expect(page.locator('#scalars .chart[data-tag="loss"] .scatterlayer .trace')).to_have_count(
        total, timeout=10000)  # one line per run (many runs: no faint raw lines)
    assert page.locator("#scalars .legend").count() == 0
    assert all(box["height"] >= 250 for box in (c.bounding_box() for c in charts.all()))

    # Substring and regular expression, case-insensitive, as TensorBoard.
    names = page.locator("#runs li").evaluate_all("(lis) => lis.map((li) => li.dataset.run)")
    pattern = "ADAM-lr0.0[0-2]"
    page.locator("#run-filter").fill(pattern)
    shown = [n for n in names if re.search(pattern, n, re.IGNORECASE)]
    assert 5 < len(shown) < 20
    expect(page.locator("#runs li")).to_have_count(len(shown))
    page.locator("#run-filter").fill("moons")
    expect(page.locator("#runs li")).to_have_count(2)
    # An invalid expression says so and shows no run; nothing throws.
    page.locator("#run-filter").fill("lr(0")
    expect(page.locator("#filter-error")).to_contain_text("invalid regular expression")
    expect(page.locator("#run-filter")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#runs li")).to_have_count(0)

    # Select none / all act on the runs the filter shows.
    page.locator("#run-filter").fill("")
    page.locator("#select-none").click()
    expect(page.locator("#run-count")).to_have_text(f"0 of {total} selected")
    expect(page.locator("#scalars")).to_contain_text("Select a run")
    page.locator("#run-filter").fill("rmsprop")
    page.locator("#select-all").click()
    expect(page.locator("#run-count")).to_have_text(f"{SWEEP // 3} of {total} selected · "
                                                     f"{SWEEP // 3} shown")
    tab.settle()
    expect(page.locator('#scalars .chart[data-tag="loss"] .scatterlayer .trace')).to_have_count(
        SWEEP // 3)

    # A run's colour is a hash of its name: the same on its swatch, in its table row
    # and on its curve, and after a reload.
    name = "sweep-rmsprop-lr0.003"
    swatch = page.locator(f'#runs li[data-run="{name}"] .swatch')
    colour = swatch.evaluate("(e) => getComputedStyle(e).backgroundColor")
    row = page.locator(f'#hparams tr[data-run="{name}"] .swatch')
    assert row.evaluate("(e) => getComputedStyle(e).backgroundColor") == colour
    # The run list is the legend: pointing at a run picks out its line, in its colour.
    page.locator(f'#runs li[data-run="{name}"]').hover()
    line = page.locator('#scalars .chart[data-tag="loss"] .trace.highlight path.js-line')
    expect(line).to_have_count(1)
    assert line.evaluate("(e) => getComputedStyle(e).stroke") == colour
    page.mouse.move(700, 5)
    expect(page.locator("#scalars .chart.has-highlight")).to_have_count(0)

    # The hyper-parameter table sorts by a column, both ways, and scrolls.
    page.locator('#hparams th[data-key="lr"]').click()
    first = page.locator("#hparams tbody tr").first
    expect(first).to_have_attribute("data-run", "sweep-rmsprop-lr0.003")
    page.locator('#hparams th[data-key="lr"]').click()
    expect(first).to_have_attribute("data-run", "sweep-rmsprop-lr0.198")
    wrap = page.locator("#hparams-card .table-wrap")
    assert wrap.evaluate("(e) => e.scrollHeight > e.clientHeight")

    # Cards never overlap, here and after the window narrows.
    for width in (1400, 800):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(300)
        boxes = [b for b in (c.bounding_box() for c in page.locator(".card").all()) if b]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                apart = (a["x"] + a["width"] <= b["x"] + 1 or b["x"] + b["width"] <= a["x"] + 1
                         or a["y"] + a["height"] <= b["y"] + 1
                         or b["y"] + b["height"] <= a["y"] + 1)
                assert apart, (width, a, b)

    page.set_viewport_size({"width": 1400, "height": 1000})
    page.reload()
    tab.settle()
    assert page.locator(f'#runs li[data-run="{name}"] .swatch').evaluate(
        "(e) => getComputedStyle(e).backgroundColor") == colour


def test_curves_downsampled_spike_and_zoom_refetch(tab: Page) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    chart = page.locator('#scalars .chart[data-tag="loss"]')
    page.locator("#smoothing").fill("0")
    # Every run selected: each curve gets a small share of the page's points, and the
    # one-step spike is still among them.
    shared = chart.evaluate("""(d) => {
      const i = window.microgrboard.scalars.charts.get("loss").runs.indexOf("long-spike");
      return {points: d.data[i].x.length, top: Math.max(...d.data[i].y)};
    }""")
    assert shared["points"] < LONG_STEPS / 10 and shared["top"] == SPIKE, shared
    _select_only(page, "^long-spike$")
    tab.settle()
    expect(chart.locator(".scatterlayer .trace")).to_have_count(1)
    overview = chart.evaluate("(d) => ({x: d.data[0].x, y: d.data[0].y})")
    # Downsampled (fewer points than steps) but the one-step spike survives it.
    assert len(overview["x"]) < LONG_STEPS
    assert SPIKE_STEP in overview["x"] and max(overview["y"]) == SPIKE
    assert chart.evaluate("(d) => d._fullLayout.yaxis.range[1]") >= SPIKE

    # Zoom: the range is asked again, at full resolution.
    zoom_requests: list[str] = []
    page.on("request", lambda r: zoom_requests.append(r.url) if "start=" in r.url else None)
    before = sum(1 for x in overview["x"] if 1000 <= x <= 1400)
    chart.evaluate("(d) => Plotly.relayout(d, {'xaxis.range[0]': 1000, 'xaxis.range[1]': 1400})")
    expect(chart).to_have_attribute("data-zoom", "1000-1400")
    tab.settle()
    assert any(re.search(r"/api/scalars\?.*start=1000&end=1400", u) for u in zoom_requests), \
        zoom_requests
    expect(chart).to_have_attribute("data-points", "401")
    assert before < 401
    zoomed = chart.evaluate("(d) => d.data[0].x")
    assert zoomed == list(range(1000, 1401))
    # Double-click (autorange) goes back to the overview, without another request.
    asked = len(zoom_requests)
    chart.evaluate("(d) => Plotly.relayout(d, {'xaxis.autorange': true})")
    expect(chart).to_have_attribute("data-points", str(len(overview["x"])))
    assert len(zoom_requests) == asked


def test_graph_panel_plays_and_zooms(tab: Page) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    _select_only(page, "^moons-sgd-lr0.1$")
    tab.settle()
    card = page.locator("#graph-card")
    player = card.locator("#graph-view")
    expect(player.locator(".viewport svg g.node").first).to_be_attached()
    tags = card.locator("#graph-tag option").all_text_contents()
    assert tags[0] == "loss" and "neuron" in tags, tags  # the loss graph comes first

    # The player steps through the forward and the backward pass, and the viewport
    # keeps the node being computed in view.
    expect(player).to_have_attribute("data-frame", "0")
    # However big the graph, it opens at a readable size (and pans), not shrunk to fit.
    viewport = card.locator(".viewport")
    assert float(viewport.get_attribute("data-scale") or 0) >= 0.8
    text_height = player.locator("svg g.node text").first.evaluate(
        "(t) => t.getBoundingClientRect().height")
    assert text_height >= 10, text_height
    player.focus()
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    expect(player).to_have_attribute("data-frame", "30")
    current = player.locator("svg .mgb-current").first
    area, box = player.locator(".viewport").bounding_box(), current.bounding_box()
    assert area["x"] <= box["x"] and box["x"] + box["width"] <= area["x"] + area["width"], box
    assert area["y"] <= box["y"] and box["y"] + box["height"] <= area["y"] + area["height"]
    page.keyboard.press("End")
    expect(player).to_have_attribute("data-phase", "backward")
    assert "grad ?" not in (player.locator("svg").text_content() or "")

    tags_select = card.locator("#graph-tag")
    tags_select.select_option("neuron")
    expect(player.locator(".mgb-title")).to_contain_text("Forward")
    # Training steps: the slider picks another logged graph.
    step = card.locator("#graph-step")
    step.focus()
    page.keyboard.press("Home")
    expect(card.locator("#graph-step-value")).to_have_text("0")
    page.keyboard.press("End")
    expect(card.locator("#graph-step-value")).to_have_text("10")
    expect(player).to_have_attribute("data-step", "10")
    # Zoom and pan: buttons and the wheel change the scale; drag moves the drawing.
    scale = float(viewport.get_attribute("data-scale") or 0)
    card.locator('button[data-zoom="in"]').click()
    assert float(viewport.get_attribute("data-scale") or 0) == pytest.approx(scale * 1.25, rel=1e-3)
    box = viewport.bounding_box()
    page.mouse.move(box["x"] + 100, box["y"] + 100)
    page.mouse.wheel(0, -300)
    assert float(viewport.get_attribute("data-scale") or 0) > scale * 1.25
    stage = card.locator(".stage")
    before = stage.evaluate("(e) => e.style.transform")
    page.mouse.move(box["x"] + 60, box["y"] + 60)
    page.mouse.down()
    page.mouse.move(box["x"] + 160, box["y"] + 120, steps=4)
    page.mouse.up()
    assert stage.evaluate("(e) => e.style.transform") != before


def test_network_panel_slider(tab: Page) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    _select_only(page, "^moons-sgd-lr0.3$")
    tab.settle()
    view = page.locator("#network-view")
    expect(view.locator("svg .neuron")).to_have_count(2 + 6 + 6 + 1)
    # Edges: one per weight, coloured by sign and sized by magnitude.
    expect(view.locator("svg line.edge")).to_have_count(2 * 6 + 6 * 6 + 6 * 1)
    widths = {float(w) for w in view.locator("svg line.edge").evaluate_all(
        "(ls) => ls.map((l) => l.getAttribute('stroke-width'))")}
    assert len(widths) > 10
    # 2-D inputs: every neuron shows its heat map over the input plane.
    assert view.locator("svg .neuron image").count() == 2 + 6 + 6 + 1
    slider = page.locator("#network-step")
    slider.focus()
    page.keyboard.press("Home")
    expect(view).to_have_attribute("data-step", "0")
    first = view.locator("svg line.edge").first.get_attribute("stroke-width")
    page.keyboard.press("End")
    expect(view).to_have_attribute("data-step", "10")
    assert view.locator("svg line.edge").first.get_attribute("stroke-width") != first


def test_parameters_and_boundary(tab: Page) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    _select_only(page, "^moons-sgd-lr0.1$")
    tab.settle()
    expect(page.locator("#params-view .heatmaplayer").first).to_be_attached()
    view = page.locator("#boundary-view")
    expect(view.locator(".contourlayer").first).to_be_attached()
    expect(view).to_have_attribute("data-classes", "2")

    # Slider answers landing out of order: the last position asked for wins.
    page.evaluate("""() => {
      const realFetch = window.fetch;
      window.fetch = (url, ...rest) => {
        const slow = /[/]api[/]boundary[?].*step=0/.test(String(url));
        return slow ? new Promise((resolve) => setTimeout(resolve, 600)).then(
          () => realFetch(url, ...rest)) : realFetch(url, ...rest);
      };
    }""")
    slider = page.locator("#boundary-step")
    slider.focus()
    page.keyboard.press("Home")  # step 0: its answer is slow
    page.keyboard.press("End")   # step 10: answered at once
    expect(view).to_have_attribute("data-step", "10")
    page.wait_for_timeout(900)
    expect(view).to_have_attribute("data-step", "10")

    # A failed request says so on its card, keeps the panel, and clears when one works.
    def refuse(route: Any) -> None:
        route.fulfill(status=500, content_type="application/json",
                      body='{"error": "the store cannot be read"}')

    params_url = re.compile(r".*/api/params\?.*")
    page.route(params_url, refuse)
    page.locator("#params-step").focus()
    page.keyboard.press("Home")
    error = page.locator("#params-card .panel-error")
    expect(error).to_have_text("Could not load: the store cannot be read")
    page.unroute(params_url)
    tab.problems[:] = [p for p in tab.problems if "500" not in p]
    page.keyboard.press("End")
    expect(error).to_be_hidden()
    expect(page.locator("#params-view")).to_have_attribute("data-step", "10")


def test_screenshot_live_runs_and_hostile_names(tab: Page, board: tuple[str, Path]) -> None:
    from playwright.sync_api import expect

    _, logdir = board
    page = tab.open()
    _select_only(page, "^moons-")
    tab.settle()
    # For the picture: one neuron's graph, in the middle of its backward pass.
    page.locator("#graph-tag").select_option("neuron")
    page.locator("#graph-step").focus()
    page.keyboard.press("Home")  # before training
    tab.settle()
    expect(page.locator("#graph-view")).to_have_attribute("data-step", "0")
    page.locator("#graph-view").focus()
    page.keyboard.press("End")
    for _ in range(4):
        page.keyboard.press("ArrowLeft")
    expect(page.locator("#graph-view")).to_have_attribute("data-phase", "backward")
    page.evaluate("window.scrollTo(0, 0)")
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)  # let plotly finish its transitions
    shot = page.screenshot(full_page=True)
    assert len(shot) > 20_000
    if os.environ.get("MICROGRBOARD_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(shot)

    # Content-Security-Policy: only the page's own scripts run.
    csp = page.request.get(tab.url).headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'", csp
    reported = len(tab.problems)
    page.evaluate("""() => { const s = document.createElement("script");
      s.textContent = "window.__inline = 1"; document.body.append(s); }""")
    assert page.evaluate("window.__inline") is None  # refused: not one of our files
    assert any("Content Security Policy" in p for p in tab.problems[reported:]), tab.problems
    del tab.problems[reported:]

    # Live: a run that starts writing appears, selected, and grows without reload; polls
    # ask only for what is new.
    scalar_urls: list[str] = []
    page.on("request", lambda r: scalar_urls.append(r.url) if "/api/scalars" in r.url else None)
    with Run(logdir, name="live") as live:
        live.log(0, loss=1.0)
        expect(page.locator('#runs input[data-run="live"]')).to_be_checked(timeout=8000)
        live.log(1, loss=0.5)
        live.log(2, loss=0.25)
        expect(page.locator('#runs li[data-run="live"]')).to_contain_text("step 2", timeout=8000)
    expect(page.locator('#runs li[data-run="live"]')).to_contain_text("finished", timeout=8000)
    tab.settle()
    assert page.evaluate("window.microgrboard.scalars.cache.get('live').series.loss.steps") \
        == [0, 1, 2]
    assert any("run=live" in u and "since=" in u and not u.endswith("since=0")
               for u in scalar_urls), scalar_urls

    # Hostile strings are text everywhere and never run.
    _log_hostile_run(logdir)
    expect(page.locator(f'#runs li[data-run="{EVIL}"] .name')).to_have_text(EVIL, timeout=8000)
    tab.settle()
    expect(page.locator(f'#scalars .chart[data-tag="{EVIL}"]')).to_have_count(1)
    hover = page.evaluate("""(tag) => {
      const div = [...document.querySelectorAll("#scalars .chart")].find(
        (d) => d.dataset.tag === tag);
      Plotly.Fx.hover(div, { xval: 1 });
      return div.querySelector(".hoverlayer").textContent;
    }""", EVIL)
    assert EVIL in hover, hover
    expect(page.locator("#hparams")).to_contain_text(EVIL)
    _select_only(page, re.escape(EVIL))
    tab.settle()
    expect(page.locator("#graph-tag")).to_contain_text(EVIL)
    expect(page.locator("#graph-view")).to_contain_text(EVIL)
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src=x]").count() == 0

    # Active SVG content never reaches the page, even if the server sent it.
    reported = len(tab.problems)
    cleaned = page.evaluate("async (t) => (await import('/static/lib/svg.js'))"
                            ".sanitizeSvg(t).outerHTML", HOSTILE_SVG)
    page.wait_for_timeout(100)
    # Chromium already tries the handlers as DOMParser parses them; the page's CSP
    # blocks that (and says so), and sanitizeSvg drops them before any reaches the page.
    assert all("inline event handler" in p for p in tab.problems[reported:]), tab.problems
    del tab.problems[reported:]
    for bad in ("script", "javascript", "JavaScript", "onclick", "onmouseover", "<animate",
                "<set", "foreignObject", "__xss"):
        assert bad not in cleaned, (bad, cleaned)
    assert 'xlink:href="#n1"' in cleaned and cleaned.count("<text>") == 3
    assert page.evaluate("window.__xss") is None


def test_a_run_with_a_bad_row_shows_its_error_and_the_others_their_curves(
        tab: Page, board: tuple[str, Path]) -> None:
    import sqlite3

    from playwright.sync_api import expect

    from microgrboard.board.store import store_path

    _, logdir = board
    with Run(logdir, name="damaged", hparams={"lr": 0.1}) as run:
        run.log(0, loss=1.0)
    db = sqlite3.connect(store_path(logdir))  # as another tool, or a bad disk, leaves it
    db.execute("UPDATE runs SET hparams = '{broken' WHERE name = 'damaged'")
    db.execute("UPDATE scalars SET value = 'oops' WHERE run_id = "
               "(SELECT id FROM runs WHERE name = 'damaged')")
    db.commit()
    db.close()
    page = tab.open()
    _select_only(page, "^(damaged|moons-sgd-lr0.1)$")
    tab.settle()
    # The run list marks the run and says what is wrong (also in its tooltip)...
    damaged = page.locator('#runs li[data-run="damaged"]')
    expect(damaged).to_have_class(re.compile(r"\bhas-error\b"))
    expect(damaged.locator(".run-error")).to_contain_text("hyper-parameters are not JSON")
    assert "not JSON" in (damaged.locator("label").get_attribute("title") or "")
    expect(page.locator('#runs li[data-run="moons-sgd-lr0.1"] .run-error')).to_be_hidden()
    # ...and the curves card names the bad value, while the other run's curve is drawn.
    errors = page.locator("#scalars-card #scalar-errors li")
    expect(errors).to_have_count(1)
    expect(errors.first).to_have_attribute("data-run", "damaged")
    expect(errors.first).to_contain_text("'oops'")
    expect(page.locator('#scalars .chart[data-tag="loss"] .scatterlayer .trace')).to_have_count(2)
    _select_only(page, "^moons-sgd-lr0.1$")
    tab.settle()
    expect(page.locator("#scalar-errors")).to_be_hidden()
