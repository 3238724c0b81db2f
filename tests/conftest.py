"""Shared test set-up: hypothesis profiles (``ci`` applies when the CI variable is set)."""

import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from typing import IO

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,  # a CI run is reproducible: the same examples every time
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def line_reader() -> Callable[[IO[str], float], Callable[[], str]]:
    """Make a ``readline`` for a child process's output that fails the test past a
    deadline instead of hanging the suite: ``readline = line_reader(p.stdout, 20)``."""

    def make(stream: IO[str], seconds: float) -> Callable[[], str]:
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            for line in stream:
                lines.put(line)
            lines.put("")  # end of output

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + seconds

        def readline() -> str:
            try:
                return lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the child process printed nothing for {seconds} s")

        return readline

    return make


@pytest.fixture
def no_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """A machine with no Graphviz `dot` program: empty PATH, and `which` finds nothing
    (drawing then lays out with the Graphviz bundled in pygraphviz)."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
