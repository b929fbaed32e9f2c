"""PNG and WAV writers with the standard library only (zlib, struct, wave), plus a colormap.

Used by train_image.py (sample grids) and train_audio.py (WAVs and spectrograms); no PIL or
matplotlib needed.
"""

import os
import struct
import wave
import zlib

import torch


def training_device(name):
    """torch.device(name) set up for training, and the autocast context to train under: bf16 with
    TF32 matmuls on CUDA, plain float32 on at most 2 CPU threads."""
    device = torch.device(name)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        return device, lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    return device, lambda: torch.autocast("cpu", enabled=False)


def write_png(path, pixels):
    """pixels: uint8 tensor/array [H, W] (grayscale) or [H, W, 3] (RGB)."""
    t = torch.as_tensor(pixels)
    if t.dtype != torch.uint8:
        raise ValueError("write_png wants uint8 pixels")
    if t.dim() == 2:
        color_type, (h, w) = 0, t.shape
    elif t.dim() == 3 and t.shape[2] == 3:
        color_type, (h, w) = 2, t.shape[:2]
    else:
        raise ValueError("pixels must be [H, W] or [H, W, 3]")
    rows = t.reshape(h, -1).contiguous()
    raw = b"".join(b"\x00" + bytes(rows[i].tolist()) for i in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def write_wav(path, samples, sample_rate):
    """samples: float tensor in [-1, 1] (mono) -> 16-bit PCM WAV."""
    x = torch.as_tensor(samples).float().clamp(-1, 1)
    pcm = (x * 32767).round().to(torch.int16)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(struct.pack("<%dh" % pcm.numel(), *pcm.tolist()))


def read_wav(path):
    """16-bit PCM mono WAV -> (float tensor in [-1, 1], sample_rate)."""
    with wave.open(str(path), "rb") as f:
        if f.getsampwidth() != 2 or f.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono PCM")
        n, sr = f.getnframes(), f.getframerate()
        data = f.readframes(n)
    x = torch.tensor(struct.unpack("<%dh" % (len(data) // 2), data), dtype=torch.float32)
    return x / 32768.0, sr


# A viridis-like ramp: dark blue -> teal -> green -> yellow.
_ANCHORS = torch.tensor([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98],
                         [253, 231, 37]], dtype=torch.float32)


def colormap(values):
    """values: float tensor in [0, 1] of any shape -> uint8 [..., 3]."""
    v = values.clamp(0, 1) * (len(_ANCHORS) - 1)
    i0 = v.floor().long().clamp(max=len(_ANCHORS) - 2)
    f = (v - i0.float()).unsqueeze(-1)
    rgb = _ANCHORS[i0] * (1 - f) + _ANCHORS[i0 + 1] * f
    return rgb.round().to(torch.uint8)


def log_spectrogram(samples, n_fft=512, hop=128, floor_db=-80.0):
    """Mono float samples -> [freq, frames] log magnitude in dB scaled to [0, 1], low freq last
    row flipped to the bottom (ready for colormap)."""
    x = torch.as_tensor(samples).float()
    spec = torch.stft(x, n_fft, hop_length=hop, window=torch.hann_window(n_fft),
                      return_complex=True).abs()
    db = 20 * torch.log10(spec + 1e-6)
    db = db - db.max()
    img = ((db - floor_db) / -floor_db).clamp(0, 1)
    return img.flip(0)
