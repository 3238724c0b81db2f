"""Hostile labels: whatever text a user puts in a label is drawn literally, never breaks DOT."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pygraphviz
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgrboard import Value
from microgrboard.drawing import draw, html_text
from microgrboard.layout import run_graphviz

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = ['<b>x</b>', "a & b", '"quoted" \'single\'', "a|b {c} [d]", "line1\nline2",
           "\\N \\G \\l", "한글 라벨", "]]> <!-- -->", "&amp; &#60;", "tab\there", "\x00\x1b",
           "\ud800 \ufffe \x85 \u2028 😀", ""]


def texts_of(svg: str, group_id: str) -> list[str]:
    root = ET.fromstring(svg)
    for g in root.iter(f"{SVG}g"):
        if g.get("id") == group_id:
            return [t.text or "" for t in g.iter(f"{SVG}text")]
    raise AssertionError(f"no <g id={group_id!r}> in the SVG")


def graph_labelled(first: str, second: str, product: str) -> Value:
    a, b = Value(2.0, first), Value(3.0, second)
    c = a * b
    c.label = product
    c.backward()
    return c


def check_renders(source: str) -> str:
    pygraphviz.AGraph(string=source)  # valid DOT: raises DotError otherwise
    rendered = run_graphviz(source, "svg", renderer="pygraphviz")
    # What Graphviz printed, e.g. "Error: syntax error in line 1 ... in label"
    # (the bundled fontconfig's complaints about the system's config are left out).
    assert rendered.messages == [], rendered.messages
    svg = rendered.output.decode("utf-8")
    ET.fromstring(svg)  # valid XML
    return svg


def printable(label: str) -> bool:
    """No characters that are drawn as escapes (line breaks are fine)."""
    return not re.search("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]",
                         label)


def assert_shown_literally(svg: str, label: str) -> None:
    shown = texts_of(svg, "n0")
    for line in re.split(r"\r\n|\r|\n", label):
        if line.strip():
            assert any(line.strip() in text for text in shown), (line, shown)


@pytest.mark.parametrize("label", HOSTILE)
@pytest.mark.parametrize("style", ["record", "book"])
def test_known_hostile_labels(label, style):
    svg = check_renders(draw(graph_labelled(label, label, label), style=style).source)
    if printable(label):
        assert_shown_literally(svg, label)


def test_control_characters_are_shown_as_escapes():
    assert html_text("\x00a\x1b\tb\ud800") == r"\\x00a\\x1b\\tb\\ud800"
    assert html_text("a\r\nb\rc") == "a<br/>b<br/>c"


labels = st.text(max_size=24)


@settings(max_examples=25)
@given(first=labels, second=labels, product=labels)
def test_any_label_gives_valid_dot_and_a_render(first, second, product):
    root = graph_labelled(first, second, product)
    for style in ("record", "book"):
        svg = check_renders(draw(root, style=style).source)
        if printable(first):
            assert_shown_literally(svg, first)


@settings(max_examples=10)
@given(scope=st.text(min_size=1, max_size=16))
def test_any_scope_name_gives_valid_dot(scope):
    root = graph_labelled("a", "b", "c")
    source = draw(root, group=lambda node: scope if node["op"] == "" else None).source
    check_renders(source)
    source = draw(root, group=lambda node: scope if node["op"] else None, collapse=False).source
    check_renders(source)
