"""ONNX export of the task encoders: the QQP `PairClassifier` and the NER tagger's emissions.

ONNX is a file format for computation graphs that inference runtimes (onnxruntime, TensorRT,
OpenVINO, browsers...) execute.  The graph is written node by node from a model's config and
`state_dict()` with the `onnx` package's helper API, using standard operators of opset 17 only
(Gather, MatMul, Add, LayerNormalization, Softmax, ...), so any runtime that implements the
standard can run it.  Weights become initializers under their `state_dict` names.

    PairClassifier   ids, segments: int64 (batch, seq)          -> logits (batch, num_classes)
    NERTagger        words, cases: int64 (batch, seq),
                     chars: int64 (batch, seq, chars)           -> emissions (batch, seq, num_tags)

The CRF of the tagger is not in the graph: Viterbi decoding of the emissions stays in numpy
(`NERTagger.decode`).  Batch and sequence lengths are dynamic.

`onnx` and `onnxruntime` are an optional extra (`pip install "packages/transformer[onnx]"`),
imported only here and only when an export or a session is asked for.

Example:
    >>> from pmt.graph import no_grad
    >>> from pmt.transformer.qqp.model import PairClassifier, PairClassifierConfig
    >>> model = PairClassifier(PairClassifierConfig(vocab_size=100, d_model=16, n_heads=2, d_ff=32)).eval()
    >>> ids, segments = np.array([[2, 7, 3, 9, 3]]), np.array([[0, 0, 0, 1, 1]])
    >>> export_onnx(model, "qqp.onnx")
    PosixPath('qqp.onnx')
    >>> session = onnx_session("qqp.onnx", threads=1)
    >>> logits = session.run(None, {"ids": ids, "segments": segments})[0]
    >>> with no_grad():                                   # onnxruntime and PMT agree
    ...     bool(np.allclose(logits, model(ids, segments).data, atol=1e-5))
    True
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
from pmt.core.files import atomic_open

from .layers import sinusoidal_table
from .ner.model import TaggerConfig
from .qqp.model import PairClassifierConfig

__all__ = ["OPSET", "require", "pair_classifier_onnx", "tagger_onnx", "export_onnx", "onnx_session"]

OPSET = 17                   # the first opset with LayerNormalization
INSTALL_HINT = 'pip install "packages/transformer[onnx]" from the repository root (or: make install-onnx)'
_MASKED = -1e9               # added to the scores of padding keys: exp(-1e9 - max) is exactly 0 in float32


def require(name: str):
    """Import the optional module `name` ("onnx" or "onnxruntime") or say in one line how to get it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImportError(f"ONNX export and inference need the optional packages onnx and onnxruntime "
                          f"({name} is missing): {INSTALL_HINT}", name=name) from None


