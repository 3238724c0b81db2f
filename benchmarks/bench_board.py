"""The board at scale, side by side with TensorBoard on the same generated data.

Targets (issue 10):

- a 200,000-step run's curves: at most 0.3 s and 300 KB; a 1,000,000-step run: no
  slower than TensorBoard's;
- ``/api/runs`` at most 20 ms with 200 runs, however long they are;
- the page with 200 runs x 1,000 steps ready (charts drawn) in at most 3 s;
- an idle open page at most 1% of a core (the server's CPU over ~20 s);
- logging cost per step (4 scalars) no worse than 134 µs.

Both servers run as their own processes (``microgrboard board``, ``tensorboard``) and are
asked over HTTP the same way; TensorBoard's data are written with its own record
writer (no TensorFlow needed). TensorBoard's columns are printed when the
``tensorboard`` package is installed (the ``bench`` extra); the page is measured in
Debian's Chromium through Playwright when both are there.

    .venv/bin/python benchmarks/bench_board.py           # full sizes (a few minutes)
    .venv/bin/python benchmarks/bench_board.py --quick   # small sizes, no peer (smoke test)
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from microgrboard.board.writer import Run

CHROMIUM = "/usr/bin/chromium"


@dataclass
class Sizes:
    long: int        # the "200,000-step run"
    longest: int     # the "1,000,000-step run"
    runs: int        # the sweep: this many runs ...
    steps: int       # ... of this many steps
    idle_seconds: float
    repeats: int


FULL = Sizes(long=200_000, longest=1_000_000, runs=200, steps=1_000, idle_seconds=20, repeats=5)
QUICK = Sizes(long=5_000, longest=20_000, runs=20, steps=50, idle_seconds=2, repeats=3)


def loss_at(step: int) -> float:
    # A decaying curve with noise-like wiggle and one spike: what a training run logs.
    spike = 5.0 if step % 99_991 == 7 else 0.0
    return 1.0 / (1.0 + step / 1000) + 0.01 * math.sin(step * 0.7) + spike


# --------------------------------------------------------------------------- data


def write_ours(logdir: Path, sizes: Sizes) -> float:
    """Our log directories (``long``: the two long runs; ``sweep``: the many runs);
    returns seconds per ``Run.log`` call of 4 scalars."""
    sweep, logdir = logdir / "sweep", logdir / "long"
    with Run(logdir, name="long") as run:
        for step in range(sizes.long):
            run.log(step, loss=loss_at(step))
    with Run(logdir, name="longest") as run:
        for step in range(sizes.longest):
            run.log(step, loss=loss_at(step))
    per_step = []
    for i in range(sizes.runs):
        with Run(sweep, name=f"sweep-{i:03d}", hparams={"lr": 0.001 * (i + 1), "seed": i}) as run:
            start = time.perf_counter()
            for step in range(sizes.steps):
                value = loss_at(step) * (1 + i / sizes.runs)
                run.log(step, loss=value, accuracy=1 - value / 2, lr=0.001 * (i + 1),
                        grad_norm=value)
            per_step.append((time.perf_counter() - start) / sizes.steps)
    return statistics.median(per_step)


def write_tensorboard(logdir: Path, sizes: Sizes) -> float:
    """The same runs as TensorBoard event files, in the same two directories; returns
    seconds per step of 4 scalars."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.summary.writer.record_writer import RecordWriter

    def event(step: int, **values: float) -> bytes:
        summary = Summary(value=[Summary.Value(tag=t, simple_value=v) for t, v in values.items()])
        return Event(wall_time=1.7e9 + step, step=step, summary=summary).SerializeToString()  # type: ignore[no-any-return]

    for name, steps in (("long", sizes.long), ("longest", sizes.longest)):
        (logdir / "long" / name).mkdir(parents=True)
        with open(logdir / "long" / name / "events.out.tfevents.1700000000.bench", "wb") as f:
            writer = RecordWriter(f)
            writer.write(Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
            for step in range(steps):
                writer.write(event(step, loss=loss_at(step)))
    per_step = []
    for i in range(sizes.runs):
        # The sweep through TensorBoard's own event writer, as a training script uses it.
        files = EventFileWriter(str(logdir / "sweep" / f"sweep-{i:03d}"))
        start = time.perf_counter()
        for step in range(sizes.steps):
            value = loss_at(step) * (1 + i / sizes.runs)
            files.add_event(Event(wall_time=time.time(), step=step, summary=Summary(value=[
                Summary.Value(tag=t, simple_value=v) for t, v in
                (("loss", value), ("accuracy", 1 - value / 2), ("lr", 0.001 * (i + 1)),
                 ("grad_norm", value))])))
        files.flush()
        per_step.append((time.perf_counter() - start) / sizes.steps)
        files.close()
    return statistics.median(per_step)


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    def get(self, path: str) -> bytes:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
            return body
        finally:
            connection.close()

    def timed(self, path: str, repeats: int) -> tuple[float, float, int]:
        """Seconds of the first request (nothing cached yet), the median of ``repeats``
        more (what the server keeps between requests helps), and the bytes."""
        start = time.perf_counter()
        body = self.get(path)
        first = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            body = self.get(path)
            times.append(time.perf_counter() - start)
        return first, statistics.median(times), len(body)

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(command: list[str], port: int, ready: Callable[[Server], bool]) -> Iterator[Server]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(process, port)
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {process.returncode}")
            try:
                if ready(server):
                    break
            except (OSError, RuntimeError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(command)} did not get ready")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        process.wait(10)


def serve_ours(logdir: Path) -> AbstractContextManager[Server]:
    port = free_port()
    command = [sys.executable, "-m", "microgrboard", "board", "--logdir", str(logdir),
               "--port", str(port)]
    return serve(command, port, lambda s: bool(s.get("/api/runs")))


def serve_tensorboard(logdir: Path, runs: dict[str, int]) -> AbstractContextManager[Server]:
    """TensorBoard over ``logdir``, once it has read each of ``runs`` to its last step."""
    port = free_port()
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir),
               "--host", "127.0.0.1", "--port", str(port)]

    def loaded(server: Server) -> bool:
        for run, steps in runs.items():
            points = json.loads(server.get(f"/data/plugin/scalars/scalars?run={run}&tag=loss"))
            if not points or points[-1][1] != steps - 1:
                return False
        return True

    return serve(command, port, loaded)


