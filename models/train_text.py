#!/usr/bin/python3
"""Train the bundled demo models: character-level LSTM (kjv-lstm), GPT (kjv-gpt) and hybrid
(kjv-hybrid) models on the King James Bible, one recipe for all three (--arch).

Data      `bible -f "Gen1:1-Rev22:21"` (Debian package bible-kjv): one verse a line, each
          prefixed by a reference such as "Ge1:1 " or "1Chr3:4 ", which is stripped. The text
          the model sees is the verses, one a line, "\n"-terminated.
Split     the 1,189 chapters in Bible order; every 20th chapter (index 19, 39, ...; 59
          chapters, about 5% of the characters, spread over every part of the book) is
          held out for validation, the rest is training text.
Vocab     the distinct characters of the training text, sorted; chars tokenizer with
          bos = id of "\n" (so generation from an empty prompt starts a new verse).
Model     --arch lstm (default): RecurrentLM('lstm', V, hidden 384, 2 layers, embedding 64):
          ~1.9M parameters, ~3.8 MB as float16.
          --arch gpt: transformers.GPT(V, dim 192, 4 blocks, 6 heads, context 256), untied
          head: ~1.85M parameters.
          --arch hybrid: hybrid_lm.HybridLM(V, embedding 64, 1 LSTM layer, dim 192, 4 blocks,
          6 heads, context 256): ~1.99M parameters.
Training  random windows of the training text, each from a zero state; next-character
          cross entropy; Adam (lr 2e-3, 200-step warm-up, cosine decay to 5% of it over
          the wall-clock budget), gradient norm clipped to 1.0, batch 64.
          Sequence-length curriculum over the fraction f of the time budget used:
              f < 0.15: T = 32    0.15 <= f < 0.35: T = 64
              0.35 <= f < 0.60: T = 128    f >= 0.60: T = 256
          Schedules follow wall-clock time so that --minutes sets the whole run. For the
          attention models positions >= T are unseen until T grows; the last phase (T = 256 =
          the context) trains them all.
Eval      held-out bits per character over the validation text, read as 64 contiguous
          streams with the state carried across chunks (from a zero state at each stream
          start): a subset every --eval-every seconds, the whole text at the end. Attention
          models (no state, context 256): windows of 256 characters at stride 128; the first
          window scores all its predictions, each later one its last 128 (each character is
          predicted from >= 128 preceding ones).
Output    checkpoint (--checkpoint, a dict export.py understands; default
          models/checkpoints/kjv-ARCH.pt) and the float16 export (--out, default
          models/bundled/kjv-ARCH.safetensors).

Usage:
    /usr/bin/python3 models/train_text.py --minutes 35            # train + export kjv-lstm
    /usr/bin/python3 models/train_text.py --arch gpt --minutes 30 --eval-every 300 --eval-chars 20000
    /usr/bin/python3 models/train_text.py --arch hybrid --minutes 30 --eval-every 300 --eval-chars 20000
    /usr/bin/python3 models/train_text.py --sample 300 --temperature 0.8   # sample the checkpoint
    /usr/bin/python3 models/train_text.py --arch gpt --sample 300          # (of kjv-gpt.pt)
    /usr/bin/python3 models/export.py models/checkpoints/kjv-lstm.pt \
        models/bundled/kjv-lstm.safetensors --dtype float16       # re-export a checkpoint
"""

import argparse
import math
import os
import re
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from argen_models import RecurrentLM  # noqa: E402
from export import export  # noqa: E402
from hybrid_lm import HybridLM  # noqa: E402
from transformers import GPT  # noqa: E402

REF = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$")
CURRICULUM = [(0.0, 32), (0.15, 64), (0.35, 128), (0.60, 256)]  # (from fraction of budget, T)
HOLDOUT_EVERY = 20  # every 20th chapter is validation

METADATAS = {}
METADATA = METADATAS["lstm"] = {
    "name": "kjv-lstm",
    "description": "Character-level 2-layer LSTM (hidden 384, embedding 64) trained on the "
                   "King James Bible; writes verse-like English one verse a line. "
                   "Demo model bundled with argen.",
    "trained_on": "King James Version of the Bible (Debian package bible-kjv, verse references "
                  "stripped), every 20th chapter held out",
    "license": "Public domain text; model weights CC0-1.0",
}
METADATAS["gpt"] = {
    "name": "kjv-gpt",
    "description": "Character-level GPT (4 pre-LN blocks, dim 192, 6 heads, context 256) trained "
                   "on the King James Bible with the kjv-lstm recipe. Undertrained at 30 CPU "
                   "minutes: its position table rows 128-255 were only trained in the last 40% of "
                   "the run, and its text turns to letter soup after ~130 characters. Bundled "
                   "as a comparison point, not as a demo.",
    "trained_on": METADATA["trained_on"],
    "license": METADATA["license"],
}
METADATAS["hybrid"] = {
    "name": "kjv-hybrid",
    "description": "Character-level hybrid (1 LSTM layer, hidden 192, embedding 64, under 4 GPT "
                   "blocks, dim 192, 6 heads, context 256) trained on the King James Bible with "
                   "the kjv-lstm recipe; writes verse-like English one verse a line. Demo model "
                   "bundled with argen.",
    "trained_on": METADATA["trained_on"],
    "license": METADATA["license"],
}


