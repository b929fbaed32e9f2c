"""Train the bundled image models: class-conditional Gated PixelCNN / PixelRNN (Row LSTM) on
Fashion-MNIST (28x28 grayscale, 256 levels, 10 classes).

Data      the idx files of Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist,
          *-idx?-ubyte.gz), or a copy of them in models/data/fashion-mnist/ (git-ignored; what a
          device run carries). 60000 training, 10000 test images.
Training  Adam (lr 1e-3, cosine decay over the --minutes budget, grad-norm clip 1), random
          batches, the label as the class conditioning; bf16 autocast on CUDA.
Eval      NLL on the whole test set in bits per dimension (mean over the 784 pixels, log2).
Samples   --samples out.png: a grid with one row per class, --per-class samples each, drawn
          naively (one full forward per pixel) at temperature 1.

    /usr/bin/python3 models/train_image.py --arch pixelcnn --minutes 0.5 --samples /tmp/s.png \
        --per-class 1                                           # CPU smoke run
    python3 models/train_image.py --arch pixelrnn --device cuda --minutes 6 \
        --checkpoint models/checkpoints/fashion-pixelrnn.pt --samples pixelrnn.png
"""

import argparse
import gzip
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_models import GatedPixelCNN, PixelRNN  # noqa: E402
from media_io import training_device, write_png  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]
DATA_DIRS = [os.path.join(HERE, "data", "fashion-mnist"), "/usr/share/datasets/fashion-mnist"]

CONFIGS = {
    "pixelcnn": dict(filters=96, layers=10, input_kernel=7, skip=128, head_hidden=256),
    "pixelrnn": dict(hidden=96, layers=4, kernel=3, head_hidden=256),
}


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    t = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8)
    return t.reshape(dims)


def load_fashion(data_dir=None):
    dirs = [data_dir] if data_dir else DATA_DIRS
    for d in dirs:
        if os.path.exists(os.path.join(d, "train-images-idx3-ubyte.gz")):
            out = {}
            for split, prefix in (("train", "train"), ("test", "t10k")):
                x = read_idx(os.path.join(d, f"{prefix}-images-idx3-ubyte.gz"))
                y = read_idx(os.path.join(d, f"{prefix}-labels-idx1-ubyte.gz"))
                out[split] = (x, y.long())
            return out, d
    raise SystemExit(f"Fashion-MNIST idx files not found in {dirs} "
                     "(apt-get install dataset-fashion-mnist)")


def build(arch, num_classes=10):
    cfg = CONFIGS[arch]
    if arch == "pixelcnn":
        return GatedPixelCNN(28, 28, channels=1, levels=256, num_classes=num_classes, **cfg)
    return PixelRNN(28, 28, channels=1, levels=256, num_classes=num_classes, **cfg)


def build_from_config(arch, config):
    return (GatedPixelCNN if arch == "pixelcnn" else PixelRNN)(**config)


def nll_bits(model, images, labels, autocast):
    """Mean NLL in bits per dimension; images uint8 [B, 28, 28]."""
    x = images.long().unsqueeze(1)
    with autocast():
        logits = model(x, labels)  # [B, 1, H, W, 256]
    loss = F.cross_entropy(logits.float().reshape(-1, 256), x.reshape(-1))
    return loss / math.log(2)


@torch.no_grad()
def evaluate(model, images, labels, device, autocast, batch=500):
    model.eval()
    total, n = 0.0, 0
    for i in range(0, len(images), batch):
        xb = images[i:i + batch].to(device)
        yb = labels[i:i + batch].to(device)
        total += nll_bits(model, xb, yb, autocast).item() * len(xb)
        n += len(xb)
    model.train()
    return total / n


@torch.no_grad()
def sample(model, labels, device, autocast, temperature=1.0, seed=0, rows=28):
    """Naive sampling: one forward per pixel over rows 0..i (rows below cannot matter).
    labels [B] -> uint8 [B, 28, 28]; rows < 28 leaves the rest 0 (quick smoke runs)."""
    model.eval()
    g = torch.Generator(device=device).manual_seed(seed)
    B = len(labels)
    img = torch.zeros(B, 1, 28, 28, dtype=torch.long, device=device)
    full_height = model.height
    for i in range(rows):
        # GatedPixelCNN crops its vertical stack to model.height: run it on rows 0..i.
        model.height = i + 1
        for j in range(28):
            with autocast():
                logits = model(img[:, :, :i + 1], labels)[:, 0, i, j].float()
            probs = torch.softmax(logits / temperature, -1)
            img[:, 0, i, j] = torch.multinomial(probs, 1, generator=g)[:, 0]
    model.height = full_height
    model.train()
    return img[:, 0].to(torch.uint8).cpu()


