"""The console script: --version, --help, and the demo's printed examples."""

import subprocess
import sys
from pathlib import Path

import pytest

from microgrboard import __version__
from microgrboard.cli import main


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"microgrboard {__version__}"


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("demo", "draw", "board"):
        assert command in out


def test_demo_prints_the_books_numbers(capsys, tmp_path):
    assert main(["demo", "--examples-only", "--out", str(tmp_path), "--logdir",
                 str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "apple-tax: output = 220" in out
    assert "d output/d apple = 2.2" in out
    assert "d output/d tax = 200" in out
    assert "apple-orange: output = 715" in out
    assert "d output/d tax = 650" in out


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "microgrboard", "--version"],
                            capture_output=True, text=True, check=True)
    assert __version__ in result.stdout


def test_the_printed_board_command_works_from_where_the_demo_was_started(monkeypatch):
    from microgrboard.demo import board_command

    monkeypatch.setattr(sys, "argv", [".venv/bin/microgrboard", "demo"])
    monkeypatch.setattr("shutil.which", lambda name: None)  # not on PATH
    assert board_command("runs") == ".venv/bin/microgrboard board --logdir runs"
    monkeypatch.setattr("shutil.which", lambda name: str(Path(".venv/bin/microgrboard").absolute()))
    assert board_command("runs") == "microgrboard board --logdir runs"
    monkeypatch.setattr(sys, "argv", ["-m"])  # python -m microgrboard
    assert board_command("my runs").endswith("-m microgrboard board --logdir 'my runs'")