class _Graph:
    """Collects nodes and initializers; every `op` returns the name of its (single) output."""

    def __init__(self, state: dict):
        self.onnx = require("onnx")
        self.state, self.nodes, self.inits, self.names = state, [], [], set()

    def weight(self, key: str) -> str:
        """The state_dict entry `key` as a float32 initializer of the same name (added once)."""
        if key not in self.names:
            if key not in self.state:
                raise ValueError(f"ONNX export: the state_dict has no {key!r}")
            self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(self.state[key], np.float32), key))
            self.names.add(key)
        return key

    def const(self, value, dtype) -> str:
        name = f"const_{len(self.inits)}"
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs) -> str:
        out = out or f"{op_type.lower()}_{len(self.nodes)}"
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    # ------------------------------------------------------------- layers, from their state_dict keys
    def linear(self, x, prefix):
        """x W + b with PMT's (d_in, d_out) weight layout."""
        return self.op("Add", self.op("MatMul", x, self.weight(f"{prefix}.weight")), self.weight(f"{prefix}.bias"))

    def layer_norm(self, x, prefix, eps=1e-5):
        return self.op("LayerNormalization", x, self.weight(f"{prefix}.gamma"), self.weight(f"{prefix}.beta"),
                       axis=-1, epsilon=eps)

    def feed_forward(self, x, layer):
        """relu(x W1 + b1) W2 + b2 of encoder layer `layer` (a state_dict prefix)."""
        return self.linear(self.op("Relu", self.linear(x, f"{layer}.ff.linear1")), f"{layer}.ff.linear2")

    def self_attention(self, x, layer, n_heads, d_model, mask):
        """softmax(Q K^T / sqrt(dh) + mask) V per head, heads merged, then the output projection."""
        prefix, dh = f"{layer}.self_attn", d_model // n_heads
        qkv = self.linear(x, f"{prefix}.qkv_proj")                               # (B, T, 3d)
        qkv = self.op("Reshape", qkv, self.const([0, 0, 3, n_heads, dh], np.int64))  # (B, T, 3, H, dh)
        qkv = self.op("Transpose", qkv, perm=[2, 0, 3, 1, 4])                     # (3, B, H, T, dh)
        q, k, v = (self.op("Gather", qkv, self.const(i, np.int64), axis=0) for i in range(3))  # (B, H, T, dh)
        s = self.op("MatMul", q, self.op("Transpose", k, perm=[0, 1, 3, 2]))      # (B, H, T, T)
        s = self.op("Add", self.op("Mul", s, self.const(1.0 / np.sqrt(dh), np.float32)), mask)
        o = self.op("MatMul", self.op("Softmax", s, axis=-1), v)                 # (B, H, T, dh)
        o = self.op("Reshape", self.op("Transpose", o, perm=[0, 2, 1, 3]), self.const([0, 0, d_model], np.int64))
        return self.linear(o, f"{prefix}.out_proj")                              # (B, T, d)

    def encoder(self, x, n_layers, n_heads, d_model, mask):
        """PMT's pre-LN TransformerEncoder (what both task models use): per layer
        x += attn(LN1(x)); x += ff(LN2(x)); then the final LayerNorm `encoder.norm`."""
        for i in range(n_layers):
            p = f"encoder.layers.{i}"
            x = self.op("Add", x, self.self_attention(self.layer_norm(x, f"{p}.norm1"), p, n_heads, d_model, mask))
            x = self.op("Add", x, self.feed_forward(self.layer_norm(x, f"{p}.norm2"), p))
        return self.layer_norm(x, "encoder.norm")

    def key_mask(self, ids, pad_id):
        """(B, 1, 1, T) additive mask: 0 on real tokens, -1e9 on padding."""
        real = self.op("Not", self.op("Equal", ids, self.const(pad_id, np.int64)))
        add = self.op("Where", real, self.const(0.0, np.float32), self.const(_MASKED, np.float32))
        return real, self.op("Unsqueeze", add, self.const([1, 2], np.int64))

    def first_rows(self, table, like, axis):
        """table[:T] with T = like.shape[axis] (dynamic)."""
        t = self.op("Shape", like, start=axis, end=axis + 1)
        return self.op("Slice", table, self.const([0], np.int64), t, self.const([0], np.int64))

    def model(self, name, inputs, outputs, metadata):
        h, o = self.onnx.helper, self.onnx
        m = h.make_model(h.make_graph(self.nodes, name, inputs, outputs, self.inits),
                         opset_imports=[h.make_opsetid("", OPSET)], producer_name="pmt")
        h.set_model_props(m, metadata)
        o.checker.check_model(m)
        return m


def _int_input(g, name, *dims):
    return g.onnx.helper.make_tensor_value_info(name, g.onnx.TensorProto.INT64, list(dims))


def _float_output(g, name, *dims):
    return g.onnx.helper.make_tensor_value_info(name, g.onnx.TensorProto.FLOAT, list(dims))


def pair_classifier_onnx(config: PairClassifierConfig, state: dict):
    """The ONNX ModelProto of a `PairClassifier`: (ids, segments) -> logits.

    Args:
        config: the model's `PairClassifierConfig` (pooling "cls" or "mean").
        state: its `state_dict()`.
    """
    c = config
    g = _Graph(state)
    real, mask = g.key_mask("ids", c.pad_id)
    x = g.op("Add", g.op("Gather", g.weight("tok_emb.weight"), "ids"), g.op("Gather", g.weight("seg_emb.weight"),
                                                                            "segments"))
    x = g.op("Add", x, g.first_rows(g.weight("pos.weight"), "ids", 1))           # (B, T, d)
    h = g.encoder(x, c.n_layers, c.n_heads, c.d_model, mask)                      # (B, T, d)
    if c.pooling == "cls":
        pooled = g.op("Gather", h, g.const(0, np.int64), axis=1)                 # (B, d)
    else:
        # mean over real tokens: weights real / max(count, 1), as in PairClassifier.forward
        w = g.op("Cast", real, to=g.onnx.TensorProto.FLOAT)                      # (B, T)
        count = g.op("Max", g.op("ReduceSum", w, g.const([1], np.int64), keepdims=1), g.const(1.0, np.float32))
        w = g.op("Unsqueeze", g.op("Div", w, count), g.const([2], np.int64))     # (B, T, 1)
        pooled = g.op("ReduceSum", g.op("Mul", h, w), g.const([1], np.int64), keepdims=0)
    g.op("Identity", g.linear(pooled, "head"), out="logits")
    return g.model("pmt_qqp_pair_classifier", [_int_input(g, "ids", "batch", "seq"),
                                               _int_input(g, "segments", "batch", "seq")],
                   [_float_output(g, "logits", "batch", c.num_classes)],
                   {"pmt.task": "qqp", "pmt.config": json.dumps(c.to_dict())})


