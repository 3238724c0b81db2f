"""Regenerate the graph pictures the docs use: ``python docs/make_images.py``.

Writes docs/images/{apple_tax,apple_orange,neuron}_{record,book}.{svg,png} and
docs/images/mlp_network.{svg,png} (the network view of ``MLP(2, [16, 16, 1])`` with
its activations on one input).
"""

from __future__ import annotations

from pathlib import Path

from microgrboard.drawing import Drawing, draw
from microgrboard.examples import apple_orange, apple_tax, neuron
from microgrboard.nn import MLP

IMAGES = Path(__file__).resolve().parent / "images"
EXAMPLES = {"apple_tax": apple_tax, "apple_orange": apple_orange, "neuron": neuron}


def save(picture: Drawing, name: str) -> None:
    for suffix in (".svg", ".png"):
        path = picture.save(IMAGES / f"{name}{suffix}")
        print(f"wrote {path.relative_to(IMAGES.parent.parent)}")


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    for name, build in EXAMPLES.items():
        for style in ("record", "book"):
            save(draw(build().output, style=style), f"{name}_{style}")
    save(draw(MLP(2, [16, 16, 1], seed=1337), x=[0.5, -1.0]), "mlp_network")


if __name__ == "__main__":
    main()
