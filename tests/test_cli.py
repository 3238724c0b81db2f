"""The console script: --version, --help, draw, play, and the demo's examples and files."""

import argparse
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from microgrboard import __version__
from microgrboard.cli import build_parser, main

SVG = "{http://www.w3.org/2000/svg}"


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"microgrboard {__version__}"


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("demo", "draw", "play", "board"):
        assert command in out


def test_every_argument_has_a_help_text():
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) >= {"demo", "draw", "play", "board"}
    for name, command in commands.choices.items():
        for action in command._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, f"{name} {action.dest} has no help text"


def test_demo_prints_the_books_numbers(capsys, tmp_path, no_dot):
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


# --- draw and play ---------------------------------------------------------------------


def test_draw_writes_each_style(tmp_path, no_dot, capsys):
    target = tmp_path / "apple_tax.svg"
    assert main(["draw", "apple-tax", "-o", str(target)]) == 0
    groups = ET.fromstring(target.read_text(encoding="utf-8")).iter(f"{SVG}g")
    texts = {g.get("id"): " ".join(t.text or "" for t in g.iter(f"{SVG}text")) for g in groups}
    assert texts["a_n0-grad"] == "grad 2.2"
    dot_file = tmp_path / "book.dot"
    assert main(["draw", "apple-orange", "-o", str(dot_file), "--style", "book",
                 "--no-grad"]) == 0
    assert "-grad" not in dot_file.read_text(encoding="utf-8")
    assert "715" in dot_file.read_text(encoding="utf-8")
    assert f"wrote {dot_file}" in capsys.readouterr().out


def test_draw_step_shows_the_backward_pass_so_far(tmp_path):
    steps = []
    for k in (0, 2, 4):
        target = tmp_path / f"step{k}.dot"
        assert main(["draw", "apple-tax", "-o", str(target), "--step", str(k)]) == 0
        steps.append(target.read_text(encoding="utf-8").count("grad ?"))
    assert steps == [2, 0, 0]  # apple and apple_count wait until apple_price's step (2)
    assert "#ffd966" in (tmp_path / "step2.dot").read_text(encoding="utf-8")


def test_draw_refuses_a_step_past_the_end_and_a_bad_suffix(tmp_path, capsys):
    assert main(["draw", "apple-tax", "-o", str(tmp_path / "x.svg"), "--step", "9"]) == 2
    assert "step must be in 0..4, got 9" in capsys.readouterr().err
    assert main(["draw", "neuron", "-o", str(tmp_path / "x.jpg")]) == 2
    assert "unsupported suffix '.jpg'" in capsys.readouterr().err
    assert not (tmp_path / "x.jpg").exists() and not (tmp_path / "x.svg").exists()


def test_play_writes_a_self_contained_page(tmp_path, capsys):
    target = tmp_path / "graph.html"
    assert main(["play", "apple-orange", "-o", str(target), "--style", "book"]) == 0
    page = target.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "715" in page and "orange_price" in page
    assert not re.search(r"""(src|href)=["']https?://""", page)  # nothing from the network
    assert main(["play", "apple-tax", "-o", str(tmp_path / "graph.txt")]) == 2
    assert ".html" in capsys.readouterr().err


def test_demo_writes_pictures_and_a_player_into_a_new_folder_each_run(tmp_path, no_dot):
    for _ in range(2):
        assert main(["demo", "--examples-only", "--out", str(tmp_path / "out")]) == 0
    runs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert runs == ["001", "002"]
    for run in runs:
        files = sorted(p.name for p in (tmp_path / "out" / run).iterdir())
        assert files == ["apple-orange_book.png", "apple-orange_player.html",
                         "apple-orange_record.png", "apple-tax_book.png", "apple-tax_record.png"]
    png = (tmp_path / "out" / "002" / "apple-tax_record.png").read_bytes()
    assert struct.unpack(">II", png[16:24])[0] >= 900


def test_draw_step_with_no_grad_names_both_flags(tmp_path, capsys):
    target = tmp_path / "x.svg"
    assert main(["draw", "apple-tax", "-o", str(target), "--step", "2", "--no-grad"]) == 2
    err = capsys.readouterr().err
    assert "--step 2" in err and "--no-grad" in err
    assert not target.exists()
