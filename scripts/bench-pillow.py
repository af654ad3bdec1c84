#!/usr/bin/env python3
"""The Pillow side of the side-by-side data benchmark (issue 8 §6): one thread, the same shard as
`kiln bench data`, torchvision's ImageNet training transform written out in Pillow + NumPy:

    pil_loader (open + convert RGB) -> RandomResizedCrop(224, scale=(0.08, 1), ratio=(3/4, 4/3), bilinear)
    -> RandomHorizontalFlip -> ToTensor (float32 CHW / 255) -> Normalize(ImageNet mean, std)

All image bytes are read into memory first (as DataBench does), each timed pass follows a warm-up
pass, and rates are given per wall-second and per CPU-second of this process (the latter is what
stays meaningful on a shared machine).

    /usr/bin/python3 scripts/bench-pillow.py /tmp/bench/train-000000.tar [--images 500] [--passes 3]
Needs Debian's python3-pil and python3-numpy (measurement only).
"""
import argparse
import io
import math
import random
import tarfile
import time

import numpy as np
import PIL
from PIL import Image, features

MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)


def load(b):
    img = Image.open(io.BytesIO(b))
    return img.convert("RGB")


def rrc_params(rng, width, height, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision.transforms.RandomResizedCrop.get_params."""
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, height - h), rng.randint(0, width - w), h, w
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        h, w = height, int(round(height * ratio[1]))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def train_transform(b, rng, size=224):
    img = load(b)
    i, j, h, w = rrc_params(rng, *img.size)
    img = img.crop((j, i, j + w, i + h)).resize((size, size), Image.BILINEAR)  # F.resized_crop
    if rng.random() < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    x = np.asarray(img, np.uint8).transpose(2, 0, 1).astype(np.float32) / 255.0  # ToTensor
    x -= MEAN                                                                     # Normalize
    x /= STD
    return x


def decode_only(b, rng):
    img = load(b)
    return img


def timed(fn, images, passes):
    best = None
    for p in range(passes + 1):  # pass 0 is the warm-up
        rng = random.Random(p)
        wall, cpu = time.perf_counter(), time.process_time()
        for b in images:
            fn(b, rng)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if p > 0 and (best is None or cpu < best[1]):
            best = (wall, cpu)
    return len(images) / best[0], len(images) / best[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shard")
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--passes", type=int, default=3)
    a = ap.parse_args()
    images = []
    with tarfile.open(a.shard) as tar:
        for m in tar:
            if m.name.lower().endswith((".jpg", ".jpeg")) and len(images) < a.images:
                images.append(tar.extractfile(m).read())
    sizes = [Image.open(io.BytesIO(b)).size for b in images]
    print(f"{len(images)} images, mean {np.mean([s[0] for s in sizes]):.0f}x{np.mean([s[1] for s in sizes]):.0f}, "
          f"{np.mean([len(b) for b in images]) / 1000:.1f} kB; Pillow {PIL.__version__}, libjpeg-turbo {features.check_feature('libjpeg_turbo')}, "
          f"NumPy {np.__version__}; one thread, best of {a.passes} passes")
    for name, fn in (("decode only (open + convert RGB)", decode_only),
                     ("decode + random-resized-crop 224 + flip + normalise to float32 CHW", train_transform)):
        wall, cpu = timed(fn, images, a.passes)
        print(f"{name}: {wall:.0f} images/s wall, {cpu:.0f} images per CPU-second")


if __name__ == "__main__":
    main()
