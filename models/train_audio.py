"""Train a bundled audio model: a label-conditioned WaveNet (8-bit mu-law, 16 kHz) on one of two
corpora made from Debian packages (--corpus):

notes     (the bundled `notes-wavenet`) monophonic melodies rendered by fluidsynth with the
          TimGM6mb General MIDI sound font, four instruments (the conditioning labels,
          INSTRUMENTS below). Each piece: 24 notes of a random walk on the C-major pentatonic
          scale (MIDI 55..79), 0.25/0.375/0.5 s each at 120 bpm, 1 in 10 a rest, velocity
          70..110; reverb and chorus off; the two stereo channels averaged, peak-normalised to
          0.7. PER_PIECE pieces per instrument, the last HELD_OUT held out.
          apt-get install fluidsynth timgm6mb-soundfont
espeak    speech: sentences of the licence texts in /usr/share/common-licenses spoken by espeak-ng
          with four voices (VOICES), resampled from 22.05 to 16 kHz (Kaiser-windowed sinc),
          silence trimmed to 0.1 s, peak-normalised to 0.7. Needs hours of GPU to sound like
          speech (8 min on an H200 gave noise with syllable rhythm); no bundled model.
Both are deterministic and cached in models/data/<corpus>/ (git-ignored; what a device run carries).

Training  random crops (--crop samples) of training pieces, Adam (lr --lr, cosine decay over
          the --minutes budget, grad-norm clip 1), the label as the speaker; bf16 autocast on CUDA.
Eval      NLL of the held-out pieces (whole, from empty history) in bits per sample.
Sampling  --wav-dir DIR: --seconds of audio per label, generated incrementally (per-layer
          queues of past activations, as argen does) from the code of silence; WAVs and a
          spectrogram PNG (rows: labels; left: training audio, right: generated).

    /usr/bin/python3 models/train_audio.py --prepare                  # render the cache
    /usr/bin/python3 models/train_audio.py --minutes 0.3 --seconds 0.05 --wav-dir /tmp/wn  # smoke
    /usr/bin/python3 models/train_audio.py --minutes 70 --wav-dir out/   # the bundled run (CPU)
"""

import argparse
import hashlib
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from media_io import colormap, log_spectrogram, read_wav, training_device, write_png, write_wav  # noqa: E402
from wavenet import WaveNet, mu_law_decode, mu_law_encode  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SR = 16000


# ---------------------------------------------------------------------------------- notes

SOUND_FONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"
# (label, General MIDI program): the conditioning labels, in embedding order.
INSTRUMENTS = [("piano", 0), ("vibraphone", 11), ("nylon guitar", 24), ("flute", 73)]
PENTATONIC = [0, 2, 4, 7, 9]
PER_PIECE = 26     # pieces per instrument
NOTES_HELD_OUT = 2


def midi_file(notes, program, tpq=480, tempo_us=500000):
    """notes: (start tick, duration ticks, pitch, velocity) -> bytes of a format-0 MIDI file."""
    def vlq(n):
        out = [n & 0x7F]
        n >>= 7
        while n:
            out.append(0x80 | (n & 0x7F))
            n >>= 7
        return bytes(reversed(out))
    events = sorted([(s, 1, p, v) for s, _, p, v in notes] + [(s + d, 0, p, 0) for s, d, p, _ in notes])
    trk = bytearray(vlq(0) + bytes([0xFF, 0x51, 3]) + tempo_us.to_bytes(3, "big"))
    trk += vlq(0) + bytes([0xC0, program])
    t = 0
    for tick, on, p, v in events:
        trk += vlq(tick - t) + bytes([0x90 if on else 0x80, p, v])
        t = tick
    trk += vlq(0) + bytes([0xFF, 0x2F, 0])
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(trk)) + trk


