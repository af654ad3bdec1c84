#!/usr/bin/env python3
"""The PyTorch side of scripts/bench-vs-pytorch.sh: the same measurements as `kiln bench`.

  bench_pytorch.py model NAME --batch B [--repeat R] [--warmup W] [--profile]
  bench_pytorch.py gemm N [--repeat R]
  bench_pytorch.py conv2d --input NxCxHxW --filter KxCxRxS [--stride S] [--pad P]

Models are torchvision's (the layouts Kiln's zoo follows) except ResNet-20, written here as He et
al. 2015 section 4.2 has it (option A shortcuts), as configs/models/resnet20.yaml does. A training
step is forward, cross-entropy (plus 0.3 x each auxiliary head's for GoogLeNet), zero_grad,
backward and an SGD momentum step, on one random batch; the median of the timed steps after
warm-up is reported. One process per measurement, so the peak resident set (ru_maxrss) is the
measurement's own. Output lines are `key value` pairs the shell script parses.
"""
import argparse
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlockA(nn.Module):
    """CIFAR basic block; shortcut option A: every second pixel, new channels zero."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, cout - cin

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x
        if self.stride != 1 or self.pad:
            s = x[:, :, ::self.stride, ::self.stride]
            s = F.pad(s, (0, 0, 0, 0, 0, self.pad))
        return F.relu(y + s)


class ResNetCifar(nn.Module):
    def __init__(self, n=3, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for width, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                blocks.append(BasicBlockA(cin, width, stride if i == 0 else 1))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build(name):
    """(module, input CxHxW, classes, evaluation parameter count)."""
    import torchvision.models as tvm
    if name == "resnet20":
        m = ResNetCifar(3, 10)
        return m, (3, 32, 32), 10, sum(p.numel() for p in m.parameters())
    if name == "googlenet":
        m = tvm.googlenet(weights=None, aux_logits=True, init_weights=True)
        aux = sum(p.numel() for mod in (m.aux1, m.aux2) for p in mod.parameters())
        return m, (3, 224, 224), 1000, sum(p.numel() for p in m.parameters()) - aux
    ctor = {"alexnet": tvm.alexnet, "resnet18": tvm.resnet18, "resnet50": tvm.resnet50, "vgg16": tvm.vgg16}[name]
    m = ctor(weights=None)
    return m, (3, 224, 224), 1000, sum(p.numel() for p in m.parameters())


def median_ms(fn, warmup, repeat):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # ru_maxrss is KiB on Linux


def model(a):
    torch.manual_seed(1)
    net, shape, classes, params = build(a.name)
    total = sum(p.numel() for p in net.parameters())
    x = torch.randn(a.batch, *shape)
    labels = torch.arange(a.batch) % classes
    opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9)

    def step():
        out = net(x)
        if isinstance(out, tuple):  # GoogLeNetOutputs(logits, aux_logits2, aux_logits1)
            loss = F.cross_entropy(out[0], labels) + 0.3 * (F.cross_entropy(out[1], labels) + F.cross_entropy(out[2], labels))
        else:
            loss = F.cross_entropy(out, labels)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()
        loss.item()

    net.train()
    train = median_ms(step, a.warmup, a.repeat)
    net.eval()

    def infer():
        with torch.no_grad():
            net(x)

    inf = median_ms(infer, a.warmup, a.repeat)
    print(f"model {a.name} batch {a.batch} threads {torch.get_num_threads()} params {params} params_with_aux {total}")
    print(f"train_ms {train:.2f}")
    print(f"train_ips {a.batch * 1000 / train:.2f}")
    print(f"infer_ips {a.batch * 1000 / inf:.2f}")
    print(f"peak_mib {peak_mib():.1f}")
    if a.profile:  # one more training step under torch's profiler: where PyTorch's time goes, per op
        net.train()
        with torch.autograd.profiler.profile(record_shapes=True) as prof:
            step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
        print(prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=30))


def gemm(a):
    n = a.size
    g = torch.Generator().manual_seed(1)
    A = torch.rand(n, n, generator=g) * 2 - 1
    B = torch.rand(n, n, generator=g) * 2 - 1
    C = torch.empty(n, n)
    ms = median_ms(lambda: torch.mm(A, B, out=C), a.warmup, a.repeat)
    print(f"gemm {n} threads {torch.get_num_threads()} ms {ms:.3f}")
    print(f"gflops {2.0 * n ** 3 / ms / 1e6:.1f}")


def conv2d(a):
    N, C, H, W = (int(v) for v in a.input.split("x"))
    K, Cg, R, S = (int(v) for v in a.filter.split("x"))
    g = torch.Generator().manual_seed(1)
    x = torch.rand(N, C, H, W, generator=g) * 2 - 1
    w = (torch.rand(K, Cg, R, S, generator=g) * 2 - 1) * 0.1
    b = torch.zeros(K)
    conv = lambda xx, ww, bb: F.conv2d(xx, ww, bb, stride=a.stride, padding=a.pad)
    with torch.no_grad():
        y = conv(x, w, b)
    P, Q = y.shape[2], y.shape[3]
    flops = 2.0 * N * K * P * Q * Cg * R * S
    dy = torch.rand(y.shape, generator=g) * 2 - 1

    def fwd():
        with torch.no_grad():
            conv(x, w, b)

    # Backward data: only the input needs a gradient (convolution_backward with mask [1, 0, 0]).
    xg = x.clone().requires_grad_(True)
    yd = conv(xg, w, b)
    bwd_data = lambda: torch.autograd.grad(yd, xg, dy, retain_graph=True)
    # Backward weights: weight and bias gradients, the input needs none.
    wg, bg = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
    yw = conv(x, wg, bg)
    bwd_w = lambda: torch.autograd.grad(yw, (wg, bg), dy, retain_graph=True)
    print(f"conv2d input {a.input} filter {a.filter} stride {a.stride} pad {a.pad} output {N}x{K}x{P}x{Q} threads {torch.get_num_threads()}")
    for key, fn in (("forward", fwd), ("backward_data", bwd_data), ("backward_weights", bwd_w)):
        ms = median_ms(fn, a.warmup, a.repeat)
        print(f"{key}_gflops {flops / ms / 1e6:.1f}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="target", required=True)
    for s in (sub.add_parser("model"), sub.add_parser("gemm"), sub.add_parser("conv2d")):
        s.add_argument("--repeat", type=int, default=10)
        s.add_argument("--warmup", type=int, default=2)
        s.add_argument("--threads", type=int, default=2)
    sub.choices["model"].add_argument("name", choices=["resnet20", "alexnet", "resnet18", "googlenet", "resnet50", "vgg16"])
    sub.choices["model"].add_argument("--batch", type=int, required=True)
    sub.choices["model"].add_argument("--profile", action="store_true", help="also print torch's per-op profile of one training step")
    sub.choices["gemm"].add_argument("size", type=int)
    sub.choices["conv2d"].add_argument("--input", required=True)
    sub.choices["conv2d"].add_argument("--filter", required=True)
    sub.choices["conv2d"].add_argument("--stride", type=int, default=1)
    sub.choices["conv2d"].add_argument("--pad", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    {"model": model, "gemm": gemm, "conv2d": conv2d}[a.target](a)


if __name__ == "__main__":
    sys.exit(main())