def tagger_onnx(config: TaggerConfig, state: dict):
    """The ONNX ModelProto of an `NERTagger`'s emissions: (words, cases, chars) -> emissions.

    Args:
        config: the tagger's `TaggerConfig`.
        state: its `state_dict()` (the CRF parameters in it are not used by the graph).
    """
    c = config
    g = _Graph(state)
    k, left = c.char_window, c.char_window // 2
    # Character CNN: pad each word's ids with 0 (a learned embedding row, as in CharCNN), embed,
    # and lay the k shifted copies side by side: row l holds [e_l-left, ..., e_l+k-1-left].
    padded = g.op("Pad", "chars", g.const([0, 0, left, 0, 0, k - 1 - left], np.int64))
    e = g.op("Gather", g.weight("chars.emb.weight"), padded)                     # (B, T, L+k-1, dim)
    big = np.iinfo(np.int64).max
    shifted = [g.op("Slice", e, g.const([j], np.int64), g.const([j - (k - 1) if j < k - 1 else big], np.int64),
                    g.const([2], np.int64)) for j in range(k)]                   # k x (B, T, L, dim)
    z = g.op("Relu", g.linear(g.op("Concat", *shifted, axis=-1), "chars.conv"))  # (B, T, L, filters)
    # Max over real characters; the first slot always counts (a padding word pools one slot).
    n_chars = g.op("Squeeze", g.op("Shape", "chars", start=2, end=3), g.const([0], np.int64))
    first = g.op("Equal", g.op("Range", g.const(0, np.int64), n_chars, g.const(1, np.int64)), g.const(0, np.int64))
    valid = g.op("Or", g.op("Not", g.op("Equal", "chars", g.const(0, np.int64))), first)   # (B, T, L)
    z = g.op("Where", g.op("Unsqueeze", valid, g.const([3], np.int64)), z, g.const(-1e4, np.float32))
    e_ch = g.op("ReduceMax", z, axes=[2], keepdims=0)                            # (B, T, filters)
    feats = g.op("Concat", g.op("Gather", g.weight("word_emb.weight"), "words"),
                 g.op("Gather", g.weight("case_emb.weight"), "cases"), e_ch, axis=-1)
    pe = g.const(sinusoidal_table(512, c.d_model), np.float32)
    x = g.op("Add", g.linear(feats, "proj"), g.first_rows(pe, "words", 1))       # (B, T, d)
    _, mask = g.key_mask("words", 0)
    h = g.encoder(x, c.n_layers, c.n_heads, c.d_model, mask)
    g.op("Identity", g.linear(h, "out"), out="emissions")                        # (B, T, K)
    return g.model("pmt_ner_tagger", [_int_input(g, "words", "batch", "seq"), _int_input(g, "cases", "batch", "seq"),
                                      _int_input(g, "chars", "batch", "seq", "chars")],
                   [_float_output(g, "emissions", "batch", "seq", len(c.tags))],
                   {"pmt.task": "ner", "pmt.config": json.dumps(c.to_dict())})


def check_exportable(model):
    """Raise ValueError for a model `export_onnx` has no graph for (a tagger fine-tuned from a
    pretraining run: its sub-word encoder and first-sub-word lookup are not written yet)."""
    config = getattr(model, "config", None)
    if isinstance(config, TaggerConfig) and config.pretrained is not None:
        raise ValueError("export_onnx: a tagger with a pretrained encoder (train --init) has no ONNX graph "
                         "here yet; export its weights with --safetensors")


def export_onnx(model, path) -> Path:
    """Write `model` (a PairClassifier or an NERTagger) as an ONNX file, atomically.

    Args:
        model: the trained model; its `config` picks the graph, its `state_dict()` the weights.
        path: the target `.onnx` file (parent folders are created).
    Returns:
        the path written.
    Raises:
        ImportError: the onnx extra is not installed (the message says how to install it).
        TypeError: a model of another kind.
        ValueError: a tagger fine-tuned from a pretraining run (its sub-word encoder is not written).
    """
    config = getattr(model, "config", None)
    if isinstance(config, PairClassifierConfig):
        proto = pair_classifier_onnx(config, model.state_dict())
    elif isinstance(config, TaggerConfig):
        check_exportable(model)
        proto = tagger_onnx(config, model.state_dict())
    else:
        raise TypeError(f"export_onnx: expected a PairClassifier or an NERTagger, got {type(model).__name__}")
    with atomic_open(path) as f:
        f.write(proto.SerializeToString())
    return Path(path)


def onnx_session(path, threads: int | None = None):
    """An onnxruntime `InferenceSession` on the CPU for the ONNX file `path`.

    Args:
        path: an `.onnx` file (e.g. written by `export_onnx`).
        threads: intra-op threads (None: onnxruntime's default, one per core).
    Raises:
        FileNotFoundError: no such file.  ValueError: onnxruntime cannot load it.
    """
    ort = require("onnxruntime")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX file")
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = opts.inter_op_num_threads = int(threads)
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:          # onnxruntime raises its own classes (InvalidProtobuf, Fail, ...)
        raise ValueError(f"{path}: onnxruntime cannot load this file: {str(e).splitlines()[0]}") from e
