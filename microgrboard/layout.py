"""Running Graphviz: in a child process, under a time limit, with nothing on stderr.

Every picture is laid out by a separate process, so a layout that runs long is stopped
(:class:`LayoutTimeout`) instead of blocking the caller for minutes, and what Graphviz
prints (``Warning: graph has 6800 nodes...``, the bundled fontconfig's complaints) is
captured instead of reaching the user: :attr:`Rendered.messages` keeps it.

Two renderers:

* ``"dot"``: the system Graphviz programs (``dot``, ``neato``) on PATH;
* ``"pygraphviz"``: the Graphviz libraries bundled in the ``pygraphviz`` wheel, driven
  by a short Python child process (about 60 ms to start). That Graphviz carries an
  older fontconfig than most systems: it gets the package's own minimal fontconfig
  file (``fonts.conf``: the usual font folders, Helvetica and sans-serif mapped to the
  fonts found there) unless the user has set ``FONTCONFIG_FILE`` or
  ``FONTCONFIG_PATH``. (It still parses the system's ``conf.avail`` folder for
  descriptions and may warn about it: that, like all Graphviz output, stays in
  :attr:`Rendered.messages`.)

``"auto"`` picks the system programs when ``dot`` is on PATH, else pygraphviz.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Renderer = Literal["auto", "dot", "pygraphviz"]
# "dot": layered layout; "nop2": positions given in the DOT (``pos``, in points), edges routed.
Program = Literal["dot", "nop2"]
_SYSTEM_COMMAND = {"dot": ["dot"], "nop2": ["neato", "-n2"]}

DEFAULT_TIME_LIMIT = 20.0  # seconds; far above any default drawing (see bench_drawing.py)
FONTCONFIG_FILE = Path(__file__).with_name("fonts.conf")
PNG_DPI = 192  # twice Graphviz's 96: crisp on high-density screens and in slides
# A bitmap's cost grows with its pixels: a big graph at 192 dpi took 15 s to paint. Past
# this size (inches, at PNG_DPI: 7,680 px) Graphviz scales the picture down.
PNG_MAX_INCHES = 40
INSTALL_HINT = (
    "install pygraphviz (`pip install pygraphviz`: its wheels bundle Graphviz) or the "
    "Graphviz programs (https://graphviz.org/download/, e.g. `apt install graphviz`, "
    "`brew install graphviz`)"
)

# The child process that lays out with pygraphviz: DOT on stdin, the picture on stdout.
_PYGRAPHVIZ_CHILD = """\
import sys
try:
    import pygraphviz
except ImportError as error:
    sys.stderr.write(f"pygraphviz is not importable ({error})")
    sys.exit(3)
source = sys.stdin.buffer.read().decode("utf-8")
fmt, prog, args = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    picture = pygraphviz.AGraph(string=source).draw(format=fmt, prog=prog, args=args)
except Exception as error:
    sys.stderr.write(f"{type(error).__name__}: {error}")
    sys.exit(1)
sys.stdout.buffer.write(picture)
"""


class RenderError(RuntimeError):
    """The DOT source could not be turned into a picture (no Graphviz, or it failed)."""


class LayoutTimeout(RenderError):
    """Graphviz did not finish within the time limit; its process was stopped."""

    def __init__(self, seconds: float, renderer: str) -> None:
        super().__init__(f"Graphviz ({renderer}) did not finish the layout within "
                         f"{seconds:g} s; the layout process was stopped")
        self.seconds = seconds


@dataclass(frozen=True)
class Rendered:
    """A picture and what Graphviz said while making it."""

    output: bytes
    messages: list[str]  # Graphviz's stderr lines (fontconfig noise removed)
    renderer: Literal["dot", "pygraphviz"]
    seconds: float  # wall-clock time of the child process


def resolve_renderer(renderer: Renderer) -> Literal["dot", "pygraphviz"]:
    """The renderer ``"auto"`` stands for here; checks the name."""
    if renderer == "auto":
        return "dot" if shutil.which("dot") else "pygraphviz"
    if renderer in ("dot", "pygraphviz"):
        return renderer
    raise ValueError(f"renderer must be 'auto', 'dot' or 'pygraphviz', got {renderer!r}")


def child_environment() -> dict[str, str]:
    """The environment of the bundled Graphviz: ours, plus the package's fontconfig file
    unless the user configured fontconfig themselves."""
    env = dict(os.environ)
    if "FONTCONFIG_FILE" not in env and "FONTCONFIG_PATH" not in env:
        env["FONTCONFIG_FILE"] = str(FONTCONFIG_FILE)
    return env


def run_graphviz(
    source: str,
    format: str,
    *,
    renderer: Renderer = "auto",
    program: Program = "dot",
    args: Sequence[str] = (),
    time_limit: float | None = DEFAULT_TIME_LIMIT,
) -> Rendered:
    """Lay out and render DOT ``source`` to ``format`` (svg, png, pdf) with ``program``.

    ``args`` are extra Graphviz attribute options (``-Gdpi=192``, ``-Nshape=box``). PNG
    output gets ``-Gdpi=192`` (at most 7,680 pixels a side) unless ``args`` set a dpi.
    Raises :class:`LayoutTimeout` past ``time_limit`` seconds (None: no limit) and
    :class:`RenderError` when Graphviz is missing or fails.
    """
    chosen = resolve_renderer(renderer)
    options = list(args)
    if format == "png" and not any(a.startswith("-Gdpi") for a in options):
        options += [f"-Gdpi={PNG_DPI}", f"-Gsize={PNG_MAX_INCHES},{PNG_MAX_INCHES}"]
    if chosen == "dot":
        name, *flags = _SYSTEM_COMMAND[program]
        executable = shutil.which(name)
        if executable is None:
            raise RenderError(f"Graphviz's `{name}` program is not on PATH; {INSTALL_HINT}")
        command = [executable, *flags, f"-T{format}", *options]
        env = None
    else:
        try:
            import pygraphviz  # noqa: F401  (checked here, used by the child process)
        except ImportError as error:
            raise RenderError(
                "cannot draw: no Graphviz `dot` program on PATH and pygraphviz is not "
                f"importable ({error}); {INSTALL_HINT}"
            ) from None
        command = [sys.executable, "-c", _PYGRAPHVIZ_CHILD, format, program, " ".join(options)]
        env = child_environment()
    started = time.perf_counter()
    try:
        done = subprocess.run(command, input=source.encode("utf-8"), capture_output=True,
                              timeout=time_limit, env=env, check=False)
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child
        raise LayoutTimeout(time_limit or 0.0, chosen) from None
    except OSError as error:
        raise RenderError(f"could not start Graphviz ({chosen}): {error}") from error
    seconds = time.perf_counter() - started
    messages = [line for line in done.stderr.decode("utf-8", "replace").splitlines()
                if line.strip() and not line.startswith("Fontconfig")]
    if done.returncode != 0 or not done.stdout:
        detail = "\n".join(messages) or f"exit status {done.returncode}"
        if chosen == "pygraphviz" and done.returncode == 3:
            raise RenderError(f"cannot draw: {detail}; {INSTALL_HINT}")
        raise RenderError(f"Graphviz ({chosen} {program}) could not render {format}: {detail}")
    return Rendered(done.stdout, messages, chosen, seconds)


__all__ = ["DEFAULT_TIME_LIMIT", "LayoutTimeout", "Program", "RenderError", "Rendered", "Renderer",
           "child_environment", "resolve_renderer", "run_graphviz"]