# --------------------------------------------------------------------------- page


def charts_drawn(runs: int) -> str:
    """A predicate: every chart drawn with a line per run, and no panel loading."""
    return (f"() => {{ const charts = document.querySelectorAll('#scalars .chart');"
            f" return charts.length > 0 && [...charts].every((c) => "
            f"c.querySelectorAll('.scatterlayer .trace').length >= {runs})"
            f" && document.body.dataset.pending === '0'; }}")


def page_ready_seconds(url: str, runs: int) -> tuple[float, float] | None:
    """Seconds from navigation to every chart drawn with a line per run (Playwright):
    the first load (a fresh server and browser) and a reload."""
    if not Path(CHROMIUM).exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            drawn = charts_drawn(runs)
            seconds = []
            for _ in range(2):
                start = time.perf_counter()
                page.goto(url)
                while not page.evaluate(drawn):
                    if time.perf_counter() - start > 60:
                        raise RuntimeError("the page did not draw its charts within 60 s")
                    page.wait_for_timeout(20)
                seconds.append(time.perf_counter() - start)
                page.wait_for_timeout(500)
            return seconds[0], seconds[1]
        finally:
            browser.close()


def idle_cpu(server: Server, url: str | None, seconds: float,
             settled: str | None = None) -> float:
    """The server's CPU over ``seconds`` while a page (if any) sits open on it, as a
    fraction of one core, once the page is ``settled`` (a JavaScript predicate)."""
    def measure() -> float:
        before = server.cpu_seconds()
        time.sleep(seconds)
        return (server.cpu_seconds() - before) / seconds

    if url is None or not Path(CHROMIUM).exists():
        return measure()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            if settled is not None:
                deadline = time.monotonic() + 120
                while not page.evaluate(settled) and time.monotonic() < deadline:
                    page.wait_for_timeout(100)
            page.wait_for_timeout(3000)  # loaded and drawn: from now on nothing is new
            return measure()
        finally:
            browser.close()


# --------------------------------------------------------------------------- report