def is_windowed(model):
    """Attention models (GPT, HybridLM): forward(tokens) -> logits, no state, <= context."""
    return not isinstance(model, RecurrentLM)


def run_model(model, x, state=None):
    """-> (logits, state) for any arch (state is None for attention models)."""
    if is_windowed(model):
        return model(x), None
    return model(x, state)


def bible_chapters():
    """-> list of chapters, each the text of its verses ("verse\\n" * n), in Bible order."""
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True,
                         text=True, encoding="utf-8").stdout
    chapters, key = [], None
    for line in out.split("\n"):
        if not line:
            continue
        m = REF.match(line)
        if not m:
            raise ValueError(f"unexpected line from bible: {line[:60]!r}")
        k = (m.group(1), m.group(2))
        if k != key:
            chapters.append([])
            key = k
        chapters[-1].append(m.group(4).rstrip() + "\n")
    return ["".join(c) for c in chapters]


def split_text():
    chapters = bible_chapters()
    train = "".join(c for i, c in enumerate(chapters) if i % HOLDOUT_EVERY != HOLDOUT_EVERY - 1)
    valid = "".join(c for i, c in enumerate(chapters) if i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1)
    return chapters, train, valid


def seq_len_at(frac):
    T = CURRICULUM[0][1]
    for start, t in CURRICULUM:
        if frac >= start:
            T = t
    return T


def lr_at(step, frac, base, warmup=200, floor=0.05):
    w = min(1.0, (step + 1) / warmup)
    return base * w * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


@torch.no_grad()
def eval_bpc(model, ids, streams=64, chunk=256, max_chars=None):
    """Bits per character of ids[1:] given ids[:-1], as `streams` contiguous streams
    (recurrent models), or sliding windows (attention models, see eval_bpc_windows)."""
    model.eval()
    if max_chars:
        ids = ids[: max_chars + 1]
    if is_windowed(model):
        bpc = eval_bpc_windows(model, ids, model.context_length)
        model.train()
        return bpc
    n = (len(ids) - 1) // streams
    x = ids[: n * streams].view(streams, n)
    y = ids[1 : n * streams + 1].view(streams, n)
    state, total, count = None, 0.0, 0
    for s in range(0, n, chunk):
        logits, state = model(x[:, s : s + chunk], state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                 y[:, s : s + chunk].reshape(-1), reduction="sum").item()
        count += y[:, s : s + chunk].numel()
    model.train()
    return total / count / math.log(2)


@torch.no_grad()
def eval_bpc_windows(model, ids, context, batch=32):
    """Bits per character of ids[1:] given ids[:-1] for a model with a bounded context: windows
    of `context` characters with stride context/2; the first window scores all its positions,
    each later one only its last context/2 (so every prediction sees >= context/2 characters,
    except the first context/2 of the text)."""
    stride = context // 2
    n = len(ids) - 1
    starts = list(range(0, max(1, n - context) + 1, stride))
    if starts[-1] + context < n:
        starts.append(n - context)
    total, count, scored = 0.0, 0, 0  # scored: predictions up to here are counted
    for b in range(0, len(starts), batch):
        group = starts[b : b + batch]
        L = min(context, n)
        x = torch.stack([ids[s : s + L] for s in group])
        y = torch.stack([ids[s + 1 : s + L + 1] for s in group])
        logp = F.log_softmax(model(x).float(), dim=-1)
        nll = -logp.gather(-1, y[..., None])[..., 0]
        for r, s in enumerate(group):
            first = max(scored, s) - s  # first position of this window not yet scored
            total += nll[r, first:].sum().item()
            count += L - first
            scored = s + L
    assert count == n, (count, n)
    return total / count / math.log(2)


