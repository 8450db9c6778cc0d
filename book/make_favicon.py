"""Write favicon.ico, the raster twin of favicon.svg (three joined cells: an RNN unrolled).

Browsers ask for /favicon.ico on pages that name no icon, such as the site's redirecting
index.html; without the file every such visit logs a 404. Usage: python make_favicon.py OUT.
"""

import sys

from PIL import Image, ImageDraw

BLUE = (0x34, 0x65, 0xA4, 255)


def draw(size: int = 64) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    scale = size / 64  # favicon.svg's viewBox is 64 × 64
    for x1, x2 in ((18, 24), (40, 46)):
        pen.line(
            [(x1 * scale, 32 * scale), (x2 * scale, 32 * scale)],
            fill=BLUE,
            width=max(1, round(4 * scale)),
        )
    for cx in (10, 32, 54):
        pen.ellipse([(cx - 8) * scale, 24 * scale, (cx + 8) * scale, 40 * scale], fill=BLUE)
    return image


if __name__ == "__main__":
    draw().save(sys.argv[1], format="ICO", sizes=[(16, 16), (32, 32), (48, 48)])
