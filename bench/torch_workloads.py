#!/usr/bin/env python3
"""bench/torch_workloads.py — the reference workloads W1–W4 in PyTorch, for the side-by-side
comparison that bench/compare.sh drives. Prints one JSON line per run:
  {"workload": "W1", "median_s": ..., "min_s": ..., "max_s": ..., "peak_rss_mb": ...}

Same shapes and synthetic inputs as bench/bench_workloads.cpp:
  W1 fmnist-cnn     batch 256 of 1x28x28, small CNN → 128-d, LMCL over 10 classes (s=30, m=0.35),
                    SGD momentum 0.9, weight decay 5e-4: one full training step.
  W2 iresnet18-face batch 32 of 3x112x112, iresnet18 → 512-d, LMCL over 10,572 classes (s=64,
                    m=0.35), same optimizer: one full training step.
  W3 lmcl-head      B=256, d=512, C=100,000: forward + backward to x and W of the LMCL head.
  W4 sgemm          1024³ float32 torch.mm.
  W5 mbf-face       batch 64 of 3x112x112, MobileFaceNet (arcface_torch's get_mbf) → 512-d, LMCL
                    over 10,572 classes (s=64, m=0.35), same optimizer: one full training step.
--precision bf16 runs the backbone's forward under torch.autocast("cpu", dtype=torch.bfloat16)
and casts the embedding to float32 before the head (insightface's way; the head in float32);
W4 runs its product under autocast; W3, the head alone, stays float32.
Run with Debian's python3-torch (/usr/bin/python3). --parameters prints the MobileFaceNets'
trainable parameter counts instead (the figures tests/test_backbones.cpp holds margin's to).
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def lmcl(x, weight, labels, s, m):
    cos_theta = F.normalize(x) @ F.normalize(weight).t()
    logits = s * (cos_theta - m * F.one_hot(labels, weight.shape[0]).to(x.dtype))
    return F.cross_entropy(logits, labels)


class FmnistCnn(nn.Module):
    def __init__(self, emb=128):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.PReLU(32), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.PReLU(64), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, emb), nn.BatchNorm1d(emb))

    def forward(self, x):
        return self.body(x)


class IBasicBlock(nn.Module):
    """insightface arcface_torch: BN → conv3x3 → BN → PReLU → conv3x3(stride) → BN (+ shortcut)."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-05)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-05)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-05)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (self.downsample(x) if self.downsample is not None else x)


class IResNet(nn.Module):
    def __init__(self, layers, emb=512, input_size=112):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-05)
        self.prelu = nn.PReLU(64)
        inplanes, stages = 64, []
        for planes, blocks in zip((64, 128, 256, 512), layers):
            down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, 2, bias=False), nn.BatchNorm2d(planes, eps=1e-05))
            stage = [IBasicBlock(inplanes, planes, 2, down)]
            stage += [IBasicBlock(planes, planes) for _ in range(1, blocks)]
            stages.append(nn.Sequential(*stage))
            inplanes = planes
        self.stages = nn.Sequential(*stages)
        self.bn2 = nn.BatchNorm2d(512, eps=1e-05)
        self.dropout = nn.Dropout(0.0)
        side = input_size // 16
        self.fc = nn.Linear(512 * side * side, emb)
        self.features = nn.BatchNorm1d(emb, eps=1e-05)

    def forward(self, x):
        x = self.stages(self.prelu(self.bn1(self.conv1(x))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))


class Stack(nn.Module):
    """One Sequential named `layers`, as arcface_torch's ConvBlock, LinearBlock, Residual and GDC hold theirs."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def conv_block(in_c, out_c, kernel, stride=1, padding=0, groups=1, activation=True):
    """ConvBlock (conv → BN → PReLU) or, without the activation, LinearBlock."""
    layers = [nn.Conv2d(in_c, out_c, kernel, stride, padding, groups=groups, bias=False), nn.BatchNorm2d(out_c)]
    return Stack(*layers, nn.PReLU(out_c)) if activation else Stack(*layers)


class DepthWise(nn.Module):
    """1x1 in → t, depthwise 3x3 (stride) over t, linear 1x1 t → out; the residual ones add x."""

    def __init__(self, in_c, out_c, width, stride, residual):
        super().__init__()
        self.residual = residual
        self.layers = nn.Sequential(conv_block(in_c, width, 1), conv_block(width, width, 3, stride, 1, groups=width),
                                    conv_block(width, out_c, 1, activation=False))

    def forward(self, x):
        return x + self.layers(x) if self.residual else self.layers(x)


def residual_stage(channels, count, width):
    return Stack(*[DepthWise(channels, channels, width, 1, True) for _ in range(count)])


class MobileFaceNet(nn.Module):
    """insightface arcface_torch's MobileFaceNet (backbones/mobilefacenet.py), built as get_mbf
    does: blocks (1, 4, 6, 2), widths scale × the paper's (scale 2; the paper's network is scale
    1, emb 128). The same state_dict names; margin's layers/mobilefacenet.cpp mirrors it."""

    def __init__(self, emb=512, blocks=(1, 4, 6, 2), scale=2):
        super().__init__()
        c = 64 * scale
        self.layers = nn.ModuleList([conv_block(3, c, 3, 2, 1)])
        if blocks[0] == 1:
            self.layers.append(conv_block(c, c, 3, 1, 1, groups=64))
        else:
            self.layers.append(residual_stage(c, blocks[0], 128))
        self.layers.extend([DepthWise(c, c, 128, 2, False), residual_stage(c, blocks[1], 128),
                            DepthWise(c, 2 * c, 256, 2, False), residual_stage(2 * c, blocks[2], 256),
                            DepthWise(2 * c, 2 * c, 512, 2, False), residual_stage(2 * c, blocks[3], 256)])
        self.conv_sep = conv_block(2 * c, 512, 1)
        # GDC: the global depthwise convolution over the 7x7 plane, then the embedding
        self.features = Stack(conv_block(512, 512, 7, groups=512, activation=False), nn.Flatten(),
                              nn.Linear(512, emb, bias=False), nn.BatchNorm1d(emb))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.features(self.conv_sep(x))


