#!/usr/bin/env python3
"""Deterministic ImageNet-like benchmark JPEGs: 500x375, about 107 kB each (quality 90, 4:2:0).

Writes one WebDataset tar shard (key.jpg + key.cls) that both `kiln bench data` and
scripts/bench-pillow.py read, so both measure the same bytes. Content: a smooth colour field (a few
random low-frequency waves), random soft-edged shapes, and pixel noise (the fine texture that makes
a photo's entropy-coded size); the same seed gives the same bytes.

    /usr/bin/python3 scripts/make-bench-jpegs.py --out /tmp/bench/train-000000.tar --count 200
Needs Pillow and NumPy (Debian: python3-pil python3-numpy); only for measurement, not for the build.
"""
import argparse
import io
import tarfile

import numpy as np
from PIL import Image


def pink(rng, height, width):
    """Unit-variance noise with a 1/f amplitude spectrum (natural images' statistics), float32."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spectrum = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f
    spectrum[0, 0] = 0
    n = np.fft.irfft2(spectrum, s=(height, width))
    return (n / n.std()).astype(np.float32)


def image(rng, width=500, height=375, noise=41.0):
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.zeros((height, width, 3), np.float32)
    for c in range(3):
        field = np.full((height, width), rng.uniform(60, 190), np.float32)
        for _ in range(4):
            fx, fy = rng.uniform(-0.03, 0.03, 2)
            field += rng.uniform(10, 40) * np.sin(fx * x + fy * y + rng.uniform(0, 6.3))
        img[..., c] = field
    for _ in range(12):  # soft-edged ellipses: edges and flat regions, like objects
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        rx, ry = rng.uniform(15, 120), rng.uniform(15, 120)
        d = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
        mask = np.clip((1.0 - d) * 4.0, 0.0, 1.0)[..., None]
        img = img * (1 - mask) + mask * rng.uniform(0, 255, 3).astype(np.float32)
    img += noise * pink(rng, height, width)[..., None]                          # luma texture, 1/f like photos
    img += (noise / 4) * np.stack([pink(rng, height, width) for _ in range(3)], -1)  # a little chroma texture
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="tar shard to write")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quality", type=int, default=90)
    p.add_argument("--classes", type=int, default=10)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    total = 0
    with tarfile.open(a.out, "w", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(a.count):
            buf = io.BytesIO()
            image(rng).save(buf, "JPEG", quality=a.quality, subsampling="4:2:0")
            data = buf.getvalue()
            total += len(data)
            for name, payload in ((f"bench{i:06d}.jpg", data), (f"bench{i:06d}.cls", str(i % a.classes).encode())):
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                info.mtime = 0
                tar.addfile(info, io.BytesIO(payload))
    print(f"{a.count} JPEGs 500x375, mean {total / a.count / 1000:.1f} kB, in {a.out}")


if __name__ == "__main__":
    main()
