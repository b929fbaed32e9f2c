#!/usr/bin/python3
"""Export a PyTorch language model to an argen `.safetensors` file.

Transformers: models/transformers.GPT (arch "gpt"), models/transformers.Llama (arch "llama") and
models/hybrid_lm.HybridLM (arch "hybrid": GRU/LSTM under GPT blocks) instances, recognised by their `argen_arch` class attribute; the config is their `config()`,
tensors keep their state_dict names, and a tied head is written once (as the embedding).

Encoder-style transformers (arch "transformer"): models/encoder_lm.CausalTransformerLM and
any user module built like the PyTorch tutorials: nn.Embedding (+ a position nn.Embedding or a
sinusoidal table in a buffer named `pe`) -> nn.TransformerEncoder run under a causal mask ->
nn.Linear; parts found by type, tensors keep their state_dict names (see inspect_encoder).

Recurrent models: models/argen_models.RecurrentLM and any user module built from standard
parts: exactly one nn.RNN / nn.GRU / nn.LSTM, at most one nn.Embedding (none means the
rnn is fed one-hot vectors, so its input_size must equal the vocabulary size) and exactly
one nn.Linear head (hidden -> vocab). The parts are found by type through
named_modules(), whatever their attribute names, and tensors keep their state_dict names.

Image and audio models: models/image_models.GatedPixelCNN (arch "pixelcnn"), PixelRNN (arch
"pixelrnn"), modality "image", and models/wavenet.WaveNet (arch "wavenet"), modality "audio",
recognised by isinstance; the config is their `config()` (None values dropped, plus
`class_names` / `speaker_names` from labels=[...]), every state_dict tensor is written under its
name and must match image_shapes() / wavenet_shapes() exactly; no tokenizer.

Python:
    from export import export
    export(model, "out.safetensors", tokenizer="bytes", dtype="float16", name="my-lstm")

CLI (see --help):
    /usr/bin/python3 models/export.py CHECKPOINT.pt OUT.safetensors [--tokenizer bytes]
        [--dtype float16] [--name N] [--description D] [--trained-on T] [--license L]
"""

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import sys
import warnings

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io as st  # noqa: E402

FORMAT = "argen/1"
_ARCH_OF = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn"}
_DTYPE_ALIASES = {"float32": "float32", "f32": "float32", "fp32": "float32",
                  "float16": "float16", "f16": "float16", "fp16": "float16", "half": "float16",
                  "bfloat16": "bfloat16", "bf16": "bfloat16", "int8": "int8", "i8": "int8"}


def quantize_rows(a):
    """float array [rows, ...] -> (int8 array, float32 scales [rows]): per row (first axis)
    scale = max |row| / 127 (1 for a zero row), q = round(w / scale), ties to even: the rule of
    argen's ops::quantize_rows_q8, so argen re-quantizing the dequantized weights at load gets
    these codes back exactly."""
    a = np.asarray(a, dtype=np.float32)
    rows = a.reshape(a.shape[0], -1)
    m = np.abs(rows).max(axis=1)
    scale = np.where(m > 0, m / np.float32(127), np.float32(1)).astype(np.float32)
    q = np.clip(np.rint(rows * (np.float32(1) / scale)[:, None]), -127, 127).astype(np.int8)
    return q.reshape(a.shape), scale


# ----------------------------------------------------------------------------- inspection


@contextlib.contextmanager
def _eval_mode(module):
    """The module in eval mode for the block, then back in the mode it was in."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def _random_tokens(vocab_size, length, seed):
    """tokens [2, length] to compare a module's forward with the reference on."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (2, length), generator=g)

def _find(module, types):
    return [(name, m) for name, m in module.named_modules() if isinstance(m, types)]


def inspect_module(module):
    """Find the parts of a recurrent LM -> (arch, config dict, names dict, tensor names).

    Raises ValueError for anything argen cannot run.
    """
    rnns = _find(module, (nn.RNN, nn.GRU, nn.LSTM))
    if not rnns:
        raise ValueError("no nn.RNN / nn.GRU / nn.LSTM found in the module")
    if len(rnns) > 1:
        raise ValueError("argen runs one recurrent stack per model; found "
                         f"{len(rnns)} recurrent modules: {[n for n, _ in rnns]} "
                         "(stack layers with num_layers instead)")
    rnn_name, rnn = rnns[0]
    if rnn_name == "":
        raise ValueError("the module itself is the rnn; wrap it with an embedding/one-hot and a head")
    arch = next(a for t, a in _ARCH_OF.items() if isinstance(rnn, t))
    if rnn.bidirectional:
        raise ValueError(f"{rnn_name}: bidirectional recurrent layers cannot generate left to right")
    if getattr(rnn, "proj_size", 0):
        raise ValueError(f"{rnn_name}: LSTM with proj_size={rnn.proj_size} is not supported")
    if arch == "rnn" and rnn.nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{rnn_name}: unknown nonlinearity {rnn.nonlinearity!r}")

    embeds = _find(module, (nn.Embedding,))
    if len(embeds) > 1:
        raise ValueError(f"more than one nn.Embedding: {[n for n, _ in embeds]}")
    if embeds:
        emb_name, emb = embeds[0]
        if emb.max_norm is not None:
            raise ValueError(f"{emb_name}: nn.Embedding(max_norm=...) renormalises rows at run time; "
                             "argen reads the stored rows as they are")
        vocab = emb.num_embeddings
        if rnn.input_size != emb.embedding_dim:
            raise ValueError(f"{rnn_name}.input_size={rnn.input_size} != "
                             f"{emb_name}.embedding_dim={emb.embedding_dim}")
    else:
        emb_name, emb = None, None
        vocab = rnn.input_size

    linears = _find(module, (nn.Linear,))
    if not linears:
        raise ValueError("no nn.Linear head found")
    if len(linears) > 1:
        raise ValueError("argen expects exactly one nn.Linear (the head hidden -> vocab); found "
                         f"{[n for n, _ in linears]}")
    head_name, head = linears[0]
    if head.in_features != rnn.hidden_size:
        raise ValueError(f"head {head_name}.in_features={head.in_features} != "
                         f"{rnn_name}.hidden_size={rnn.hidden_size}")
    if head.out_features != vocab:
        what = (f"{emb_name}.num_embeddings" if emb is not None
                else f"{rnn_name}.input_size (one-hot input, no nn.Embedding found)")
        raise ValueError(f"head {head_name}.out_features={head.out_features} != vocabulary size "
                         f"{vocab} from {what}")

    config = {"vocab_size": vocab, "hidden_size": rnn.hidden_size, "num_layers": rnn.num_layers,
              "input": "embedding" if emb is not None else "one_hot"}
    if emb is not None:
        config["embedding_dim"] = emb.embedding_dim
    config["bias"] = bool(rnn.bias)
    if arch == "rnn":
        config["nonlinearity"] = rnn.nonlinearity
    config["head_bias"] = head.bias is not None
    names = {}
    if emb is not None:
        names["embedding"] = emb_name
    names["rnn"] = rnn_name
    names["head"] = head_name
    config["names"] = names

    wanted = []
    if emb is not None:
        wanted.append(f"{emb_name}.weight")
    for k in range(rnn.num_layers):
        wanted += [f"{rnn_name}.weight_ih_l{k}", f"{rnn_name}.weight_hh_l{k}"]
        if rnn.bias:
            wanted += [f"{rnn_name}.bias_ih_l{k}", f"{rnn_name}.bias_hh_l{k}"]
    wanted.append(f"{head_name}.weight")
    if head.bias is not None:
        wanted.append(f"{head_name}.bias")
    return arch, config, wanted


