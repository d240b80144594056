"""Draw the browser tab's icon, assets/icon.png: three lines of text and a pencil, in the theme's violet.

Shipped as a file because Streamlit fetches a Material icon favicon from a font server on the
internet, and a workshop room often has none. Run `python assets/make_icon.py` to redraw it.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

SIZE = 64        # pixels a side
SCALE = 4        # drawn at 4x and averaged down: smooth edges without a drawing library
VIOLET = (0x7B, 0x4B, 0xD6)


def coverage(size: int = SIZE, scale: int = SCALE) -> tuple[np.ndarray, np.ndarray]:
    """(background, ink) coverage in [0, 1], each (size, size)."""
    n = size * scale
    y, x = (np.mgrid[0:n, 0:n] + 0.5) / scale              # pixel centres in icon units, (n, n)
    # A rounded square, corner radius 14.
    r, lo, hi = 14.0, 0.0, float(size)
    cx, cy = np.clip(x, lo + r, hi - r), np.clip(y, lo + r, hi - r)
    back = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    # Three lines of text, shorter as they go down.
    ink = np.zeros_like(back)
    for top, right in ((17, 42), (27, 36), (37, 26)):
        ink |= (y >= top) & (y < top + 4) & (x >= 12) & (x < right)
    # A pencil from its end (55, 25) to its point (29, 53), tapering over its last quarter.
    a, b = np.array([55.0, 25.0]), np.array([29.0, 53.0])
    d = b - a
    t = ((x - a[0]) * d[0] + (y - a[1]) * d[1]) / (d @ d)
    dist = np.abs((x - a[0]) * d[1] - (y - a[1]) * d[0]) / np.sqrt(d @ d)
    half = np.where(t < 0.72, 4.0, 4.0 * (1 - t) / 0.28)
    pencil = (t >= 0) & (t <= 1) & (dist <= half)
    band = (t > 0.16) & (t < 0.21)                          # the gap between the eraser and the body
    ink |= pencil & ~band
    pool = lambda m: m.reshape(size, scale, size, scale).mean(axis=(1, 3))  # noqa: E731
    return pool(back.astype(float)), pool((ink & back).astype(float))


def rgba(size: int = SIZE) -> np.ndarray:
    back, ink = coverage(size)
    img = np.zeros((size, size, 4))
    img[..., :3] = np.array(VIOLET) * (1 - ink[..., None]) + 255 * ink[..., None]
    img[..., 3] = 255 * back
    return np.round(img).astype(np.uint8)                   # (size, size, 4)


def png_bytes(img: np.ndarray) -> bytes:
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[row].tobytes() for row in range(h))   # filter type 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)    # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "icon.png"
    out.write_bytes(png_bytes(rgba()))
    print(out)
