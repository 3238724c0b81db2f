"""The player in headless Chromium: a saved apple-orange page, stepped through.

Every number and every line of arithmetic on screen, at every step, is compared
with what Python computes: forward values in topological order, then
``backward_steps()`` (each node's gradient as it stands after that step, and the
book's rules for the local derivatives). The page must make no request besides
itself and raise no JavaScript error. Needs /usr/bin/chromium and playwright (a
failure in CI; a skip, with the reason, elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_board_browser import CHROMIUM, CHROMIUM_ARGS, _require_browser

from microgrboard import Value, backward_steps, play, topological_order
from microgrboard.drawing import format_number
from microgrboard.examples import apple_orange

pytestmark = pytest.mark.browser

SYMBOL = {"*": "×", "+": "+"}
# The player's SVG cells, by the drawing's ids with the instance prefix taken off.
READ_CELLS = """(root) => Object.fromEntries([...root.querySelectorAll('.mgb-graph g[id]')]
  .filter((g) => /-a_/.test(g.id))
  .map((g) => [g.id.replace(/^mgb[0-9a-f]+-/, ''), g.querySelector('text').textContent]))"""
READ_LINES = """(root) => [...root.querySelectorAll('.mgb-lines li')].map((li) => li.textContent)"""


def fmt(x: float) -> str:
    return format_number(x)


def expected_frames(root: Value, style: str) -> list[dict[str, Any]]:
    """What every frame must show, computed from the graph and backward_steps() only."""
    order = topological_order(root)
    ids = {node: i for i, node in enumerate(order)}
    name = root.label
    edges = [(ids[p], ids[c], k) for c in order for k, p in enumerate(c.parents)]
    root_id = ids[root]

    def cells(known: set[int], grads: dict[int, float], shares: dict[tuple[int, int, int], float],
              seed: float | None) -> dict[str, str]:
        if style == "record":
            shown = {f"a_n{i}-data": f"data {fmt(n.data)}" if i in known else "data ?"
                     for i, n in enumerate(order)}
            shown.update({f"a_n{i}-grad": f"grad {fmt(grads[i])}" if i in grads else "grad ?"
                          for i in range(len(order))})
            return shown
        shown = {}
        for p, c, k in edges:
            shown[f"a_e{p}-{c}-{k}-data"] = fmt(order[p].data) if p in known else "?"
            share = shares.get((p, c, k))
            shown[f"a_e{p}-{c}-{k}-grad"] = "?" if share is None else fmt(share)
        shown[f"a_n{root_id}-seed-data"] = fmt(root.data) if root_id in known else "?"
        shown[f"a_n{root_id}-seed-grad"] = "?" if seed is None else fmt(seed)
        return shown

    frames = []
    leaves = {i for i, n in enumerate(order) if not n.op}
    frames.append({"cells": cells(leaves, {}, {}, None),
                   "lines": [f"{n.label} = {fmt(n.data)}" for n in order if not n.op]})
    known = set(leaves)
    for i, node in enumerate(order):
        if not node.op:
            continue
        known.add(i)
        a, b = node.parents
        sym = SYMBOL[node.op]
        line = (f"{node.label} = {a.label} {sym} {b.label} = {fmt(a.data)} {sym} {fmt(b.data)}"
                f" = {fmt(node.data)}")
        frames.append({"cells": cells(known, {}, {}, None), "lines": [line]})

    reached: dict[int, float] = {}
    shares: dict[tuple[int, int, int], float] = {}
    for step in backward_steps(root):
        node = step.node
        c = ids[node]
        reached[c] = node.grad
        lines = [f"∂{name}/∂{node.label} = {fmt(step.upstream)}"]
        for k, (parent, share) in enumerate(step.contributions):
            other = node.parents[1 - k].data if node.op == "*" else 1.0  # the book's rules
            lines.append(f"∂{name}/∂{parent.label} = {fmt(step.upstream)} × {fmt(other)} = "
                         f"{fmt(share)}")
            shares[(ids[parent], c, k)] = share
        for parent in node.parents:  # every gradient as backward_steps leaves it now
            reached[ids[parent]] = parent.grad
        frames.append({"cells": cells(known, dict(reached), dict(shares), 1.0),
                       "lines": lines})
    return frames


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A page whose every request, console error and uncaught exception is recorded."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.requests: list[str] = []
        self.problems: list[str] = []

        def route(route: Any) -> None:  # anything but the file itself is refused
            self.requests.append(route.request.url)
            if route.request.url == url:
                route.continue_()
            else:
                route.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                     if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        self.page.goto(url)

    def close(self) -> None:
        self.context.close()


def frame_of(page: Any, player: Any) -> int:
    return int(player.get_attribute("data-frame"))


@pytest.mark.parametrize("style", ["record", "book"])
def test_apple_orange_plays_step_by_step(browser: Any, tmp_path: Path, style: str) -> None:
    from playwright.sync_api import expect

    root = apple_orange().output
    path = play(root, style=style).save(tmp_path / f"apple_orange_{style}.html")
    expected = expected_frames(root, style)
    url = path.as_uri()
    watched = Watched(browser, url)
    page = watched.page
    try:
        player = page.locator(".mgb-player")
        expect(player).to_have_attribute("data-frame", "0")
        handle = player.element_handle()

        def check(frame: int) -> None:
            expect(player).to_have_attribute("data-frame", str(frame))
            shown = page.evaluate(READ_CELLS, handle)
            want = expected[frame]
            assert shown == want["cells"], f"frame {frame}"
            lines = page.evaluate(READ_LINES, handle)
            for line in want["lines"]:
                assert line in lines, f"frame {frame}: {line!r} not in {lines}"
            if frame >= len(expected) - 9:  # backward: exactly the chain rule, nothing else
                chains = [t for t in lines if " × " in t]
                assert chains == [t for t in want["lines"] if " × " in t], f"frame {frame}"
            assert page.locator(".mgb-counter").text_content() == f"{frame} / {len(expected) - 1}"

        # No gradient before the first backward step: every grad cell reads "?".
        first_backward = len(expected) - len(topological_order(root))
        player.focus()
        check(0)
        for frame in range(1, len(expected)):
            page.keyboard.press("ArrowRight")
            check(frame)
            if frame < first_backward:
                grads = [t for cell, t in page.evaluate(READ_CELLS, handle).items()
                         if cell.endswith("-grad")]
                assert grads and all(t.endswith("?") for t in grads), frame
        page.keyboard.press("ArrowRight")  # past the end: stays
        check(len(expected) - 1)
        assert "Done: every gradient is known" in (page.locator(".mgb-title").text_content()
                                                   or "")
        for frame in range(len(expected) - 2, -1, -1):  # and back, with the other key
            page.keyboard.press("ArrowLeft")
            check(frame)
        page.keyboard.press("End")
        check(len(expected) - 1)
        page.keyboard.press("Home")
        check(0)

        # Buttons, disabled at the ends.
        expect(page.locator('button[data-action="prev"]')).to_be_disabled()
        for frame in range(1, 4):
            page.locator('button[data-action="next"]').click()
            check(frame)
        page.locator('button[data-action="prev"]').click()
        check(2)
        page.locator('button[data-action="last"]').click()
        check(len(expected) - 1)
        expect(page.locator('button[data-action="next"]')).to_be_disabled()
        page.locator('button[data-action="first"]').click()
        check(0)

        # The slider, and the keyboard on the slider (one step, not two).
        slider = page.locator(".mgb-slider")
        slider.fill(str(first_backward))
        check(first_backward)
        slider.focus()
        page.keyboard.press("ArrowRight")
        check(first_backward + 1)

        # Play runs on its own until paused.
        page.locator('button[data-action="play"]').click()
        expect(player).to_have_attribute("data-frame", str(first_backward + 2), timeout=5000)
        page.locator('button[data-action="play"]').click()
        stopped = frame_of(page, player)
        page.wait_for_timeout(1500)
        assert frame_of(page, player) == stopped

        assert watched.requests == [url], watched.requests  # nothing left the file
        assert watched.problems == []
    finally:
        watched.close()


def test_two_players_on_one_page_do_not_interfere(browser: Any, tmp_path: Path) -> None:
    a = play(apple_orange().output)
    x = Value(3.0, "x")
    square = x * x
    square.label = "s"
    b = play(square, style="book")
    path = tmp_path / "two.html"
    page_html = a.page().replace("</body>", f"{b.html()}\n{a.html()}\n</body>")
    path.write_text(page_html, encoding="utf-8")
    watched = Watched(browser, path.as_uri())
    page = watched.page
    try:
        players = page.locator(".mgb-player")
        from playwright.sync_api import expect

        expect(players).to_have_count(3)
        for k in range(3):
            expect(players.nth(k)).to_have_attribute("data-frame", "0")
        players.nth(1).focus()
        page.keyboard.press("End")
        expect(players.nth(1)).to_have_attribute("data-frame", str(b.frame_count - 1))
        players.nth(2).locator('button[data-action="next"]').click()
        expect(players.nth(2)).to_have_attribute("data-frame", "1")
        assert players.nth(0).get_attribute("data-frame") == "0"
        assert "∂s/∂x = 3 + 3 = 6" in (players.nth(1).locator(".mgb-lines").text_content()
                                       or "")
        # The two apple-orange players hold the same drawing under different ids.
        first = page.evaluate(READ_CELLS, players.nth(0).element_handle())
        third = page.evaluate(READ_CELLS, players.nth(2).element_handle())
        assert first["a_n2-data"] == "data ?" and third["a_n2-data"] == "data 200"
        assert watched.problems == []
    finally:
        watched.close()


def test_without_scripts_the_page_shows_the_final_picture(browser: Any, tmp_path: Path) -> None:
    path = play(apple_orange().output, style="book").save(tmp_path / "static.html")
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(path.as_uri())
        picture = page.locator(".mgb-player img.mgb-static")
        picture.wait_for()
        # The data-URI SVG decodes into a real picture (CSP allows data: images only).
        width = page.evaluate("(img) => img.complete && img.naturalWidth", picture.element_handle())
        assert width > 300
        assert page.locator(".mgb-controls").count() == 0
        assert "final state" in (page.locator(".mgb-static-note").text_content() or "")
    finally:
        context.close()


def test_the_module_as_the_board_uses_it(browser: Any) -> None:
    """createPlayer on an inline SVG from player_svg() and a payload from player_payload()
    (what the board serves), then destroyed and created again on the same drawing."""
    from microgrboard.player import asset_path, player_payload, player_svg
    from microgrboard.snapshot import snapshot

    root = apple_orange().output
    logged = snapshot(root)  # as Run.log_graph stores it
    payload, svg = player_payload(logged), player_svg(logged)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(f'<div id="host"><div class="mgb-graph">{svg}</div></div>')
        script = asset_path("player.js").read_text(encoding="utf-8")
        page.add_script_tag(content=f"{script}\nwindow.createPlayer = createPlayer;",
                            type="module")
        page.wait_for_function("window.createPlayer !== undefined")
        state = page.evaluate("""(payload) => {
            const host = document.getElementById('host');
            const first = createPlayer(host, payload);
            first.go(7);
            const current = host.querySelectorAll('.mgb-current').length;
            first.destroy();
            const left = host.querySelectorAll('.mgb-current, .mgb-pending, .mgb-controls').length;
            const second = createPlayer(host, payload, { frame: 2 });
            return { current, left, frame: second.frame, frames: second.frameCount,
                     controls: host.querySelectorAll('.mgb-controls').length,
                     currents: [...host.querySelectorAll('.mgb-current')].map((n) => n.id),
                     missing: second.missing,
                     apple: host.querySelector('[id="a_n0-data"] text').textContent };
        }""", payload)
        assert state["current"] > 0 and state["left"] == 0
        assert state["frame"] == 2 and state["frames"] == len(payload["frames"])
        assert state["controls"] == 1 and state["missing"] == []
        assert state["currents"] == payload["frames"][2]["focus"]
        assert state["apple"] == "data 100"
        with pytest.raises(Exception, match="schema"):
            page.evaluate("() => createPlayer(document.getElementById('host'), {schema: 0})")
    finally:
        context.close()


READ_FOCUS = """(root) => {
  const graph = root.querySelector('.mgb-graph');
  const focus = root.querySelector('.mgb-graph .mgb-current');
  const box = (r) => [r.left, r.top, r.right, r.bottom];
  const g = graph.getBoundingClientRect();
  return {focus: focus && box(focus.getBoundingClientRect()),
          view: [g.left + graph.clientLeft, g.top + graph.clientTop,
                 g.left + graph.clientLeft + graph.clientWidth,
                 g.top + graph.clientTop + graph.clientHeight],
          tall: graph.scrollHeight > graph.clientHeight + 100,
          pageY: window.scrollY};
}"""


def test_a_tall_graph_scrolls_the_current_node_into_view(browser: Any, tmp_path: Path) -> None:
    from microgrboard.nn import MLP

    out = MLP(2, [16, 16, 1], seed=0)([0.87, -0.34])
    player_ = play(out)
    path = player_.save(tmp_path / "tall.html")
    watched = Watched(browser, path.as_uri())
    page = watched.page
    try:
        from playwright.sync_api import expect

        player = page.locator(".mgb-player")
        expect(player).to_have_attribute("data-frame", "0")
        page.locator(".mgb-player button[data-action='zoom']").click()  # full size: taller
        handle = player.element_handle()
        assert page.evaluate(READ_FOCUS, handle)["tall"]  # the graph's box scrolls
        page_y = page.evaluate("() => window.scrollY")
        slider = page.locator(".mgb-slider")
        last = player_.frame_count - 1
        checked = 0
        for frame in [*range(0, last + 1, 23), last, 1, last - 1]:  # far apart, both ways
            slider.fill(str(frame))
            expect(player).to_have_attribute("data-frame", str(frame))
            shown = page.evaluate(READ_FOCUS, handle)
            if shown["focus"] is None:
                continue
            left, top, right, bottom = shown["focus"]
            v_left, v_top, v_right, v_bottom = shown["view"]
            assert v_top <= top and bottom <= v_bottom, (frame, shown)
            assert v_left <= left and right <= v_right, (frame, shown)
            checked += 1
        assert checked >= 15
        assert page.evaluate("() => window.scrollY") == page_y  # the page did not move
        assert watched.problems == []
    finally:
        watched.close()
