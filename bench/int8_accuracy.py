#!/usr/bin/python3
"""int8 accuracy: held-out bits per element of every bundled model, float32 and int8 weights
(`argen eval --weights f32|int8`, native; the wasm build computes the same products), and the
relative change. The issue's bar: int8 worsens held-out bits by under 1%.

Held-out data, as in each model's card (models/README.md):
  text   KJV chapters the models never saw (every 20th; Debian bible-kjv): kjv-lstm on the first
         20,000 held-out characters; kjv-gpt and kjv-hybrid (context 256) on 8 snippets of 256
         characters at offsets 0, 25,000, ..., 175,000.
  images Fashion-MNIST test images (Debian dataset-fashion-mnist), the first 20 of each class.
  audio  the held-out pieces of the notes corpus (models/train_audio.py --prepare), first 2 s each.

    bench/int8_accuracy.py            # prints a markdown table
    bench/int8_accuracy.py --write-test-data   # tests/data/heldout.json, a small held-out sample
                                               # (2,000 KJV chars, 20 Fashion-MNIST test images)
                                               # for test_int8.cc's 1% check
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))
ARGEN = os.path.join(ROOT, "build/native/argen")
BUNDLED = os.path.join(ROOT, "models/bundled")


def argen_bits(args, weights):
    out = subprocess.run([ARGEN, "eval", "--threads", "1", "--weights", weights] + args, check=True,
                         capture_output=True, text=True).stdout
    n = int(re.search(r"^(?:tokens|elements): (\d+)", out, re.M).group(1))
    bits = float(re.search(r"^bits per (?:token|element): ([0-9.]+)", out, re.M).group(1))
    # eval --text-file scores n-1 tokens (the first has no prediction); --elements reports scored ones
    return bits, (n - 1 if out.startswith("tokens") else n)


def text_cases(tmp):
    from train_text import split_text
    _, _, valid = split_text()
    one = os.path.join(tmp, "heldout.txt")
    with open(one, "w") as f:
        f.write(valid[:20000])
    snippets = []
    for k in range(8):
        p = os.path.join(tmp, f"snippet{k}.txt")
        with open(p, "w") as f:
            f.write(valid[25000 * k:25000 * k + 256])
        snippets.append(p)
    yield "kjv-lstm", "bits/char, 20,000 held-out chars", [["--text-file", one]]
    for m in ("kjv-gpt", "kjv-hybrid"):
        yield m, "bits/char, 8 held-out snippets of 256", [["--text-file", p] for p in snippets]


def image_cases(tmp):
    from train_image import load_fashion
    data, _ = load_fashion()
    x, y = data["test"]
    seqs = []
    for c in range(10):
        for i in (y == c).nonzero()[:20, 0].tolist():
            seqs.append({"label": c, "elements": x[i].flatten().tolist()})
    path = os.path.join(tmp, "fashion.json")
    with open(path, "w") as f:
        json.dump(seqs, f)
    for m in ("fashion-pixelcnn", "fashion-pixelrnn"):
        yield m, "bits/dim, 200 Fashion-MNIST test images", [["--elements", path]]


def audio_cases(tmp):
    from train_audio import prepare, SR
    data, _ = prepare("notes")
    seqs = [{"label": label, "elements": codes[:2 * SR].tolist()} for codes, label in data["test"]]
    path = os.path.join(tmp, "notes.json")
    with open(path, "w") as f:
        json.dump(seqs, f)
    yield "notes-wavenet", f"bits/sample, {len(seqs)} held-out pieces x 2 s", [["--elements", path]]


def write_test_data():
    from train_text import split_text
    from train_image import load_fashion
    _, _, valid = split_text()
    data, _ = load_fashion()
    x, y = data["test"]
    images = []
    for c in range(10):
        for i in (y == c).nonzero()[:2, 0].tolist():
            images.append({"label": c, "elements": x[i].flatten().tolist()})
    path = os.path.join(ROOT, "tests/data/heldout.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"about": "held-out data of the bundled models (bench/int8_accuracy.py "
                            "--write-test-data): KJV chapters never trained on (Debian bible-kjv, "
                            "public domain), Fashion-MNIST test images (Debian dataset-fashion-mnist, MIT)",
                   "kjv_text": valid[:2000], "fashion_images": images}, f, separators=(",", ":"))
    print(f"wrote {path}")


def main():
    if "--write-test-data" in sys.argv:
        return write_test_data()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for gen in (text_cases, image_cases, audio_cases):
            for name, what, runs in gen(tmp):
                model = os.path.join(BUNDLED, name + ".safetensors")
                if not os.path.exists(model):
                    continue
                res = {}
                for w in ("f32", "int8"):
                    tot, n = 0.0, 0
                    for args in runs:
                        b, k = argen_bits(["--model", model] + args, w)
                        tot, n = tot + b * k, n + k
                    res[w] = tot / n
                rows.append((name, what, res["f32"], res["int8"]))
                print(f"{name}: f32 {res['f32']:.4f} int8 {res['int8']:.4f}", file=sys.stderr, flush=True)
    print("| model | held-out data | float32 | int8 | change |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, what, f, q in rows:
        print(f"| {name} | {what} | {f:.4f} | {q:.4f} | {100 * (q - f) / f:+.2f}% |")


if __name__ == "__main__":
    main()