@torch.no_grad()
def sample(model, vocab, n=300, temperature=0.8, seed=0, prompt="\n"):
    """Sample n characters after `prompt` (default: the bos "\\n")."""
    g = torch.Generator().manual_seed(seed)
    model.eval()
    stoi = {c: i for i, c in enumerate(vocab)}
    ids = [stoi[c] for c in prompt]
    if is_windowed(model):  # no state: re-run the last `context_length` characters each step
        out = []
        for _ in range(n):
            logits = model(torch.tensor([ids[-model.context_length:]]))
            p = torch.softmax(logits[0, -1] / temperature, dim=-1)
            nxt = torch.multinomial(p, 1, generator=g).item()
            out.append(vocab[nxt])
            ids.append(nxt)
        return "".join(out)
    logits, state = model(torch.tensor([ids]))
    out = []
    for _ in range(n):
        p = torch.softmax(logits[0, -1] / temperature, dim=-1)
        nxt = torch.multinomial(p, 1, generator=g).item()
        out.append(vocab[nxt])
        logits, state = model(torch.tensor([[nxt]]), state)
    return "".join(out)


def save_checkpoint(path, model, opt, vocab, info, metadata=METADATA):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tok = {"type": "chars", "vocab": vocab, "bos": vocab.index("\n")}
    arch = getattr(model, "argen_arch", "lstm")
    torch.save({"arch": arch, "model_config": model.config(), "state_dict": model.state_dict(),
                "optimizer": opt.state_dict() if opt is not None else None,
                "tokenizer": tok, "metadata": metadata, **info}, path + ".tmp")
    os.replace(path + ".tmp", path)