def melody(rng, count=24):
    pitches = [o + k for o in range(48, 84, 12) for k in PENTATONIC if 55 <= o + k <= 79]
    i = rng.randrange(len(pitches))
    notes, tick = [], 0
    for _ in range(count):
        d = rng.choice([240, 360, 480])     # ticks at 480/quarter, 120 bpm: 0.25, 0.375, 0.5 s
        if rng.random() >= 0.1:
            notes.append((tick, d, pitches[i], rng.randrange(70, 111)))
        tick += d
        i = min(len(pitches) - 1, max(0, i + rng.choice([-2, -1, -1, 0, 1, 1, 2])))
    return notes


def render(notes, program):
    with tempfile.TemporaryDirectory() as d:
        mid, raw = os.path.join(d, "m.mid"), os.path.join(d, "m.raw")
        with open(mid, "wb") as f:
            f.write(midi_file(notes, program))
        subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.6", "-r", str(SR),
                        "-T", "raw", "-O", "s16", "-E", "little", "-F", raw, SOUND_FONT, mid],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(raw, "rb") as f:
            pcm = f.read()
    x = torch.tensor(struct.unpack("<%dh" % (len(pcm) // 2), pcm), dtype=torch.float32)
    y = x.reshape(-1, 2).mean(1) / 32768.0
    loud = (y.abs() > 0.01 * y.abs().max()).nonzero()
    y = y[: min(len(y), loud[-1].item() + SR // 10)]
    return y * (0.7 / y.abs().max())


def make_notes():
    if not os.path.exists(SOUND_FONT):
        raise SystemExit(f"{SOUND_FONT} missing: apt-get install fluidsynth timgm6mb-soundfont")
    items = []
    for v, (_, program) in enumerate(INSTRUMENTS):
        for u in range(PER_PIECE):
            notes = melody(random.Random(1000 * v + u))
            items.append((render(notes, program), v, u >= PER_PIECE - NOTES_HELD_OUT,
                          [p for _, _, p, _ in notes]))
    return items


# ---------------------------------------------------------------------------------- espeak

# (espeak-ng voice, pitch 0..99): the speakers, in embedding order.
VOICES = [("en", 50), ("en-us+f3", 60), ("en+klatt", 45), ("en-us+m3", 25)]
TEXTS = ["GPL-3", "Apache-2.0", "MPL-2.0", "Artistic"]
PER_VOICE = 28     # utterances per voice
HELD_OUT = 3       # of which the last ones are held out


def sentences():
    out = []
    for name in TEXTS:
        with open(os.path.join("/usr/share/common-licenses", name), encoding="utf-8") as f:
            text = " ".join(f.read().split())
        for s in re.split(r"(?<=[.;:])\s+", text):
            s = s.strip()
            if 40 <= len(s) <= 160 and re.fullmatch(r"[A-Za-z ,;:.'()\-]+", s) \
                    and sum(c.isupper() for c in s) < len(s) // 4:
                out.append(s)
    return out


def resample(x, sr_in, sr_out, taps=16, beta=8.0):
    """Windowed-sinc resampling of a 1-D float tensor (any ratio)."""
    n_out = int(len(x) * sr_out / sr_in)
    t = torch.arange(n_out, dtype=torch.float64) * (sr_in / sr_out)  # positions in input samples
    k0 = t.floor().long()
    k = k0[:, None] + torch.arange(-taps + 1, taps + 1)[None, :]           # [n_out, 2*taps]
    u = t[:, None] - k.double()
    fc = 0.5 * min(1.0, sr_out / sr_in) * 0.94                               # cutoff, cycles/sample
    h = 2 * fc * torch.sinc(2 * fc * u)
    win = torch.special.i0(beta * torch.sqrt((1 - (u / taps) ** 2).clamp(min=0))) / \
        torch.special.i0(torch.tensor(beta, dtype=torch.float64))
    h = h * win
    xp = F.pad(x.double(), (taps, taps + 1))
    y = (xp[(k + taps).clamp(0, len(xp) - 1)] * h).sum(1)
    return y.float()


def synthesize(text, voice, pitch):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "u.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-w", path, text],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        x, sr = read_wav(path)
    y = resample(x, sr, SR)
    loud = (y.abs() > 0.02 * y.abs().max()).nonzero()
    a, b = max(0, loud[0].item() - SR // 10), min(len(y), loud[-1].item() + SR // 10)
    y = y[a:b]
    return y * (0.7 / y.abs().max())


def make_espeak():
    sents = sentences()
    g = torch.Generator().manual_seed(1234)
    order = torch.randperm(len(sents), generator=g).tolist()
    if len(sents) < PER_VOICE * len(VOICES):
        raise SystemExit(f"only {len(sents)} sentences, need {PER_VOICE * len(VOICES)}")
    items = []
    for v, (voice, pitch) in enumerate(VOICES):
        for u in range(PER_VOICE):
            text = sents[order[v * PER_VOICE + u]]
            items.append((synthesize(text, voice, pitch), v, u >= PER_VOICE - HELD_OUT, text))
    return items


# ---------------------------------------------------------------------------------- corpora

CORPORA = {
    "notes": dict(
        model="notes-wavenet", make=make_notes,
        spec=dict(instruments=INSTRUMENTS, per=PER_PIECE, held_out=NOTES_HELD_OUT, sr=SR, v=1),
        labels=[name for name, _ in INSTRUMENTS],
        label_names=[name for name, _ in INSTRUMENTS],  # GM programs: INSTRUMENTS, the model card
        config=dict(dilations=[2 ** i for i in range(9)] * 2, residual_channels=32,
                    dilation_channels=32, skip_channels=64, head_hidden=128, quantization=256,
                    input="embedding", embedding_dim=32, input_kernel=2, sample_rate=SR),
        trained_on="monophonic melodies rendered by fluidsynth 2.3 with the TimGM6mb sound font",
        license="model weights CC0-1.0; TimGM6mb sound font GPL-2.0",
        what="4 instruments of the TimGM6mb General MIDI sound font"),
    "espeak": dict(
        model="espeak-wavenet", make=make_espeak,
        spec=dict(voices=VOICES, texts=TEXTS, per_voice=PER_VOICE, held_out=HELD_OUT, sr=SR, v=1),
        labels=[v for v, _ in VOICES],
        label_names=[f"{v} (espeak-ng -v {v} -p {p})" for v, p in VOICES],
        config=dict(dilations=[2 ** i for i in range(10)] * 2, residual_channels=48,
                    dilation_channels=48, skip_channels=128, head_hidden=256, quantization=256,
                    input="embedding", embedding_dim=48, input_kernel=2, sample_rate=SR),
        trained_on="English speech synthesized with espeak-ng 1.51 from /usr/share/common-licenses "
                   "texts",
        license="model weights CC0-1.0; training audio synthesized with espeak-ng (GPL-3.0+)",
        what="4 espeak-ng voices"),
}


def prepare(corpus):
    """Render (or load) a corpus: dict with train/test lists of (uint8 codes, label)."""
    c = CORPORA[corpus]
    key = hashlib.sha1(json.dumps(c["spec"]).encode()).hexdigest()[:12]
    cache = os.path.join(HERE, "data", corpus)
    path = os.path.join(cache, f"{corpus}-{key}.pt")
    if os.path.exists(path):
        return torch.load(path), path
    t0 = time.time()
    data = {"train": [], "test": [], "about": {"train": [], "test": []}, "sample_rate": SR}
    for audio, label, held_out, about in c["make"]():
        split = "test" if held_out else "train"
        data[split].append((mu_law_encode(audio).to(torch.uint8), label))
        data["about"][split].append((label, about))
    os.makedirs(cache, exist_ok=True)
    torch.save(data, path)
    secs = {s: sum(len(x) for x, _ in data[s]) / SR for s in ("train", "test")}
    print(f"made {len(data['train']) + len(data['test'])} pieces in {time.time() - t0:.0f}s: "
          f"train {secs['train']:.0f}s, held-out {secs['test']:.0f}s of audio -> {path}", flush=True)
    return data, path


# ---------------------------------------------------------------------------------- model

def bits(model, codes, speakers, autocast):
    """codes [B, T] -> mean NLL (bits) of codes[:, 1:] given the earlier ones."""
    with autocast():
        logits = model(codes[:, :-1], speakers)
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                           codes[:, 1:].reshape(-1)) / math.log(2)


@torch.no_grad()
def evaluate(model, utterances, device, autocast, limit=0):
    model.eval()
    total, n = 0.0, 0
    for codes, spk in utterances:
        c = codes.long()[: limit or None].to(device)[None]
        total += bits(model, c, torch.tensor([spk], device=device), autocast).item() * (c.shape[1] - 1)
        n += c.shape[1] - 1
    model.train()
    return total / n


class Incremental:
    """Step-by-step WaveNet: one code in, the next code's logits out, with per-layer queues of
    the last `dilation` layer inputs (zeros at the start, like the forward's left padding)."""

    def __init__(self, model, speakers):
        self.m = model
        B = len(speakers)
        dev = speakers.device
        w = lambda t: t.detach().float()  # noqa: E731
        if model.input == "embedding":
            self.table = w(model.embed.weight)
        else:
            self.table = torch.eye(model.quantization, device=dev)
        cw = w(model.causal.weight)  # [R, E, k]
        self.causal_w = [cw[:, :, j].t().contiguous() for j in range(cw.shape[2])]
        self.causal_b = w(model.causal.bias)
        self.hist = [torch.zeros(B, self.table.shape[1], device=dev) for _ in self.causal_w]
        self.layers = []
        R = model.residual_channels
        skip_bias = 0
        for L in model.layers:
            W = w(L.dilated.weight)
            bias = w(L.dilated.bias)[None].expand(B, -1)
            if model.num_speakers:
                bias = bias + w(L.cond(speakers))
            W_rs = torch.cat([w(L.res.weight)[:, :, 0], w(L.skip.weight)[:, :, 0]], 0).t().contiguous()
            b_rs = torch.cat([w(L.res.bias), torch.zeros_like(w(L.skip.bias))])
            skip_bias = skip_bias + w(L.skip.bias)
            queue = torch.zeros(L.dilation, B, R, device=dev)
            self.layers.append((W[:, :, 0].t().contiguous(), W[:, :, 1].t().contiguous(),
                                bias.contiguous(), W_rs, b_rs, queue, L.dilation))
        self.skip_bias = skip_bias
        self.R = R
        self.o1w, self.o1b = w(model.out1.weight)[:, :, 0].t().contiguous(), w(model.out1.bias)
        self.o2w, self.o2b = w(model.out2.weight)[:, :, 0].t().contiguous(), w(model.out2.bias)
        self.t = 0

    def step(self, codes):
        """codes [B] int64 (x[t]) -> logits [B, Q] of x[t+1]."""
        self.hist = self.hist[1:] + [self.table[codes]]
        x = self.causal_b
        for h, cw in zip(self.hist, self.causal_w):
            x = torch.addmm(x, h, cw)
        skip = self.skip_bias
        R = self.R
        for W0, W1, bias, W_rs, b_rs, queue, d in self.layers:
            slot = queue[self.t % d]
            z = torch.addmm(bias, slot, W0)
            z = torch.addmm(z, x, W1)
            slot.copy_(x)
            D = z.shape[1] // 2
            g = torch.tanh(z[:, :D]) * torch.sigmoid(z[:, D:])
            rs = torch.addmm(b_rs, g, W_rs)
            x = x + rs[:, :R]
            skip = skip + rs[:, R:]
        self.t += 1
        h = torch.relu(torch.addmm(self.o1b, torch.relu(skip), self.o1w))
        return torch.addmm(self.o2b, h, self.o2w)


@torch.no_grad()
def generate(model, speakers, n, temperature=1.0, seed=0, max_seconds=None):
    """Sample n codes per speaker, starting from the code of silence. Returns [B, <=n] int64."""
    model.eval()
    inc = Incremental(model, speakers)
    g = torch.Generator(device=speakers.device).manual_seed(seed)
    c = torch.full((len(speakers),), int(mu_law_encode(0.0)), dtype=torch.long, device=speakers.device)
    out = []
    t0 = time.time()
    for t in range(n):
        logits = inc.step(c)
        c = torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=g)[:, 0]
        out.append(c)
        if max_seconds and t % 1000 == 999 and time.time() - t0 > max_seconds:
            print(f"sampling stopped at {t + 1} samples (time cap {max_seconds}s)", flush=True)
            break
    model.train()
    return torch.stack(out, 1)


def spectrogram_png(path, rows, gap=6):
    """rows: list of (train samples, generated samples) float tensors -> one RGB PNG."""
    imgs = []
    for a, b in rows:
        # 257 frequency bins pooled in pairs: 128 rows per panel keeps the PNG small.
        sa, sb = (F.avg_pool1d(log_spectrogram(x).t()[None], 2)[0].t() for x in (a, b))
        sep = torch.ones(sa.shape[0], gap)
        imgs.append(torch.cat([colormap(sa), colormap(sep), colormap(sb)], 1))
        imgs.append(torch.full((gap, imgs[-1].shape[1], 3), 255, dtype=torch.uint8))
    write_png(path, torch.cat(imgs[:-1], 0))


# ---------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", choices=sorted(CORPORA), default="notes")
    ap.add_argument("--prepare", action="store_true", help="only render the data cache")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--minutes", type=float, default=6.0, help="training time budget")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: training_device's)")
    ap.add_argument("--crop", type=int, default=8000, help="samples per training crop")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", default=None,
                    help="default: models/checkpoints/<the corpus's model>.pt")
    ap.add_argument("--eval-limit", type=int, default=0,
                    help="evaluate the first N samples of each held-out utterance (0: all)")
    ap.add_argument("--wav-dir", default=None, help="write generated WAVs and spectrograms here")
    ap.add_argument("--seconds", type=float, default=2.0, help="seconds generated per speaker")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--max-sample-seconds", type=float, default=200,
                    help="wall-clock cap on sampling")
    ap.add_argument("--load", action="store_true", help="skip training: load --checkpoint")
    ap.add_argument("--resume", default=None, metavar="CKPT",
                    help="continue training from this checkpoint's weights (and its Adam state, "
                         "if saved); steps and minutes add up in the saved meta")
    ap.add_argument("--warmup", type=int, default=0,
                    help="linear LR warm-up steps (useful with --resume: fresh Adam moments)")
    ap.add_argument("--save-every", type=float, default=0,
                    help="also write --checkpoint every N seconds while training (0: off)")
    ap.add_argument("--skip-eval", action="store_true", help="with --load: keep the stored NLL")
    ap.add_argument("--export", default=None,
                    help="write the float16 argen file here (models/export.py) at the end")
    ap.add_argument("--check", action="store_true",
                    help="check the incremental step against the forward pass and exit")
    args = ap.parse_args()

    corpus = CORPORA[args.corpus]
    labels = corpus["labels"]
    args.checkpoint = args.checkpoint or os.path.join(HERE, "checkpoints", corpus["model"] + ".pt")
    data, path = prepare(args.corpus)
    if args.prepare:
        return
    torch.manual_seed(args.seed)
    device, autocast = training_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)

    train, test = data["train"], data["test"]
    print(f"data {path}: {len(train)} train ({sum(len(c) for c, _ in train) / SR:.0f}s), "
          f"{len(test)} held-out ({sum(len(c) for c, _ in test) / SR:.0f}s), "
          f"labels {labels}", flush=True)

    meta = {}
    if args.load:
        ck = torch.load(args.checkpoint, map_location="cpu")
        model = WaveNet(**ck["config"])
        model.load_state_dict(ck["state_dict"])
        meta = ck.get("meta", {})
    else:
        model = WaveNet(num_speakers=len(labels), **corpus["config"])
    resumed = None
    if args.resume and not args.load:
        resumed = torch.load(args.resume, map_location="cpu", weights_only=False)
        model = WaveNet(**resumed["config"])
        model.load_state_dict(resumed["state_dict"])
        prev = resumed.get("meta", {})
        print(f"resumed from {args.resume}: {prev.get('steps', '?')} steps, held-out NLL "
              f"{prev.get('heldout_bits_per_sample', float('nan')):.4f}, "
              f"optimizer state {'yes' if resumed.get('optimizer') else 'no'}", flush=True)
    model.to(device)
    params = sum(p.numel() for p in model.parameters())
    print(f"wavenet {model.config()} params {params}, receptive field {model.receptive_field()}",
          flush=True)

    if args.check:
        model.eval()
        codes, spk = train[0]
        c = codes.long()[:600].to(device)
        s = torch.tensor([spk], device=device)
        with torch.no_grad():
            want = model(c[None], s)[0].float()
            inc = Incremental(model, s)
            got = torch.stack([inc.step(c[t:t + 1])[0] for t in range(len(c))])
        err = (got - want).abs().max().item()
        print(f"incremental vs forward: max |diff| {err:.2e}", flush=True)
        sys.exit(0 if err < 1e-3 * max(1.0, want.abs().max().item()) else 1)

    if not args.load:
        long = [(c, s) for c, s in train if len(c) > args.crop + 1]
        lengths = torch.tensor([len(c) for c, _ in long], dtype=torch.float)
        dev_utts = [(c.to(device), s) for c, s in long]
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
        if resumed is not None and resumed.get("optimizer"):
            opt.load_state_dict(resumed["optimizer"])

        def save(path, meta, with_opt):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            sd = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
            ck = {"arch": "wavenet", "config": model.config(), "state_dict": sd, "meta": meta,
                  "labels": labels}
            if with_opt:
                ck["optimizer"] = opt.state_dict()
            torch.save(ck, path + ".tmp")
            os.replace(path + ".tmp", path)
        last_save = time.time()
        budget = args.minutes * 60
        t0 = time.time()
        step, run = 0, None
        while True:
            elapsed = time.time() - t0
            if elapsed >= budget:
                break
            lr = max(args.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / budget))), args.lr * 0.02)
            if step < args.warmup:
                lr *= (step + 1) / args.warmup
            for gr in opt.param_groups:
                gr["lr"] = lr
            pick = torch.multinomial(lengths, args.batch, replacement=True).tolist()
            crops, spks = [], []
            for i in pick:
                c, s = dev_utts[i]
                o = torch.randint(0, len(c) - args.crop, ()).item()
                crops.append(c[o:o + args.crop + 1])
                spks.append(s)
            x = torch.stack(crops).long()
            loss = bits(model, x, torch.tensor(spks, device=device), autocast)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            run = loss.item() if run is None else 0.98 * run + 0.02 * loss.item()
            if step % 100 == 0 or step == 1:
                print(f"step {step} {elapsed:.0f}s lr {lr:.2e} train {run:.4f} bits/sample", flush=True)
            if args.save_every and time.time() - last_save > args.save_every:
                prev = resumed.get("meta", {}) if resumed is not None else {}
                save(args.checkpoint, dict(steps=step + prev.get("steps", 0), partial=True,
                                           stage_steps=step, batch=args.batch, crop=args.crop,
                                           train_seconds=round(time.time() - t0 + prev.get(
                                               "train_seconds", 0), 1)), True)
                last_save = time.time()
        train_s = time.time() - t0
        meta = dict(steps=step, batch=args.batch, crop=args.crop, train_seconds=round(train_s, 1),
                    device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    torch=str(torch.__version__), final_train_bits=run,
                    train_audio_seconds=round(sum(len(c) for c, _ in train) / SR, 1),
                    heldout_audio_seconds=round(sum(len(c) for c, _ in test) / SR, 1))
        if resumed is not None:
            prev = resumed.get("meta", {})
            meta["stages"] = prev.get("stages", [{k: prev.get(k) for k in (
                "steps", "batch", "crop", "train_seconds", "device", "heldout_bits_per_sample")}])
            meta["stages"].append(dict(steps=step, batch=args.batch, crop=args.crop, lr=args.lr,
                                       warmup=args.warmup, train_seconds=round(train_s, 1),
                                       device=meta["device"]))
            meta["steps"] = step + prev.get("steps", 0)
            meta["train_seconds"] = round(train_s + prev.get("train_seconds", 0), 1)
        print(f"trained {step} steps in {train_s:.0f}s", flush=True)

    if not (args.load and args.skip_eval):
        t1 = time.time()
        nll = evaluate(model, test, device, autocast, args.eval_limit)
        meta["heldout_bits_per_sample"] = nll
        meta["eval_limit"] = args.eval_limit
        print(f"held-out NLL {nll:.4f} bits/sample ({time.time() - t1:.0f}s)", flush=True)
        ck_path = args.checkpoint
        os.makedirs(os.path.dirname(os.path.abspath(ck_path)), exist_ok=True)
        sd = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
        ck = {"arch": "wavenet", "config": model.config(), "state_dict": sd, "meta": meta,
              "labels": labels}
        if not args.load:
            ck["optimizer"] = opt.state_dict()
        torch.save(ck, ck_path + ".tmp")
        os.replace(ck_path + ".tmp", ck_path)
        print(f"wrote {ck_path}", flush=True)

    if args.wav_dir:
        os.makedirs(args.wav_dir, exist_ok=True)
        n = int(args.seconds * SR)
        spk = torch.arange(len(labels), device=device)
        t2 = time.time()
        codes = generate(model, spk, n, args.temperature, args.seed, args.max_sample_seconds).cpu()
        print(f"generated {codes.shape[1]} samples x {len(labels)} labels in {time.time() - t2:.0f}s",
              flush=True)
        rows = []
        for v, label in enumerate(labels):
            gen = mu_law_decode(codes[v])
            ref = mu_law_decode(next(c for c, s in train if s == v).long())[:max(n, 4096)]
            tag = re.sub(r"[^a-z0-9]+", "_", label.lower())
            write_wav(os.path.join(args.wav_dir, f"wavenet-gen-{v}-{tag}.wav"), gen, SR)
            write_wav(os.path.join(args.wav_dir, f"wavenet-train-{v}-{tag}.wav"), ref, SR)
            rows.append((ref, gen if len(gen) >= 1024 else F.pad(gen, (0, 1024 - len(gen)))))
        spectrogram_png(os.path.join(args.wav_dir, "wavenet-spectrograms.png"), rows)
        print(f"wrote WAVs and wavenet-spectrograms.png to {args.wav_dir}", flush=True)

    if args.export:
        from export import export
        desc = (f"Label-conditioned WaveNet, 16 kHz 8-bit mu-law, {corpus['what']}; held-out "
                f"NLL {meta.get('heldout_bits_per_sample', float('nan')):.3f} bits/sample. "
                f"Recipe: models/train_audio.py --corpus {args.corpus}")
        export(model.float().cpu(), args.export, dtype="float16", name=corpus["model"],
               description=desc,
               trained_on=f"{meta.get('train_audio_seconds', 0):.0f} s of {corpus['trained_on']}, "
                          f"{meta.get('train_seconds', 0) / 60:.1f} min on {meta.get('device', '?')}",
               license=corpus["license"], labels=corpus["label_names"])
        print(f"wrote {args.export} ({os.path.getsize(args.export)} bytes)", flush=True)


if __name__ == "__main__":
    main()