PRECISION = "fp32"


def backbone(model, images):
    if PRECISION == "bf16":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            embeddings = model(images)
        return embeddings.float()
    return model(images)


def training_step(model, weight, optimizer, images, labels, s, m):
    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = lmcl(backbone(model, images), weight, labels, s, m)
        loss.backward()
        optimizer.step()
    return step


def make_workload(name, batch=None):
    torch.manual_seed(0)
    if name == "W1":
        model, weight = FmnistCnn(128), nn.Parameter(torch.randn(10, 128) * 0.01)
        batch = batch or 256
        images, labels = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
        opt = torch.optim.SGD(list(model.parameters()) + [weight], lr=0.1, momentum=0.9, weight_decay=5e-4)
        return training_step(model, weight, opt, images, labels, 30.0, 0.35)
    if name == "W2":
        model, weight = IResNet([2, 2, 2, 2]), nn.Parameter(torch.randn(10572, 512) * 0.01)
        batch = batch or 32
        images, labels = torch.randn(batch, 3, 112, 112), torch.randint(0, 10572, (batch,))
        opt = torch.optim.SGD(list(model.parameters()) + [weight], lr=0.1, momentum=0.9, weight_decay=5e-4)
        return training_step(model, weight, opt, images, labels, 64.0, 0.35)
    if name == "W3":
        x = torch.randn(batch or 256, 512, requires_grad=True)
        weight = torch.randn(100000, 512, requires_grad=True)
        labels = torch.randint(0, 100000, (x.shape[0],))

        def head():
            x.grad, weight.grad = None, None
            lmcl(x, weight, labels, 64.0, 0.35).backward()
        return head
    if name == "W4":
        a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
        if PRECISION == "bf16":
            def product():
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return torch.mm(a, b)
            return product
        return lambda: torch.mm(a, b)
    if name == "W5":
        model, weight = MobileFaceNet(), nn.Parameter(torch.randn(10572, 512) * 0.01)
        batch = batch or 64
        images, labels = torch.randn(batch, 3, 112, 112), torch.randint(0, 10572, (batch,))
        opt = torch.optim.SGD(list(model.parameters()) + [weight], lr=0.1, momentum=0.9, weight_decay=5e-4)
        return training_step(model, weight, opt, images, labels, 64.0, 0.35)
    raise SystemExit(f"unknown workload {name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=["W1", "W2", "W3", "W4", "W5"])
    parser.add_argument("--parameters", action="store_true",
                        help="print the trainable parameter counts of the MobileFaceNets instead (tests/test_backbones.cpp)")
    parser.add_argument("--batch", type=int, help="batch size of W1–W3 and W5 (default: 256 / 32 / 256 / 64)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="bf16: CPU autocast to bfloat16 around the backbone (and W4's product)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.parameters:
        for name, model in [("mbf (get_mbf, 512-d)", MobileFaceNet()), ("mbf128 (the paper's, scale 1)", MobileFaceNet(128, scale=1))]:
            print(f"{name}: {sum(p.numel() for p in model.parameters() if p.requires_grad)}")
        return
    if args.workload is None:
        parser.error("--workload is required (or --parameters)")
    torch.set_num_threads(args.threads)
    global PRECISION
    PRECISION = args.precision
    run = make_workload(args.workload, args.batch)
    for _ in range(args.warmup):
        run()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    times.sort()
    print(json.dumps({"workload": args.workload, "median_s": times[len(times) // 2], "min_s": times[0],
                      "max_s": times[-1], "times_s": times, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "torch": torch.__version__, "threads": torch.get_num_threads(), "precision": args.precision}))


if __name__ == "__main__":
    main()
