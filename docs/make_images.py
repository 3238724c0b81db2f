"""Regenerate the graph pictures the docs use: ``python docs/make_images.py``.

Writes docs/images/{apple_tax,apple_orange}_{record,book}.{svg,png}.
"""

from __future__ import annotations

from pathlib import Path

from microgrboard.drawing import draw
from microgrboard.examples import apple_orange, apple_tax

IMAGES = Path(__file__).resolve().parent / "images"
EXAMPLES = {"apple_tax": apple_tax, "apple_orange": apple_orange}


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    for name, build in EXAMPLES.items():
        for style in ("record", "book"):
            picture = draw(build().output, style=style)
            for suffix in (".svg", ".png"):
                path = picture.save(IMAGES / f"{name}_{style}{suffix}")
                print(f"wrote {path.relative_to(IMAGES.parent.parent)}")


if __name__ == "__main__":
    main()