def expected_shapes(arch, config):
    """Tensor name -> shape that argen requires for this arch/config."""
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[arch]
    V, H, L = config["vocab_size"], config["hidden_size"], config["num_layers"]
    n = config["names"]
    shapes = {}
    if config["input"] == "embedding":
        shapes[f"{n['embedding']}.weight"] = [V, config["embedding_dim"]]
        inp = config["embedding_dim"]
    else:
        inp = V
    for k in range(L):
        shapes[f"{n['rnn']}.weight_ih_l{k}"] = [gates * H, inp if k == 0 else H]
        shapes[f"{n['rnn']}.weight_hh_l{k}"] = [gates * H, H]
        if config["bias"]:
            shapes[f"{n['rnn']}.bias_ih_l{k}"] = [gates * H]
            shapes[f"{n['rnn']}.bias_hh_l{k}"] = [gates * H]
    shapes[f"{n['head']}.weight"] = [V, H]
    if config["head_bias"]:
        shapes[f"{n['head']}.bias"] = [V]
    return shapes


# ----------------------------------------------------------------------------- transformers

def transformer_arch(module):
    """'gpt' | 'llama' | 'hybrid' for models/transformers.GPT / Llama and models/hybrid_lm.HybridLM
    instances (and subclasses), else None."""
    arch = getattr(type(module), "argen_arch", None)
    return arch if arch in ("gpt", "llama", "hybrid") and callable(getattr(module, "config", None)) else None


