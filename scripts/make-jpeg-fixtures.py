#!/usr/bin/env python3
"""Writes the JPEG fixtures in Tests/Data/Fixtures/ (committed; the tests never run this).

  baseline.jpg     64x48 photo-like image, cjpeg -quality 90 (baseline Huffman, 4:2:0)
  progressive.jpg  jpegtran -progressive baseline.jpg   (same DCT coefficients, so the same pixels)
  arithmetic.jpg   jpegtran -arithmetic baseline.jpg    (same DCT coefficients, arithmetic-coded)
  exif-rotated.jpg baseline.jpg with an EXIF Orientation of 6 ("rotate 90 CW to display"), by exiftool
  12bit.jpg        32x32 grey, 12-bit samples (SOF1), written below by hand: flat 8x8 blocks, DC only

Needs python3, libjpeg-turbo's tools and exiftool (Debian: apt-get install libjpeg-turbo-progs
libimage-exiftool-perl); no Python packages. libjpeg-turbo 2.1's tools cannot write 12-bit JPEGs, so this script encodes that one itself,
and checks its encoder first by writing the same blocks with 8-bit precision and decoding them with djpeg.
Run from the repository root: python3 scripts/make-jpeg-fixtures.py
"""
import math
import os
import subprocess
import sys
import tempfile

OUT = os.path.join("Tests", "Data", "Fixtures")


def photo_like_ppm(width=64, height=48):
    """Colour waves, a hard-edged disc and deterministic noise, as binary PPM."""
    seed = 12345
    rows = bytearray()
    for y in range(height):
        for x in range(width):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            n = ((seed >> 16) & 0xFF) / 16.0 - 8
            disc = (x - 40) ** 2 + (y - 20) ** 2 < 14 ** 2
            r = 220 if disc else 128 + 80 * math.sin(0.15 * x + 1)
            g = 40 if disc else 128 + 80 * math.cos(0.2 * y)
            b = 128 + 60 * math.sin(0.1 * x + 0.13 * y)
            rows += bytes(max(0, min(255, int(v + n))) for v in (r, g, b))
    return b"P6\n%d %d\n255\n" % (width, height) + bytes(rows)


def block_values(bits, bw=4, bh=4):
    """One grey level per 8x8 block; the 12-bit levels are the 8-bit ones times 16 (plus 8)."""
    v8 = [[(37 * bx + 53 * by + 20) % 256 for bx in range(bw)] for by in range(bh)]
    return v8 if bits == 8 else [[v * 16 + 8 for v in row] for row in v8]


def flat_jpeg(values, bits):
    """A one-component JPEG of flat 8x8 blocks (DC only) with the given sample precision (SOF0 for 8, SOF1 for 12)."""
    bh, bw = len(values), len(values[0])
    out = bytearray(b"\xff\xd8")
    out += b"\xff\xdb\x00\x43\x00" + bytes([8] * 64)          # DQT 0: all 8, so a quantised DC is the level-shifted sample
    sof = 0xC0 if bits == 8 else 0xC1
    out += bytes([0xFF, sof, 0, 11, bits, 0, 8 * bh, 0, 8 * bw, 1, 1, 0x11, 0])
    # DC table: categories 0..15 (12-bit samples need up to 12, more than the standard table's 11),
    # 14 codes of 4 bits and 2 of 5 (a code of all ones is not allowed); AC table: EOB only, code "0".
    counts = [0, 0, 0, 14, 2] + [0] * 11
    out += bytes([0xFF, 0xC4, 0, 3 + 16 + 16, 0x00]) + bytes(counts) + bytes(range(16))
    out += bytes([0xFF, 0xC4, 0, 3 + 16 + 1, 0x10, 1] + [0] * 15 + [0])
    out += bytes([0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 63, 0])
    codes = [(c, 4) for c in range(14)] + [(28, 5), (29, 5)]
    acc, n = 0, 0
    data = bytearray()

    def put(value, length):
        nonlocal acc, n
        for i in range(length - 1, -1, -1):
            acc = (acc << 1) | ((value >> i) & 1)
            n += 1
            if n == 8:
                data.append(acc)
                if acc == 0xFF:
                    data.append(0)                         # byte stuffing
                acc, n = 0, 0

    previous = 0
    for row in values:
        for v in row:
            dc = v - (1 << (bits - 1))
            diff, previous = dc - previous, dc
            cat = abs(diff).bit_length()
            put(*codes[cat])
            if cat:
                put(diff if diff > 0 else diff + (1 << cat) - 1, cat)
            put(0, 1)                                      # EOB
    while n:
        put(1, 1)                                          # pad with ones
    return bytes(out + data + b"\xff\xd9")


def run(*args, stdin=None):
    return subprocess.run(args, input=stdin, check=True, capture_output=True).stdout


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ppm = os.path.join(tmp, "photo.ppm")
        with open(ppm, "wb") as f:
            f.write(photo_like_ppm())
        baseline = os.path.join(OUT, "baseline.jpg")
        with open(baseline, "wb") as f:
            f.write(run("cjpeg", "-quality", "90", ppm))
        for name, flag in (("progressive.jpg", "-progressive"), ("arithmetic.jpg", "-arithmetic")):
            with open(os.path.join(OUT, name), "wb") as f:
                f.write(run("jpegtran", "-copy", "none", flag, baseline))
        rotated = os.path.join(OUT, "exif-rotated.jpg")
        if os.path.exists(rotated):
            os.remove(rotated)
        run("exiftool", "-q", "-Orientation#=6", "-o", rotated, baseline)

    # Check the hand encoder with 8-bit samples, which djpeg can decode.
    v8 = block_values(8)
    pgm = run("djpeg", "-pnm", stdin=flat_jpeg(v8, 8))
    pixels = pgm[pgm.index(b"255\n") + 4:]
    for y in range(32):
        for x in range(32):
            if pixels[32 * y + x] != v8[y // 8][x // 8]:
                sys.exit(f"hand-written 8-bit JPEG decodes to {pixels[32 * y + x]} at ({x}, {y}), wanted {v8[y // 8][x // 8]}")
    with open(os.path.join(OUT, "12bit.jpg"), "wb") as f:
        f.write(flat_jpeg(block_values(12), 12))
    for name in sorted(os.listdir(OUT)):
        print(f"{os.path.join(OUT, name)}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
