"""Draw Curfew's two Teams icons with the standard library alone and write them as PNG files.

    python -m manifest.make_icons [FOLDER]      (default: manifest/)

color.png    192x192, a crescent moon and stars on the night-blue accent color (full bleed: Teams rounds
             the corners itself)
outline.png  32x32, the same moon and one star in white on a transparent background, as Teams requires

Shapes are tests on unit coordinates (0..1 on both axes, y downwards); every pixel averages a grid of
samples, so edges are smooth. Outline pixels are pure white whose alpha carries the coverage.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

Rgba = tuple[int, int, int, int]
Inside = Callable[[float, float], bool]
Layer = tuple[Inside, Rgba]

ACCENT = "#2E3A87"
NIGHT_TOP: Rgba = (0x1E, 0x25, 0x5C, 255)
NIGHT_BOTTOM: Rgba = (0x2E, 0x3A, 0x87, 255)
MOON: Rgba = (0xFF, 0xD6, 0x6B, 255)
STAR: Rgba = (0xFF, 0xF4, 0xD0, 255)
WHITE: Rgba = (255, 255, 255, 255)
CLEAR: Rgba = (0, 0, 0, 0)


def disc(cx: float, cy: float, r: float) -> Inside:
    return lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def crescent(cx: float, cy: float, r: float, bite: float) -> Inside:
    """A disc with a smaller disc bitten out of its upper right: a waxing crescent."""
    outer = disc(cx, cy, r)
    inner = disc(cx + 0.42 * r, cy - 0.36 * r, bite * r)
    return lambda x, y: outer(x, y) and not inner(x, y)


def sparkle(cx: float, cy: float, r: float) -> Inside:
    """A four-pointed star: |dx|^0.5 + |dy|^0.5 <= r^0.5 (an astroid)."""
    root = math.sqrt(r)
    return lambda x, y: math.sqrt(abs(x - cx)) + math.sqrt(abs(y - cy)) <= root


def render(
    size: int, layers: Sequence[Layer], background: Callable[[float], Rgba], samples: int = 4
) -> list[list[Rgba]]:
    """Rows of RGBA pixels; later layers paint over earlier ones, `background(y)` under all."""
    rows: list[list[Rgba]] = []
    step = 1.0 / (size * samples)
    for py in range(size):
        row: list[Rgba] = []
        for px in range(size):
            sums = [0.0, 0.0, 0.0, 0.0]  # premultiplied r, g, b and alpha
            for sy in range(samples):
                y = (py * samples + sy + 0.5) * step
                for sx in range(samples):
                    x = (px * samples + sx + 0.5) * step
                    color = background(y)
                    for inside, paint in layers:
                        if inside(x, y):
                            color = paint
                    alpha = color[3] / 255
                    sums[0] += color[0] * alpha
                    sums[1] += color[1] * alpha
                    sums[2] += color[2] * alpha
                    sums[3] += alpha
            row.append(_unpremultiply(sums, samples * samples))
        rows.append(row)
    return rows


def _unpremultiply(sums: list[float], count: int) -> Rgba:
    if sums[3] == 0:
        return CLEAR
    r, g, b = (min(255, round(channel / sums[3])) for channel in sums[:3])
    return (r, g, b, round(255 * sums[3] / count))


def night_sky(y: float) -> Rgba:
    top, bottom = NIGHT_TOP, NIGHT_BOTTOM
    return (
        round(top[0] + (bottom[0] - top[0]) * y),
        round(top[1] + (bottom[1] - top[1]) * y),
        round(top[2] + (bottom[2] - top[2]) * y),
        255,
    )


def color_icon() -> list[list[Rgba]]:
    """192x192: the symbol sits inside the central area Teams keeps clear of its rounded corners."""
    layers: list[Layer] = [
        (crescent(0.46, 0.54, 0.25, 0.86), MOON),
        (sparkle(0.70, 0.30, 0.085), STAR),
        (sparkle(0.76, 0.56, 0.05), STAR),
        (sparkle(0.30, 0.24, 0.04), STAR),
    ]
    return render(192, layers, night_sky)


def outline_icon() -> list[list[Rgba]]:
    """32x32, white on transparent: a bolder crescent and one star, legible at that size."""
    layers: list[Layer] = [
        (crescent(0.44, 0.56, 0.36, 0.80), WHITE),
        (sparkle(0.76, 0.24, 0.18), WHITE),
    ]
    return render(32, layers, lambda _y: CLEAR, samples=8)


def png_bytes(rows: Sequence[Sequence[Rgba]]) -> bytes:
    """An 8-bit RGBA, non-interlaced PNG; every scanline uses filter type 0 (None)."""
    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(channel for pixel in row for channel in pixel) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def write_icons(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    color, outline = folder / "color.png", folder / "outline.png"
    color.write_bytes(png_bytes(color_icon()))
    outline.write_bytes(png_bytes(outline_icon()))
    return color, outline


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    for path in write_icons(target):
        sys.stdout.write(f"wrote {path}\n")