def grid_png(path, images, rows, cols, scale=2, pad=2):
    """images uint8 [rows*cols, 28, 28] (row-major) -> one grayscale PNG."""
    h, w = images.shape[1:]
    H = rows * (h * scale + pad) + pad
    W = cols * (w * scale + pad) + pad
    canvas = torch.full((H, W), 128, dtype=torch.uint8)
    for r in range(rows):
        for c in range(cols):
            im = images[r * cols + c].repeat_interleave(scale, 0).repeat_interleave(scale, 1)
            y, x = pad + r * (h * scale + pad), pad + c * (w * scale + pad)
            canvas[y:y + h * scale, x:x + w * scale] = im
    write_png(path, canvas)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=sorted(CONFIGS), default="pixelcnn")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--minutes", type=float, default=6.0, help="training time budget")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=None, help="folder of the idx .gz files")
    ap.add_argument("--checkpoint", default=None,
                    help="default models/checkpoints/fashion-ARCH.pt")
    ap.add_argument("--eval-limit", type=int, default=0,
                    help="evaluate on the first N test images only (0: all 10000)")
    ap.add_argument("--samples", default=None, help="write a PNG grid of samples")
    ap.add_argument("--per-class", type=int, default=None,
                    help="samples per class in the grid (default 8 on cuda, 1 on cpu)")
    ap.add_argument("--real-grid", default=None,
                    help="write a PNG grid of real test images (same layout as --samples) and exit")
    ap.add_argument("--sample-rows", type=int, default=28,
                    help="sample only the first N rows (quick CPU smoke runs)")
    ap.add_argument("--load", action="store_true",
                    help="skip training: load --checkpoint, then eval/sample/export")
    ap.add_argument("--skip-eval", action="store_true", help="with --load: keep the stored NLL")
    ap.add_argument("--export", default=None,
                    help="write the float16 argen file here (models/export.py) at the end")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    device, autocast = training_device(args.device)

    ckpt_path = args.checkpoint or os.path.join(HERE, "checkpoints", f"fashion-{args.arch}.pt")
    data, data_dir = load_fashion(args.data)
    train_x, train_y = data["train"]
    test_x, test_y = data["test"]
    if args.eval_limit:
        test_x, test_y = test_x[:args.eval_limit], test_y[:args.eval_limit]
    print(f"data {data_dir}: train {tuple(train_x.shape)}, test {tuple(test_x.shape)}", flush=True)

    if args.real_grid:
        n = args.per_class or 8
        picks = torch.cat([(test_y == c).nonzero()[:n, 0] for c in range(10)])
        grid_png(args.real_grid, test_x[picks], 10, n)
        print(f"wrote {args.real_grid}", flush=True)
        return

    meta = {}
    if args.load:
        ck = torch.load(ckpt_path, map_location="cpu")
        model = build_from_config(args.arch, ck["config"])
        model.load_state_dict(ck["state_dict"])
        meta = ck.get("meta", {})
        model.to(device)
    else:
        model = build(args.arch).to(device)
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.arch} {model.config()} params {params}", flush=True)

    if not args.load:
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
        tx, ty = train_x.to(device), train_y.to(device)
        budget = args.minutes * 60
        t0 = time.time()
        step, run_loss = 0, None
        while True:
            elapsed = time.time() - t0
            if elapsed >= budget:
                break
            lr = args.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / budget)))
            lr = max(lr, args.lr * 0.02)
            for gr in opt.param_groups:
                gr["lr"] = lr
            idx = torch.randint(0, len(tx), (args.batch,), device=device)
            loss = nll_bits(model, tx[idx], ty[idx], autocast)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            run_loss = loss.item() if run_loss is None else 0.98 * run_loss + 0.02 * loss.item()
            if step % 200 == 0 or step == 1:
                print(f"step {step} {elapsed:.0f}s lr {lr:.2e} train {run_loss:.4f} bits/dim",
                      flush=True)
        train_s = time.time() - t0
        meta = dict(steps=step, batch=args.batch, train_seconds=round(train_s, 1),
                    images_seen=step * args.batch, epochs=round(step * args.batch / len(tx), 2),
                    device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    torch=torch.__version__, final_train_bits=run_loss)
        print(f"trained {step} steps in {train_s:.0f}s ({meta['epochs']} epochs)", flush=True)

    if not (args.load and args.skip_eval):
        t1 = time.time()
        test_bits = evaluate(model, test_x, test_y, device, autocast)
        meta["test_bits_per_dim"] = test_bits
        meta["test_images"] = len(test_x)
        print(f"test NLL {test_bits:.4f} bits/dim on {len(test_x)} images "
              f"({time.time() - t1:.0f}s)", flush=True)
        save_checkpoint(ckpt_path, args.arch, model, meta)

    if args.samples:
        n = args.per_class or (8 if device.type == "cuda" else 1)
        labels = torch.arange(10, device=device).repeat_interleave(n)
        t2 = time.time()
        imgs = sample(model, labels, device, autocast, seed=args.seed, rows=args.sample_rows)
        grid_png(args.samples, imgs, 10, n)
        print(f"wrote {args.samples} ({10 * n} samples, {time.time() - t2:.0f}s; rows: "
              + ", ".join(CLASSES) + ")", flush=True)

    if args.export:
        export_file(model, args.arch, meta, args.export)


def save_checkpoint(path, arch, model, meta):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sd = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    torch.save({"arch": arch, "config": model.config(), "state_dict": sd, "meta": meta,
                "classes": CLASSES}, path)
    print(f"wrote {path}", flush=True)


def export_file(model, arch, meta, path):
    from export import export
    kind = {"pixelcnn": "Gated PixelCNN", "pixelrnn": "PixelRNN (Row LSTM)"}[arch]
    desc = (f"Class-conditional {kind}, 28x28 grayscale, 256 levels, 10 Fashion-MNIST classes; "
            f"test NLL {meta['test_bits_per_dim']:.3f} bits/dim. Recipe: models/train_image.py")
    export(model.float().cpu(), path, dtype="float16", name=f"fashion-{arch}", description=desc,
           trained_on="Fashion-MNIST training set (60000 images, Debian dataset-fashion-mnist), "
                      f"{meta.get('train_seconds', 0) / 60:.1f} min on {meta.get('device', '?')}",
           license="model weights CC0-1.0; data Fashion-MNIST (c) 2017 Zalando SE, MIT (Expat)",
           labels=CLASSES)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)", flush=True)


if __name__ == "__main__":
    main()