def row(what: str, ours: str, peer: str, target: str) -> None:
    print(f"{what:<44} {ours:>16} {peer:>16}   {target}")


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def kb(size: int) -> str:
    return f"{size / 1e3:.1f} KB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, no TensorBoard, no browser: a smoke run")
    parser.add_argument("--no-browser", action="store_true", help="skip the page measures")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    browser = not (args.quick or args.no_browser)
    try:
        import tensorboard  # noqa: F401
        peer = not args.quick
    except ImportError:
        peer = False

    with tempfile.TemporaryDirectory() as tmp:
        ours_dir, tb_dir = Path(tmp) / "ours", Path(tmp) / "tensorboard"
        start = time.perf_counter()
        log_ours = write_ours(ours_dir, sizes)
        log_tb = write_tensorboard(tb_dir, sizes) if peer else None
        print(f"data: runs of {sizes.long:,} and {sizes.longest:,} steps, and {sizes.runs} runs "
              f"x {sizes.steps:,} steps x 4 scalars "
              f"(written in {time.perf_counter() - start:.0f} s)")
        print()
        row("what", "microgrboard", "TensorBoard" if peer else "(no peer)", "target")
        row("logging, one step of 4 scalars", f"{log_ours * 1e6:.1f} µs",
            f"{log_tb * 1e6:.1f} µs" if log_tb else "—", "≤ 134 µs")

        results: dict[str, tuple[float, float, int]] = {}
        with serve_ours(ours_dir / "long") as ours:
            for name in ("long", "longest"):
                results[f"ours {name}"] = ours.timed(f"/api/scalars?run={name}", sizes.repeats)
        with serve_ours(ours_dir / "sweep") as ours:
            results["ours runs"] = ours.timed("/api/runs", sizes.repeats * 4)
            url = f"http://127.0.0.1:{ours.port}/"
            ready = page_ready_seconds(url, sizes.runs) if browser else None
            ours_idle = idle_cpu(ours, url if browser else None, sizes.idle_seconds,
                                 charts_drawn(sizes.runs))
        tb_idle = None
        if peer:
            longs = {"long": sizes.long, "longest": sizes.longest}
            with serve_tensorboard(tb_dir / "long", longs) as tb:
                for name in ("long", "longest"):
                    results[f"tb {name}"] = tb.timed(
                        f"/data/plugin/scalars/scalars?run={quote(name)}&tag=loss", sizes.repeats)
            last = {f"sweep-{sizes.runs - 1:03d}": sizes.steps}
            with serve_tensorboard(tb_dir / "sweep", last) as tb:
                results["tb runs"] = tb.timed("/data/runs", sizes.repeats * 4)
                tb_idle = idle_cpu(tb, f"http://127.0.0.1:{tb.port}/" if browser else None,
                                   sizes.idle_seconds)

        def both(key: str, show: Callable[[tuple[float, float, int]], str]) -> tuple[str, str]:
            theirs = results.get(f"tb {key}")
            return show(results[f"ours {key}"]), show(theirs) if theirs else "—"

        for name, steps in (("long", sizes.long), ("longest", sizes.longest)):
            target = "≤ 300 ms" if name == "long" else "≤ TensorBoard's"
            row(f"curves of a {steps:,}-step run: first request",
                *both(name, lambda r: ms(r[0])), target)
            row(f"curves of a {steps:,}-step run: repeated", *both(name, lambda r: ms(r[1])),
                target)
            row(f"curves of a {steps:,}-step run: size", *both(name, lambda r: kb(r[2])),
                "≤ 300 KB" if name == "long" else "")
        row(f"run list, {sizes.runs} runs x {sizes.steps:,} steps",
            *both("runs", lambda r: ms(r[1])), "≤ 20 ms")
        for index, when in enumerate(("first load", "reload")):
            row(f"page ready, {sizes.runs} runs x {sizes.steps:,} steps, {when}",
                f"{ready[index]:.2f} s" if ready is not None else "—", "—",
                "≤ 3 s (charts drawn)")
        idle = "open page" if browser else "server"
        row(f"idle {idle}: server CPU over {sizes.idle_seconds:g} s",
            f"{ours_idle:.2%}", f"{tb_idle:.2%}" if tb_idle is not None else "—",
            "≤ 1% of a core")
        if peer:
            for index, when in enumerate(("first request", "repeated")):
                ratio = results["tb longest"][index] / results["ours longest"][index]
                print(f"ratio {sizes.longest:,}-step curves, {when}: {ratio:.2f}x "
                      f"TensorBoard's speed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