def transformer_shapes(arch, config):
    """Tensor name -> shape, in file order, that argen requires for a gpt/llama/hybrid config."""
    V, D, L, F = config["vocab_size"], config["dim"], config["n_layers"], config["hidden_dim"]
    shapes = {}
    if arch == "hybrid":
        E, G = config["embedding_dim"], {"gru": 3, "lstm": 4}[config["rnn"]]
        shapes["embed.weight"] = [V, E]
        for k in range(config["rnn_layers"]):
            shapes[f"rnn.weight_ih_l{k}"] = [G * D, E if k == 0 else D]
            shapes[f"rnn.weight_hh_l{k}"] = [G * D, D]
            shapes[f"rnn.bias_ih_l{k}"] = [G * D]
            shapes[f"rnn.bias_hh_l{k}"] = [G * D]
        for i in range(L):
            p = f"blocks.{i}."
            for name, shape in (("ln_1", [D]), ("attn.c_attn", [3 * D, D]), ("attn.c_proj", [D, D]),
                                ("ln_2", [D]), ("mlp.c_fc", [F, D]), ("mlp.c_proj", [D, F])):
                shapes[p + name + ".weight"] = shape
                shapes[p + name + ".bias"] = [shape[0]]
        shapes["ln_f.weight"] = [D]
        shapes["ln_f.bias"] = [D]
        shapes["head.weight"] = [V, D]
    elif arch == "gpt":
        bias = config["bias"]
        shapes["transformer.wte.weight"] = [V, D]
        shapes["transformer.wpe.weight"] = [config["context_length"], D]
        for i in range(L):
            p = f"transformer.h.{i}."
            for name, shape in (("ln_1", [D]), ("attn.c_attn", [3 * D, D]), ("attn.c_proj", [D, D]),
                                ("ln_2", [D]), ("mlp.c_fc", [F, D]), ("mlp.c_proj", [D, F])):
                shapes[p + name + ".weight"] = shape
                if bias:
                    shapes[p + name + ".bias"] = [shape[0]]
        shapes["transformer.ln_f.weight"] = [D]
        if bias:
            shapes["transformer.ln_f.bias"] = [D]
        if not config["tied"]:
            shapes["lm_head.weight"] = [V, D]
    else:
        kvd = config["n_kv_heads"] * (D // config["n_heads"])
        shapes["tok_embeddings.weight"] = [V, D]
        for i in range(L):
            p = f"layers.{i}."
            shapes[p + "attention_norm.weight"] = [D]
            shapes[p + "attention.wq.weight"] = [D, D]
            shapes[p + "attention.wk.weight"] = [kvd, D]
            shapes[p + "attention.wv.weight"] = [kvd, D]
            shapes[p + "attention.wo.weight"] = [D, D]
            shapes[p + "ffn_norm.weight"] = [D]
            shapes[p + "feed_forward.w1.weight"] = [F, D]
            shapes[p + "feed_forward.w2.weight"] = [D, F]
            shapes[p + "feed_forward.w3.weight"] = [F, D]
        shapes["norm.weight"] = [D]
        if not config["tied"]:
            shapes["output.weight"] = [V, D]
    return shapes


_TIED_HEAD = {"gpt": ("lm_head.weight", "transformer.wte.weight"),
              "llama": ("output.weight", "tok_embeddings.weight")}


def inspect_transformer(module):
    """-> (arch, config, shapes) of a GPT / Llama / HybridLM module; ValueError for what argen
    cannot run."""
    arch = transformer_arch(module)
    config = dict(module.config())
    D, H = config["dim"], config["n_heads"]
    if D % H:
        raise ValueError(f"n_heads={H} does not divide dim={D}")
    if arch == "llama" and (config["n_heads"] % config["n_kv_heads"] or (D // H) % 2):
        raise ValueError(f"llama needs n_kv_heads | n_heads and an even head size; config {config}")
    if arch == "hybrid" and config["rnn"] not in ("gru", "lstm"):
        raise ValueError(f"hybrid: rnn must be 'gru' or 'lstm', got {config['rnn']!r}")
    if arch in ("gpt", "hybrid") and config["gelu"] not in ("exact", "tanh"):
        raise ValueError(f"gelu must be 'exact' or 'tanh', got {config['gelu']!r}")
    shapes = transformer_shapes(arch, config)
    sd = module.state_dict()
    missing = [k for k in shapes if k not in sd]
    if missing:
        raise ValueError(f"{arch}: state_dict lacks {missing[:8]}")
    head, emb = _TIED_HEAD.get(arch, (None, None))
    tied = config.get("tied", False)
    extra = [k for k, v in sd.items() if k not in shapes and torch.is_tensor(v) and v.numel() > 0
             and not (tied and k == head)]
    if extra:
        raise ValueError(f"{arch}: tensors argen would ignore: {extra[:8]}")
    if tied and head in sd and not torch.equal(sd[head], sd[emb]):
        raise ValueError(f"{arch}: tied=True but {head} differs from {emb}")
    return arch, config, shapes


def _reference_transformer(arch, config):
    """A fresh models/transformers.py module for this config (imported under a private name,
    so that a user's `transformers` package, if any, does not matter)."""
    if arch == "hybrid":
        from hybrid_lm import HybridLM
        return HybridLM(**config)
    spec = importlib.util.spec_from_file_location(
        "_argen_transformers", os.path.join(os.path.dirname(os.path.abspath(__file__)), "transformers.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return (mod.GPT if arch == "gpt" else mod.Llama)(**config)


def verify_transformer(module, arch, config, tensors, seed=0, length=9, atol=1e-4):
    """Check that the module's forward equals the reference forward of the exported tensors
    (a subclass that changes forward() would export as a different model). True or ValueError."""
    ref = _reference_transformer(arch, config)
    sd = {k: torch.from_numpy(np.asarray(a, dtype=np.float32)) for k, a in tensors.items()}
    if config.get("tied"):
        head, emb = _TIED_HEAD[arch]
        sd[head] = sd[emb]
    ref.load_state_dict(sd)
    tokens = _random_tokens(config["vocab_size"], min(length, config["context_length"]), seed)
    with _eval_mode(module), torch.no_grad():
        got = module(tokens)
        want = ref.eval()(tokens)
    err = (got.float() - want).abs().max().item()
    if not err <= atol * max(1.0, want.abs().max().item()):
        raise ValueError(f"the module's forward differs from the {arch} reference forward "
                         f"(max |diff| {err:.3g})")
    return True


# ----------------------------------------------------------------------------- arch "transformer"

def _under(name, prefix):
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def _table_of(m, D):
    """A sinusoidal (or any fixed) position table: the buffer `pe` of shape [T, 1, D], [1, T, D]
    or [T, D] registered on `m` itself -> [T, D] float32 tensor, else None."""
    pe = dict(m.named_buffers(recurse=False)).get("pe")
    if pe is None or pe.dim() not in (2, 3) or pe.shape[-1] != D:
        return None
    if pe.dim() == 3 and 1 not in pe.shape[:2]:
        return None
    return pe.detach().cpu().float().reshape(-1, D).contiguous()


def _activation_name(layer, where):
    act = layer.activation
    if act is torch.nn.functional.relu or isinstance(act, nn.ReLU):
        return "relu"
    if act is torch.nn.functional.gelu or (isinstance(act, nn.GELU) and act.approximate == "none"):
        return "gelu"
    raise ValueError(f"{where}: activation {act!r} is not supported (relu or exact gelu)")


def inspect_encoder(module, context_length=None):
    """Find the parts of a causal nn.TransformerEncoder LM -> (config, tensors [name -> float32
    tensor], in file order). Parts are found by type through named_modules(): exactly one
    nn.TransformerEncoder, one nn.Linear outside it (the head), the token nn.Embedding, and
    optionally positions: a second nn.Embedding (learned) or a module holding a buffer `pe`
    (sinusoidal table, see _table_of). ValueError for anything argen cannot run."""
    encs = _find(module, (nn.TransformerEncoder,))
    if len(encs) != 1:
        raise ValueError(f"expected one nn.TransformerEncoder, found {[n for n, _ in encs]}")
    enc_name, enc = encs[0]
    if enc_name == "":
        raise ValueError("the module itself is the encoder; wrap it with an embedding and a head")
    layers = list(enc.layers)
    if not layers:
        raise ValueError(f"{enc_name}: no layers")
    first = layers[0]
    if not isinstance(first, nn.TransformerEncoderLayer):
        raise ValueError(f"{enc_name}.layers.0 is a {type(first).__name__}, not nn.TransformerEncoderLayer")
    D, H = first.self_attn.embed_dim, first.self_attn.num_heads
    F = first.linear1.out_features
    cfg_of = lambda l: (type(l), l.self_attn.embed_dim, l.self_attn.num_heads,  # noqa: E731
                        l.linear1.out_features, l.norm1.eps, l.norm_first, _activation_name(l, enc_name))
    for i, l in enumerate(layers):
        where = f"{enc_name}.layers.{i}"
        if cfg_of(l) != cfg_of(first):
            raise ValueError(f"{where} differs from layer 0 (argen needs identical layers)")
        a = l.self_attn
        if not a._qkv_same_embed_dim or a.in_proj_bias is None or a.bias_k is not None or a.add_zero_attn:
            raise ValueError(f"{where}.self_attn: argen needs fused in_proj with biases, no bias_k/bias_v, "
                             "no add_zero_attn")
        if l.norm1.eps != l.norm2.eps or not l.norm1.elementwise_affine or not l.norm2.elementwise_affine:
            raise ValueError(f"{where}: norm1/norm2 must be affine LayerNorms with the same eps")
    if D % H:
        raise ValueError(f"nhead={H} does not divide d_model={D}")
    final = enc.norm
    if final is not None and (not isinstance(final, nn.LayerNorm) or final.normalized_shape != (D,)
                              or not final.elementwise_affine):
        raise ValueError(f"{enc_name}.norm must be an affine nn.LayerNorm(d_model)")
    if final is not None and final.eps != first.norm1.eps:
        raise ValueError(f"{enc_name}.norm.eps={final.eps} differs from the layers' eps {first.norm1.eps}")

    heads = [(n, m) for n, m in _find(module, (nn.Linear,)) if not _under(n, enc_name)]
    if len(heads) != 1:
        raise ValueError("expected exactly one nn.Linear outside the encoder (the head d_model -> vocab); "
                         f"found {[n for n, _ in heads]}")
    head_name, head = heads[0]
    if head.in_features != D:
        raise ValueError(f"head {head_name}.in_features={head.in_features} != d_model={D}")
    V = head.out_features
    embs = [(n, m) for n, m in _find(module, (nn.Embedding,)) if not _under(n, enc_name)]
    for n, m in embs:
        if m.max_norm is not None:
            raise ValueError(f"{n}: nn.Embedding(max_norm=...) is not supported")
        if m.embedding_dim != D:
            raise ValueError(f"{n}.embedding_dim={m.embedding_dim} != d_model={D}")
    tables = [(n, t) for n, m in module.named_modules() if not _under(n, enc_name)
              for t in [_table_of(m, D)] if t is not None]
    tok = [(n, m) for n, m in embs if m.num_embeddings == V]
    if len(embs) == 2 and len(tok) == 2:  # vocab_size == context_length: the name decides
        tok = [(n, m) for n, m in embs if "pos" not in n.rsplit(".", 1)[-1].lower()]
    if len(tok) != 1 or len(embs) > 2:
        raise ValueError(f"cannot tell the token embedding (num_embeddings == vocab_size {V}) among "
                         f"{[n for n, _ in embs]}")
    emb_name, _ = tok[0]
    pos_embs = [(n, m) for n, m in embs if n != emb_name]
    if pos_embs and tables:
        raise ValueError(f"both learned positions {pos_embs[0][0]} and a position table {tables[0][0]}.pe")
    if len(tables) > 1:
        raise ValueError(f"more than one position table: {[n + '.pe' for n, _ in tables]}")
    sd = module.state_dict()
    tensors = {f"{emb_name}.weight": sd[f"{emb_name}.weight"]}
    names = {"embedding": emb_name}
    if pos_embs:
        pos_name, pos = pos_embs[0]
        positions, T = "learned", pos.num_embeddings
        if context_length is not None and context_length != T:
            raise ValueError(f"context_length={context_length} != {pos_name}.num_embeddings={T}")
        names["positions"] = pos_name
        tensors[f"{pos_name}.weight"] = sd[f"{pos_name}.weight"]
    elif tables:
        pos_name, table = tables[0]
        positions, T = "sinusoidal", table.shape[0]
        if context_length is not None:
            if context_length > T:
                raise ValueError(f"context_length={context_length} > the {T} rows of {pos_name}.pe")
            T, table = context_length, table[:context_length]
        names["positions"] = pos_name
        tensors[f"{pos_name}.pe"] = table
    else:
        if context_length is None:
            raise ValueError("the module has no positions (no position nn.Embedding or `pe` table): "
                             "pass context_length= to export (CLI: --context-length N)")
        positions, T = "none", int(context_length)
    names["encoder"] = enc_name
    names["head"] = head_name
    p = enc_name + ".layers."
    for i in range(len(layers)):
        for k in ("self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
                  "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
                  "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"):
            tensors[f"{p}{i}.{k}"] = sd[f"{p}{i}.{k}"]
    if final is not None:
        tensors[f"{enc_name}.norm.weight"] = sd[f"{enc_name}.norm.weight"]
        tensors[f"{enc_name}.norm.bias"] = sd[f"{enc_name}.norm.bias"]
    tensors[f"{head_name}.weight"] = sd[f"{head_name}.weight"]
    if head.bias is not None:
        tensors[f"{head_name}.bias"] = sd[f"{head_name}.bias"]
    config = {"vocab_size": V, "d_model": D, "nhead": H, "num_layers": len(layers),
              "dim_feedforward": F, "context_length": int(T), "layer_norm_eps": float(first.norm1.eps),
              "norm_first": bool(first.norm_first), "activation": _activation_name(first, enc_name),
              "positions": positions, "embed_scale": False, "final_norm": final is not None,
              "head_bias": head.bias is not None, "names": names}
    out = {}
    for k, t in tensors.items():
        t = t.detach().cpu().float().contiguous()
        if not torch.isfinite(t).all():
            raise ValueError(f"{k}: contains NaN or Inf")
        out[k] = t
    return config, out


def encoder_shapes(config):
    """Tensor name -> shape that argen requires for an arch "transformer" config."""
    V, D, F, T = config["vocab_size"], config["d_model"], config["dim_feedforward"], config["context_length"]
    n = config["names"]
    shapes = {f"{n['embedding']}.weight": [V, D]}
    if config["positions"] == "learned":
        shapes[f"{n['positions']}.weight"] = [T, D]
    elif config["positions"] == "sinusoidal":
        shapes[f"{n['positions']}.pe"] = [T, D]
    for i in range(config["num_layers"]):
        p = f"{n['encoder']}.layers.{i}."
        for k, s in (("self_attn.in_proj_weight", [3 * D, D]), ("self_attn.in_proj_bias", [3 * D]),
                     ("self_attn.out_proj.weight", [D, D]), ("self_attn.out_proj.bias", [D]),
                     ("linear1.weight", [F, D]), ("linear1.bias", [F]), ("linear2.weight", [D, F]),
                     ("linear2.bias", [D]), ("norm1.weight", [D]), ("norm1.bias", [D]),
                     ("norm2.weight", [D]), ("norm2.bias", [D])):
            shapes[p + k] = s
    if config["final_norm"]:
        shapes[f"{n['encoder']}.norm.weight"] = [D]
        shapes[f"{n['encoder']}.norm.bias"] = [D]
    shapes[f"{n['head']}.weight"] = [V, D]
    if config["head_bias"]:
        shapes[f"{n['head']}.bias"] = [V]
    return shapes


def _encoder_reference(config, tensors):
    """models/encoder_lm.CausalTransformerLM holding the exported tensors (eval mode)."""
    from encoder_lm import CausalTransformerLM
    ref = CausalTransformerLM(**{k: config[k] for k in CausalTransformerLM.argen_config_keys})
    n = config["names"]
    sd = {}
    for name, t in tensors.items():
        for part, new in (("embedding", "embed"), ("positions", "pos"), ("encoder", "encoder"),
                          ("head", "head")):
            if part in n and name.startswith(n[part] + "."):
                sd[new + name[len(n[part]):]] = t
                break
    if config["positions"] == "sinusoidal":
        sd["pos.pe"] = sd["pos.pe"].reshape(1, config["context_length"], config["d_model"])
    ref.load_state_dict(sd)
    return ref.eval()


def _encoder_user_outputs(module, tokens):
    """The module's logits [B, T, V] for tokens [B, T], trying the usual signatures: batch-first
    or time-major ids, with or without an explicit causal src_mask. Yields each candidate."""
    from encoder_lm import causal_mask
    B, T = tokens.shape
    for ids, time_major in ((tokens, False), (tokens.t().contiguous(), True)):
        for args in ((ids,), (ids, causal_mask(T))):
            try:
                out = module(*args)
            except Exception:  # noqa: BLE001 - unknown user signature
                continue
            if isinstance(out, (tuple, list)) and out:
                out = out[0]
            if not torch.is_tensor(out) or out.dim() != 3:
                continue
            if time_major and out.shape[:2] == (T, B):
                yield out.transpose(0, 1)
            elif not time_major and out.shape[:2] == (B, T):
                yield out


def verify_encoder(module, config, tensors, embed_scale=None, seed=0, length=9, atol=1e-4):
    """Run the module's forward and the reference forward of the exported tensors; pick
    embed_scale (when None: the one that matches). -> embed_scale, or ValueError."""
    tokens = _random_tokens(config["vocab_size"], min(length, config["context_length"]), seed)
    with _eval_mode(module), torch.no_grad():
        outs = list(_encoder_user_outputs(module, tokens))
        if not outs:
            raise ValueError("could not call the module's forward with tokens [B, T] or [T, B] "
                             "(optionally plus a causal mask); pass verify=False and embed_scale=")
        best = None
        for scale in ([embed_scale] if embed_scale is not None else [False, True]):
            want = _encoder_reference(dict(config, embed_scale=scale), tensors)(tokens)
            for got in outs:
                err = (got.float() - want).abs().max().item() / max(1.0, want.abs().max().item())
                if best is None or err < best[0]:
                    best = (err, scale)
    if not best[0] <= atol:
        raise ValueError("the module's forward differs from embedding (* sqrt(d_model)) + positions -> "
                         f"causal nn.TransformerEncoder -> linear (relative max |diff| {best[0]:.3g}): "
                         "does it use a causal mask, and nothing else?")
    return best[1]


# ----------------------------------------------------------------------------- image and audio models

def media_arch(module):
    """'pixelcnn' | 'pixelrnn' | 'wavenet' for models/image_models.GatedPixelCNN / PixelRNN and
    models/wavenet.WaveNet instances (and subclasses), else None."""
    from image_models import GatedPixelCNN, PixelRNN
    from wavenet import WaveNet
    for cls, arch in ((GatedPixelCNN, "pixelcnn"), (PixelRNN, "pixelrnn"), (WaveNet, "wavenet")):
        if isinstance(module, cls):
            return arch
    return None


def _head_shapes(config, features):
    C, L, Hh = config["channels"], config["levels"], config["head_hidden"]
    shapes = {}
    if C > 1:
        shapes["head.channel_in"] = [C, features, C]
    shapes["head.out1.weight"] = [Hh, features, 1, 1]
    shapes["head.out1.bias"] = [Hh]
    shapes["head.out2.weight"] = [C * L, Hh, 1, 1]
    shapes["head.out2.bias"] = [C * L]
    return shapes


def image_shapes(arch, config):
    """Tensor name -> shape, in state_dict (= file) order, of a pixelcnn / pixelrnn config."""
    C, K = config["channels"], config["num_classes"]
    shapes = {}
    if arch == "pixelcnn":
        F_, k, S = config["filters"], config["input_kernel"], config["skip"]
        shapes["v_in.weight"] = [F_, C, k // 2, k]
        shapes["v_in.bias"] = [F_]
        shapes["h_in.weight"] = [F_, C, 1, k // 2]
        shapes["h_in.bias"] = [F_]
        for i in range(config["layers"]):
            p = f"layers.{i}."
            for name, shape in (("v", [2 * F_, F_, 2, 3]), ("h", [2 * F_, F_, 1, 2]),
                                ("v2h", [2 * F_, 2 * F_, 1, 1]), ("res", [F_, F_, 1, 1])) + (
                                    (("skip", [S, F_, 1, 1]),) if S else ()):
                shapes[p + name + ".weight"] = shape
                shapes[p + name + ".bias"] = [shape[0]]
            if K:
                shapes[p + "cond_v.weight"] = [K, 2 * F_]
                shapes[p + "cond_h.weight"] = [K, 2 * F_]
        shapes.update(_head_shapes(config, S or F_))
    elif arch == "pixelrnn":
        Hd, k = config["hidden"], config["kernel"]
        for i in range(config["layers"]):
            p = f"layers.{i}."
            shapes[p + "is_.weight"] = [4 * Hd, C if i == 0 else Hd, 1, k // 2 if i == 0 else k // 2 + 1]
            shapes[p + "is_.bias"] = [4 * Hd]
            shapes[p + "ss.weight"] = [4 * Hd, Hd, k]
            if i == 0:
                shapes[p + "is_up.weight"] = [4 * Hd, C, 1, k]
            if K:
                shapes[p + "cond.weight"] = [K, 4 * Hd]
        shapes.update(_head_shapes(config, Hd))
    else:
        raise ValueError(f"not an image arch: {arch!r}")
    return shapes


def wavenet_shapes(config):
    """Tensor name -> shape, in state_dict (= file) order, of a wavenet config."""
    R, D, S = config["residual_channels"], config["dilation_channels"], config["skip_channels"]
    Q, Hh, N = config["quantization"], config["head_hidden"], config["num_speakers"]
    shapes = {}
    if config["input"] == "embedding":
        shapes["embed.weight"] = [Q, config["embedding_dim"]]
        cin = config["embedding_dim"]
    else:
        cin = Q
    shapes["causal.weight"] = [R, cin, config["input_kernel"]]
    shapes["causal.bias"] = [R]
    for i in range(len(config["dilations"])):
        p = f"layers.{i}."
        shapes[p + "dilated.weight"] = [2 * D, R, 2]
        shapes[p + "dilated.bias"] = [2 * D]
        shapes[p + "res.weight"] = [R, D, 1]
        shapes[p + "res.bias"] = [R]
        shapes[p + "skip.weight"] = [S, D, 1]
        shapes[p + "skip.bias"] = [S]
        if N:
            shapes[p + "cond.weight"] = [N, 2 * D]
    shapes["out1.weight"] = [Hh, S, 1]
    shapes["out1.bias"] = [Hh]
    shapes["out2.weight"] = [Q, Hh, 1]
    shapes["out2.bias"] = [Q]
    return shapes


def media_shapes(arch, config):
    return wavenet_shapes(config) if arch == "wavenet" else image_shapes(arch, config)


def _media_config(module, arch, labels):
    config = {k: v for k, v in module.config().items() if v is not None}
    if arch == "wavenet":
        if config["input"] not in ("one_hot", "embedding"):
            raise ValueError(f"wavenet: input must be 'one_hot' or 'embedding', got {config['input']!r}")
        if not config["dilations"] or not all(isinstance(d, int) and d >= 1 for d in config["dilations"]):
            raise ValueError(f"wavenet: dilations must be positive ints, got {config['dilations']!r}")
        if config["input_kernel"] < 1:
            raise ValueError(f"wavenet: input_kernel must be >= 1, got {config['input_kernel']}")
        key, count, what = "speaker_names", config["num_speakers"], "num_speakers"
    else:
        kern = "input_kernel" if arch == "pixelcnn" else "kernel"
        if config[kern] < 3 or config[kern] % 2 == 0:
            raise ValueError(f"{arch}: {kern} must be odd and >= 3, got {config[kern]}")
        if config["levels"] < 2:
            raise ValueError(f"{arch}: levels must be >= 2, got {config['levels']}")
        key, count, what = "class_names", config["num_classes"], "num_classes"
    if labels is not None:
        labels = list(labels)
        if not all(isinstance(s, str) for s in labels):
            raise ValueError(f"labels ({key}) must be strings")
        if len(labels) != count:
            raise ValueError(f"labels: {len(labels)} {key} given, the model has {what}={count}")
        config[key] = labels
    return config


def inspect_media(module, labels=None):
    """-> (arch, config, tensors [name -> float32 numpy], in file order) of a GatedPixelCNN,
    PixelRNN or WaveNet; ValueError (naming the tensor) for a state_dict that differs from what
    argen reads for the config: missing, extra or wrong-shaped tensors, NaN/Inf."""
    arch = media_arch(module)
    config = _media_config(module, arch, labels)
    shapes = media_shapes(arch, config)
    sd = module.state_dict()
    missing = [k for k in shapes if k not in sd]
    if missing:
        raise ValueError(f"{arch}: state_dict lacks {missing[:8]}")
    extra = [k for k in sd if k not in shapes]
    if extra:
        raise ValueError(f"{arch}: tensors argen would not read: {extra[:8]}")
    tensors = {}
    for k, shape in shapes.items():
        t = sd[k]
        if not torch.is_tensor(t) or not t.is_floating_point():
            raise ValueError(f"{k}: not a floating-point tensor")
        t = t.detach().cpu().float().contiguous()
        if list(t.shape) != shape:
            raise ValueError(f"{k}: shape {list(t.shape)}, expected {shape}")
        if not torch.isfinite(t).all():
            raise ValueError(f"{k}: contains NaN or Inf")
        tensors[k] = t.numpy()
    return arch, config, tensors


def media_reference(arch, config, tensors=None):
    """A fresh reference module for a pixelcnn / pixelrnn / wavenet config (class_names /
    speaker_names ignored), loaded with `tensors` if given."""
    from image_models import GatedPixelCNN, PixelRNN
    from wavenet import WaveNet
    kwargs = {k: v for k, v in config.items() if k not in ("class_names", "speaker_names")}
    ref = {"pixelcnn": GatedPixelCNN, "pixelrnn": PixelRNN, "wavenet": WaveNet}[arch](**kwargs)
    if tensors is not None:
        ref.load_state_dict({k: torch.from_numpy(np.asarray(a, dtype=np.float32)) for k, a in tensors.items()})
    return ref.eval()


def verify_media(module, arch, config, tensors, seed=0, length=20, atol=1e-4):
    """Check that the module's forward equals the reference forward of the exported tensors on a
    random image / random codes (a subclass that changes forward() would export as a different
    model). True or ValueError."""
    ref = media_reference(arch, config, tensors)
    g = torch.Generator().manual_seed(seed)
    if arch == "wavenet":
        x = torch.randint(0, config["quantization"], (1, length), generator=g)
        n = config["num_speakers"]
    else:
        x = torch.randint(0, config["levels"], (1, config["channels"], config["height"], config["width"]),
                          generator=g)
        n = config["num_classes"]
    cond = torch.randint(0, n, (1,), generator=g) if n else None
    dev = next((p.device for p in module.parameters()), torch.device("cpu"))
    with _eval_mode(module), torch.no_grad():
        got = module(x.to(dev), None if cond is None else cond.to(dev)).float().cpu()
        want = ref(x, cond)
    err = (got - want).abs().max().item()
    if not err <= atol * max(1.0, want.abs().max().item()):
        raise ValueError(f"the module's forward differs from the {arch} reference forward "
                         f"(max |diff| {err:.3g})")
    return True


# ----------------------------------------------------------------------------- tokenizers

def normalize_tokenizer(tokenizer, vocab_size):
    """'bytes' | list of chars | str of chars | dict -> validated tokenizer dict."""
    if tokenizer is None:
        raise ValueError("a tokenizer is required: 'bytes' or a list of characters")
    if isinstance(tokenizer, str) and tokenizer == "bytes":
        tok = {"type": "bytes"}
    elif isinstance(tokenizer, (list, tuple)) or (isinstance(tokenizer, str) and len(tokenizer) > 1):
        tok = {"type": "chars", "vocab": list(tokenizer)}
    elif isinstance(tokenizer, dict):
        tok = dict(tokenizer)
    else:
        raise ValueError(f"unrecognised tokenizer {tokenizer!r}")
    if tok.get("type") == "bytes":
        if vocab_size != 256:
            raise ValueError(f"bytes tokenizer needs vocab_size 256, model has {vocab_size}")
        extra = set(tok) - {"type", "bos"}
    elif tok.get("type") == "chars":
        vocab = tok.get("vocab")
        if not isinstance(vocab, list) or not all(isinstance(c, str) and len(c) == 1 for c in vocab):
            raise ValueError("chars tokenizer: 'vocab' must be a list of single Unicode characters")
        if len(set(vocab)) != len(vocab):
            raise ValueError("chars tokenizer: duplicate characters in vocab")
        if len(vocab) != vocab_size:
            raise ValueError(f"chars tokenizer has {len(vocab)} characters, model vocab_size is {vocab_size}")
        extra = set(tok) - {"type", "vocab", "bos"}
    else:
        raise ValueError(f"tokenizer type must be 'bytes' or 'chars', got {tok.get('type')!r}")
    if extra:
        raise ValueError(f"unknown tokenizer keys {sorted(extra)}")
    if "bos" in tok:
        b = tok["bos"]
        if not isinstance(b, int) or isinstance(b, bool) or not 0 <= b < vocab_size:
            raise ValueError(f"tokenizer bos={b!r} is not a token id in [0, {vocab_size})")
    return tok


# ----------------------------------------------------------------------------- export

def _reference_logits(arch, config, tensors, tokens):
    """Logits computed by torch.nn from the exported tensors (float32)."""
    from argen_models import RecurrentLM
    n = config["names"]
    ref = RecurrentLM(arch, config["vocab_size"], config["hidden_size"], config["num_layers"],
                      config.get("embedding_dim"), config["bias"],
                      config.get("nonlinearity", "tanh"), config["head_bias"])
    sd = {}
    for name, arr in tensors.items():
        for part, new in (("embedding", "embed"), ("rnn", "rnn"), ("head", "head")):
            p = n.get(part)
            if p is not None and name.startswith(p + "."):
                sd[new + name[len(p):]] = torch.from_numpy(np.asarray(arr, dtype=np.float32))
    ref.load_state_dict(sd)
    with torch.no_grad():
        return ref(tokens)[0]


def _try_user_forward(module, tokens, vocab, one_hot):
    """Call the user's forward on tokens the usual ways; return logits [B,T,V] or None."""
    attempts = [tokens]
    if one_hot:
        attempts.append(torch.nn.functional.one_hot(tokens, vocab).float())
    for x in attempts:
        try:
            out = module(x)
        except Exception:  # noqa: BLE001 - unknown user signature
            continue
        if isinstance(out, (tuple, list)) and out:
            out = out[0]
        if torch.is_tensor(out) and out.shape == (tokens.shape[0], tokens.shape[1], vocab):
            return out
        if torch.is_tensor(out) and out.dim() == 3 and out.shape == (tokens.shape[1], tokens.shape[0], vocab):
            return out.transpose(0, 1)  # batch_first=False user module
    return None


def verify_forward(module, arch, config, tensors, seed=0, length=9, atol=1e-4):
    """Best-effort check that argen's computation (embedding/one-hot -> rnn -> head, nothing
    else) reproduces the module's own forward. Returns True (matches), None (could not call
    the module's forward with tokens) or raises ValueError (mismatch)."""
    tokens = _random_tokens(config["vocab_size"], length, seed)
    with _eval_mode(module), torch.no_grad():
        got = _try_user_forward(module, tokens, config["vocab_size"], config["input"] == "one_hot")
    if got is None:
        return None
    want = _reference_logits(arch, config, tensors, tokens)
    err = (got.float() - want).abs().max().item()
    if not err <= atol * max(1.0, want.abs().max().item()):
        raise ValueError(f"the module's forward differs from embedding/one-hot -> {arch} -> linear "
                         f"(max |diff| {err:.3g}): it must do something argen does not "
                         "(extra layers, activations, scaling?)")
    return True


def export(module, path, tokenizer="bytes", dtype="float32", name=None, description=None,
           trained_on=None, license=None, verify=True, extra_metadata=None, context_length=None,
           embed_scale=None, labels=None):
    """Write `module` as an argen/1 .safetensors file at `path`; returns the metadata dict.

    tokenizer: 'bytes', a list (or string) of single characters, or a dict
               {"type": "bytes"|"chars", "vocab": [...], "bos": id}.
    dtype:     'float32' | 'float16' | 'bfloat16' (storage type of every tensor), or 'int8':
               every tensor of 2+ dimensions as I8 plus `<name>.scale` (F32, one scale per
               row; quantize_rows), the rest float32. argen multiplies by int8 weights then.
    verify:    also run the module's own forward (if it accepts tokens[B,T]) and check that
               argen's computation gives the same logits; raises ValueError if not.
    context_length, embed_scale: arch "transformer" only (see inspect_encoder): the context
               of a module without positions (a sinusoidal table may also be cut to it;
               default: the module's int attribute `context_length`, if any), and
               whether the token embedding is multiplied by sqrt(d_model) (None: the module's
               `embed_scale` attribute if it is a bool, else whichever matches its forward).
    labels:    image/audio models only: the class names (GatedPixelCNN / PixelRNN, as many as
               num_classes; config key `class_names`) or speaker names (WaveNet, as many as
               num_speakers; config key `speaker_names`). Image/audio files carry no tokenizer
               (the `tokenizer` argument is ignored for them).
    """
    dtype = _DTYPE_ALIASES.get(str(dtype).replace("torch.", ""))
    if dtype is None:
        raise ValueError("dtype must be float32, float16, bfloat16 or int8")
    arch = media_arch(module)
    if arch:
        arch, config, tensors = inspect_media(module, labels)
        if verify:
            verify_media(module, arch, config, tensors)
        return _write(path, arch, config, tensors, None, dtype, name, description, trained_on,
                      license, extra_metadata, modality="audio" if arch == "wavenet" else "image")
    if labels is not None:
        raise ValueError("labels: only for image (class names) and audio (speaker names) models")
    if _find(module, (nn.TransformerEncoder,)):
        if context_length is None and type(getattr(module, "context_length", None)) is int:
            context_length = module.context_length  # CausalTransformerLM carries it
        config, tensors = inspect_encoder(module, context_length)
        if embed_scale is None and isinstance(getattr(module, "embed_scale", None), bool):
            embed_scale = module.embed_scale
        if verify:
            embed_scale = verify_encoder(module, config, tensors, embed_scale)
        elif embed_scale is None:
            raise ValueError("verify=False: pass embed_scale=True/False (is the token embedding "
                             "multiplied by sqrt(d_model)?)")
        config["embed_scale"] = bool(embed_scale)
        tok = normalize_tokenizer(tokenizer, config["vocab_size"])
        return _write(path, "transformer", config, {k: t.numpy() for k, t in tensors.items()}, tok,
                      dtype, name, description, trained_on, license, extra_metadata)
    if transformer_arch(module):
        arch, config, shapes = inspect_transformer(module)
        sd = module.state_dict()
        tensors = {}
        for k, shape in shapes.items():
            t = sd[k].detach().cpu().float().contiguous()
            if list(t.shape) != shape:
                raise ValueError(f"{k}: shape {list(t.shape)}, expected {shape}")
            if not torch.isfinite(t).all():
                raise ValueError(f"{k}: contains NaN or Inf")
            tensors[k] = t.numpy()
        tok = normalize_tokenizer(tokenizer, config["vocab_size"])
        if verify:
            verify_transformer(module, arch, config, tensors)
        return _write(path, arch, config, tensors, tok, dtype, name, description, trained_on,
                      license, extra_metadata)

    arch, config, wanted = inspect_module(module)
    sd = module.state_dict()
    wanted_set = set(wanted)
    owners = set(config["names"].values())
    leftovers = [k for k, v in sd.items() if k not in wanted_set and torch.is_tensor(v)
                 and v.numel() > 0 and not any(k.startswith(o + ".") for o in owners)]
    shapes = expected_shapes(arch, config)
    tensors = {}
    for k in wanted:
        t = sd[k].detach().cpu().float().contiguous()
        if list(t.shape) != shapes[k]:
            raise ValueError(f"{k}: shape {list(t.shape)}, expected {shapes[k]}")
        if not torch.isfinite(t).all():
            raise ValueError(f"{k}: contains NaN or Inf")
        tensors[k] = t.numpy()
    tok = normalize_tokenizer(tokenizer, config["vocab_size"])

    verified = None
    if verify or leftovers:
        try:
            verified = verify_forward(module, arch, config, tensors)
        except ValueError as e:
            if leftovers:
                raise ValueError(f"{e}; tensors outside embedding/rnn/head: {leftovers[:8]}") from None
            raise
    if leftovers:
        if not verified:
            raise ValueError(f"the module has tensors argen would ignore: {leftovers[:8]}"
                             f"{' ...' if len(leftovers) > 8 else ''} (only embedding, rnn and head "
                             "run) and its forward could not be checked to not use them")
        warnings.warn(f"export: leaving out tensors that forward() does not use: {leftovers[:8]}",
                      stacklevel=2)
    elif verify and verified is None:
        warnings.warn("export: could not call the module's forward with tokens[B,T]; "
                      "skipped the logits check", stacklevel=2)
    return _write(path, arch, config, tensors, tok, dtype, name, description, trained_on, license,
                  extra_metadata)


def _write(path, arch, config, tensors, tok, dtype, name, description, trained_on, license,
           extra_metadata, modality="text"):
    if dtype == "float16":
        for k, a in tensors.items():
            if np.abs(a).max(initial=0) > 65504:
                raise ValueError(f"{k}: values exceed the float16 range")
        out = {k: a.astype(np.float16) for k, a in tensors.items()}
    elif dtype == "bfloat16":
        out = {k: st.BF16(st.float32_to_bf16_bits(a)) for k, a in tensors.items()}
    elif dtype == "int8":
        out = {}
        for k, a in tensors.items():
            if np.ndim(a) >= 2 and np.shape(a)[0] > 0:
                out[k], out[k + ".scale"] = quantize_rows(a)
            else:
                out[k] = a
    else:
        out = tensors

    meta = {"format": FORMAT, "arch": arch, "modality": modality,
            "config": json.dumps(config, ensure_ascii=False)}
    if tok is not None:  # image / audio models have none
        meta["tokenizer"] = json.dumps(tok, ensure_ascii=False)
    for key, val in (("name", name), ("description", description), ("trained_on", trained_on),
                     ("license", license)):
        if val is not None:
            meta[key] = str(val)
    for key, val in (extra_metadata or {}).items():
        meta[str(key)] = str(val)
    st.save(path, out, meta)
    return meta


def round_trip_dtype(module, dtype):
    """Round every floating parameter/buffer of `module` in place to `dtype` and back to
    float32 (what argen will see after loading a float16/bfloat16 export)."""
    dtype = _DTYPE_ALIASES[dtype]
    with torch.no_grad():
        if dtype == "int8":  # tensors of 2+ dimensions as their int8 codes times row scales
            for t in module.parameters():
                if t.dim() >= 2 and t.shape[0] > 0:
                    q, scale = quantize_rows(t.detach().float().numpy())
                    t.copy_(torch.from_numpy(q.astype(np.float32) * scale.reshape((-1,) + (1,) * (t.dim() - 1))))
            return module
    tdt = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[dtype]
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            if t.is_floating_point():
                t.copy_(t.to(tdt).float())
    return module


# ----------------------------------------------------------------------------- CLI

def _load_checkpoint(path, module_spec=None, module_kwargs=None):
    """-> (module, info dict) from a checkpoint file.

    Accepted forms:
      * a whole pickled nn.Module (torch.save(model, path)); its class must be importable;
      * a dict {"model_config": RecurrentLM kwargs, "state_dict": ...} (what train_text.py
        writes; "tokenizer" and "metadata" entries are used as defaults);
      * a state_dict (or {"state_dict": ...}) plus --module FILE.py:Class or pkg.mod:Class
        and --kwargs JSON to build the module to load it into.
    """
    obj = torch.load(path, map_location="cpu")
    info = {}
    if isinstance(obj, nn.Module):
        return obj, info
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: not an nn.Module or a dict checkpoint")
    info = {k: obj[k] for k in ("tokenizer", "metadata") if k in obj}
    sd = obj.get("state_dict", obj.get("model", obj))
    if isinstance(sd, nn.Module):
        return sd, info
    if module_spec:
        target, _, cls_name = module_spec.rpartition(":")
        here = os.path.dirname(os.path.abspath(__file__))
        if target.endswith(".py") and os.path.dirname(os.path.abspath(target)) == here:
            # one of models/*.py: import it under its own name, so that isinstance checks
            # (GatedPixelCNN, PixelRNN, WaveNet) see the same classes
            mod = importlib.import_module(os.path.basename(target)[:-3])
        elif target.endswith(".py"):
            spec = importlib.util.spec_from_file_location("user_module", target)
            mod = importlib.util.module_from_spec(spec)
            sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
            spec.loader.exec_module(mod)
        else:
            mod = importlib.import_module(target)
        module = getattr(mod, cls_name)(**(module_kwargs or {}))
    elif "model_config" in obj:
        from argen_models import RecurrentLM
        module = RecurrentLM(**obj["model_config"])
    else:
        raise ValueError(f"{path} holds a bare state_dict: pass --module FILE.py:Class "
                         "(and --kwargs JSON) to say which module it belongs to")
    module.load_state_dict(sd)
    return module, info


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Export a PyTorch language model (RNN/GRU/LSTM, or a models/transformers.py "
                    "GPT/Llama) to argen .safetensors.",
        epilog="Checkpoint forms: a pickled nn.Module; a dict with 'model_config' (RecurrentLM "
               "kwargs) and 'state_dict' (train_text.py writes these, with 'tokenizer' and "
               "'metadata'); or a state_dict plus --module/--kwargs.")
    p.add_argument("checkpoint")
    p.add_argument("output")
    p.add_argument("--tokenizer", default=None,
                   help="'bytes', or a JSON tokenizer object, e.g. "
                        "'{\"type\":\"chars\",\"vocab\":[\"a\",\"b\"],\"bos\":0}'. "
                        "Default: the checkpoint's tokenizer, else bytes.")
    p.add_argument("--chars-from", metavar="FILE",
                   help="chars tokenizer: the sorted distinct characters of this UTF-8 text file")
    p.add_argument("--bos", type=int, default=None, help="bos token id to record")
    p.add_argument("--dtype", default="float32", choices=sorted(_DTYPE_ALIASES))
    p.add_argument("--module", help="FILE.py:Class or package.module:Class for state_dict checkpoints")
    p.add_argument("--kwargs", default="{}", help="JSON constructor kwargs for --module")
    p.add_argument("--name")
    p.add_argument("--description")
    p.add_argument("--trained-on")
    p.add_argument("--license")
    p.add_argument("--no-verify", action="store_true", help="skip the forward() logits check")
    p.add_argument("--context-length", type=int, default=None,
                   help="arch transformer without positions: the context length to record")
    p.add_argument("--embed-scale", choices=("true", "false"), default=None,
                   help="arch transformer: token embedding times sqrt(d_model) (default: detected)")
    p.add_argument("--labels", default=None,
                   help="pixelcnn/pixelrnn/wavenet: JSON list of class (speaker) names, one per class")
    a = p.parse_args(argv)

    module, info = _load_checkpoint(a.checkpoint, a.module, json.loads(a.kwargs))
    if a.chars_from:
        with open(a.chars_from, encoding="utf-8") as f:
            tok = {"type": "chars", "vocab": sorted(set(f.read()))}
    elif a.tokenizer:
        tok = "bytes" if a.tokenizer == "bytes" else json.loads(a.tokenizer)
    else:
        tok = info.get("tokenizer", "bytes")
    if a.bos is not None:
        if media_arch(module):
            raise ValueError("--bos: image/audio models have no tokenizer")
        vocab = (inspect_encoder(module, a.context_length)[0] if _find(module, (nn.TransformerEncoder,))
                 else module.config() if transformer_arch(module) else inspect_module(module)[1])["vocab_size"]
        tok = dict(normalize_tokenizer(tok, vocab), bos=a.bos)
    meta = dict(info.get("metadata", {}))
    for k in ("name", "description", "trained_on", "license"):
        v = getattr(a, k)
        if v is not None:
            meta[k] = v
    m = export(module, a.output, tokenizer=tok, dtype=a.dtype, verify=not a.no_verify,
               context_length=a.context_length,
               embed_scale=None if a.embed_scale is None else a.embed_scale == "true",
               labels=None if a.labels is None else json.loads(a.labels),
               name=meta.pop("name", None), description=meta.pop("description", None),
               trained_on=meta.pop("trained_on", None), license=meta.pop("license", None))
    size = os.path.getsize(a.output)
    cfg = json.loads(m["config"])
    shapes = (encoder_shapes(cfg) if m["arch"] == "transformer" else
              media_shapes(m["arch"], cfg) if m["arch"] in ("pixelcnn", "pixelrnn", "wavenet") else
              (transformer_shapes if m["arch"] in ("gpt", "llama", "hybrid") else expected_shapes)(m["arch"], cfg))
    n_params = sum(int(np.prod(s)) for s in shapes.values())
    print(f"wrote {a.output}: arch={m['arch']} params={n_params} bytes={size} dtype={a.dtype}")
    print(f"config={m['config']}")


if __name__ == "__main__":
    try:
        main()
    except ValueError as e:
        sys.exit(f"export: error: {e}")