def load_model(path):
    ck = torch.load(path, map_location="cpu")
    arch = ck.get("arch", "lstm")
    model = {"gpt": GPT, "hybrid": HybridLM}.get(arch, RecurrentLM)(**ck["model_config"])
    model.load_state_dict(ck["state_dict"])
    return model, ck


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", choices=("lstm", "gpt", "hybrid"), default="lstm")
    p.add_argument("--minutes", type=float, default=35.0, help="wall-clock training budget")
    p.add_argument("--hidden", type=int, default=384, help="lstm: hidden size")
    p.add_argument("--layers", type=int, default=2, help="lstm: layers")
    p.add_argument("--embedding", type=int, default=64, help="lstm, hybrid: embedding size")
    p.add_argument("--dim", type=int, default=192, help="gpt, hybrid: model width")
    p.add_argument("--blocks", type=int, default=4, help="gpt, hybrid: attention blocks")
    p.add_argument("--heads", type=int, default=6, help="gpt, hybrid: attention heads")
    p.add_argument("--rnn-layers", type=int, default=1, help="hybrid: LSTM layers")
    p.add_argument("--context", type=int, default=256, help="gpt, hybrid: context length")
    p.add_argument("--final-eval-chars", type=int, default=None,
                   help="held-out chars of the final eval (default: all)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval-every", type=float, default=180.0, help="seconds between evals")
    p.add_argument("--eval-chars", type=int, default=60000, help="held-out chars per periodic eval")
    p.add_argument("--checkpoint", default=None, help="default models/checkpoints/kjv-ARCH.pt")
    p.add_argument("--out", default=None, help="default models/bundled/kjv-ARCH.safetensors")
    p.add_argument("--dtype", default="float16")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--sample", type=int, default=0, metavar="N",
                   help="don't train: print N sampled chars from --checkpoint")
    p.add_argument("--temperature", type=float, default=0.8)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.checkpoint is None:
        a.checkpoint = os.path.join(HERE, "checkpoints", f"kjv-{a.arch}.pt")
    if a.out is None:
        a.out = os.path.join(HERE, "bundled", f"kjv-{a.arch}.safetensors")
    metadata = METADATAS[a.arch]

    if a.sample:
        model, ck = load_model(a.checkpoint)
        print(sample(model, ck["tokenizer"]["vocab"], a.sample, a.temperature, a.seed))
        return

    chapters, train, valid = split_text()
    vocab = sorted(set(train))
    unseen = set(valid) - set(vocab)
    if unseen:
        print(f"dropping held-out chars not in the training vocab: {sorted(unseen)}")
        valid = "".join(c for c in valid if c in set(vocab))
    stoi = {c: i for i, c in enumerate(vocab)}
    tr = torch.tensor([stoi[c] for c in train], dtype=torch.long)
    va = torch.tensor([stoi[c] for c in valid], dtype=torch.long)
    print(f"chapters {len(chapters)}: train {len(train)} chars, held out {len(valid)} chars "
          f"({len(chapters) // HOLDOUT_EVERY} chapters), vocab {len(vocab)}", flush=True)

    torch.manual_seed(a.seed)
    if a.arch == "gpt":
        model = GPT(len(vocab), a.dim, a.blocks, a.heads, a.context)
        desc = f"gpt {a.blocks} blocks x dim {a.dim}, {a.heads} heads, context {a.context}"
    elif a.arch == "hybrid":
        model = HybridLM(len(vocab), a.embedding, "lstm", a.rnn_layers, a.dim, a.blocks, a.heads,
                         a.context)
        desc = (f"hybrid lstm {a.rnn_layers}x{a.dim} (embedding {a.embedding}) + {a.blocks} "
                f"blocks x dim {a.dim}, {a.heads} heads, context {a.context}")
    else:
        model = RecurrentLM("lstm", len(vocab), a.hidden, a.layers, a.embedding)
        desc = f"lstm {a.layers}x{a.hidden}, embedding {a.embedding}"
    if is_windowed(model) and CURRICULUM[-1][1] > a.context:
        raise SystemExit(f"the curriculum reaches T={CURRICULUM[-1][1]} > context {a.context}")
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    budget = a.minutes * 60.0
    step, chars_seen, spent, history = 0, 0, 0.0, []
    if a.resume:
        model, ck = load_model(a.checkpoint)
        if ck["tokenizer"]["vocab"] != vocab:
            raise SystemExit("checkpoint vocab differs from this data")
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)
        if ck.get("optimizer"):
            opt.load_state_dict(ck["optimizer"])
        step, chars_seen, spent, history = ck["steps"], ck["chars_seen"], ck["seconds"], ck["history"]
        print(f"resumed at step {step}, {spent:.0f}s of {budget:.0f}s", flush=True)
    print(f"model: {desc}, {n_params} params; "
          f"budget {a.minutes} min, {torch.get_num_threads()} thread(s)", flush=True)

    g = torch.Generator().manual_seed(a.seed + step)
    t0 = time.time() - spent
    last_eval = time.time()
    run_loss, run_n = 0.0, 0

    def info(final=False):
        return {"steps": step, "chars_seen": chars_seen, "seconds": time.time() - t0,
                "history": history, "params": n_params, "final": final}

    model.train()
    while True:
        elapsed = time.time() - t0
        frac = elapsed / budget
        if frac >= 1.0:
            break
        T = seq_len_at(frac)
        lr = lr_at(step, frac, a.lr)
        for group in opt.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(tr) - T - 1, (a.batch,), generator=g)
        idx = starts[:, None] + torch.arange(T + 1)[None, :]
        batch = tr[idx]
        logits, _ = run_model(model, batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        step += 1
        chars_seen += a.batch * T
        run_loss += loss.item()
        run_n += 1
        if step % 50 == 0:
            print(f"step {step:6d}  {elapsed / 60:6.2f} min  T {T:3d}  lr {lr:.2e}  "
                  f"train {run_loss / run_n / math.log(2):.3f} bpc  "
                  f"chars {chars_seen / 1e6:.2f}M", flush=True)
        if time.time() - last_eval >= a.eval_every:
            vb = eval_bpc(model, va, max_chars=a.eval_chars)
            tb = run_loss / max(run_n, 1) / math.log(2)
            history.append({"step": step, "minutes": round(elapsed / 60, 2), "T": T,
                            "train_bpc": round(tb, 4), "heldout_bpc_subset": round(vb, 4)})
            print(f"eval step {step}: train {tb:.3f} bpc (recent windows), held-out {vb:.3f} bpc "
                  f"(first {a.eval_chars} chars)", flush=True)
            run_loss, run_n = 0.0, 0
            save_checkpoint(a.checkpoint, model, opt, vocab, info(), metadata)
            last_eval = time.time()

    seconds = time.time() - t0
    print(f"training done: {step} steps, {chars_seen / 1e6:.2f}M chars "
          f"({chars_seen / len(train):.2f} epochs), {seconds / 60:.1f} min", flush=True)
    n_final = min(a.final_eval_chars or len(va), len(va))
    vb = eval_bpc(model, va, max_chars=n_final)
    tb = eval_bpc(model, tr, max_chars=n_final)
    history.append({"step": step, "minutes": round(seconds / 60, 2), "final": True,
                    "train_bpc_first_chars": round(tb, 4), "heldout_bpc": round(vb, 4)})
    print(f"final: held-out {vb:.4f} bpc ({n_final} of {len(va)} chars), train {tb:.4f} bpc "
          f"(first {n_final} training chars)", flush=True)
    meta = dict(metadata)
    meta["description"] += (f" Held-out {vb:.3f} bits/char; {step} steps, "
                            f"{seconds / 60:.0f} min on 1 CPU thread.")
    save_checkpoint(a.checkpoint, model, opt, vocab, info(final=True), meta)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tok = {"type": "chars", "vocab": vocab, "bos": stoi["\n"]}
    export(model, a.out, tokenizer=tok, dtype=a.dtype, name=meta["name"],
           description=meta["description"], trained_on=meta["trained_on"], license=meta["license"])
    print(f"exported {a.out} ({os.path.getsize(a.out)} bytes, {a.dtype})", flush=True)
    print("sample (temperature 0.8):", flush=True)
    print(sample(model, vocab, 300, 0.8, seed=0), flush=True)


if __name__ == "__main__":
    main()
