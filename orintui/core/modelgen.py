"""Random-weight llama GGUF models that llama.cpp and tinygrad both load.

No weights can be downloaded where orintui is tested, so the project writes its own models: the
architecture and tokenizer are real (llama, byte-level BPE in the GPT-2 byte mapping), the
weights are noise. Random weights sample end-of-text at any point: generate with --ignore-eos.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

SPECIAL_TOKENS = ("<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>")
MERGES = ("Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "Ġt he", "e r")


@dataclass(frozen=True)
class ModelShape:
    dim: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    vocab: int  # at least the 256 byte tokens + merges + specials; the rest are filler words
    context: int = 4096
    tied: bool = False  # no output.weight: the output reuses token_embd, as Llama 3.2 does

    def params(self) -> int:
        head_dim = self.dim // self.heads
        attn = 2 * self.dim * self.dim + 2 * self.dim * self.kv_heads * head_dim
        per_layer = attn + 3 * self.dim * self.ffn + 2 * self.dim
        return (1 if self.tied else 2) * self.vocab * self.dim + self.layers * per_layer + self.dim


SHAPES = {
    # tinygrad on CPU compiles per kernel, not per byte: keep the tiny one tiny
    "tiny": ModelShape(dim=64, layers=2, heads=4, kv_heads=2, ffn=192, vocab=512, context=512),
    # sized so llama.cpp on a 2-core CPU takes more than 1 ms per token
    "small": ModelShape(dim=512, layers=8, heads=8, kv_heads=4, ffn=1536, vocab=2048, context=1024),
    # the shape of Llama 3.2 1B (about 2.5 GB in f16)
    "llama-3.2-1b": ModelShape(dim=2048, layers=16, heads=32, kv_heads=8, ffn=8192, vocab=128256,
                               context=8192, tied=True),
}


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def vocabulary(size: int) -> tuple[list[str], list[int]]:
    """Tokens and token types: bytes, merges, filler words, then the special tokens."""
    tokens = list(byte_to_unicode().values())
    tokens += [m.replace(" ", "") for m in MERGES]
    filler = size - len(tokens) - len(SPECIAL_TOKENS)
    if filler < 0:
        raise ValueError(f"vocab of {size} is too small: need {len(tokens) + len(SPECIAL_TOKENS)}")
    # "Ġ" is the byte map's space: filler tokens read as words, so every token prints something
    tokens += [f"Ġw{i}" for i in range(filler)]
    types = [1] * len(tokens) + [3] * len(SPECIAL_TOKENS)
    return tokens + list(SPECIAL_TOKENS), types


def write_model(path: str | os.PathLike, shape: ModelShape, *, seed: int = 0, name: str = "random") -> Path:
    """Write a random-weight llama GGUF (f16 matrices, f32 norms) by atomic rename."""
    import gguf
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tokens, types = vocabulary(shape.vocab)
    head_dim = shape.dim // shape.heads
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    os.close(fd)
    try:
        w = gguf.GGUFWriter(tmp, "llama")
        w.add_name(name)
        w.add_context_length(shape.context)
        w.add_embedding_length(shape.dim)
        w.add_block_count(shape.layers)
        w.add_feed_forward_length(shape.ffn)
        w.add_head_count(shape.heads)
        w.add_head_count_kv(shape.kv_heads)
        w.add_rope_dimension_count(head_dim)
        w.add_layer_norm_rms_eps(1e-5)
        w.add_rope_freq_base(500000.0)
        w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
        w.add_vocab_size(len(tokens))
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("llama-bpe")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(list(MERGES))
        bos = tokens.index("<|begin_of_text|>")
        w.add_bos_token_id(bos)
        w.add_eos_token_id(tokens.index("<|end_of_text|>"))
        w.add_eot_token_id(tokens.index("<|eot_id|>"))
        w.add_add_bos_token(True)

        def mat(rows: int, cols: int) -> np.ndarray:
            # scaled so activations neither vanish nor explode through the layers
            return (rng.standard_normal((rows, cols), dtype=np.float32) / np.sqrt(cols)).astype(np.float16)

        def norm(n: int) -> np.ndarray:
            return np.ones(n, dtype=np.float32)

        kv_dim = shape.kv_heads * head_dim
        w.add_tensor("token_embd.weight", mat(len(tokens), shape.dim))
        for i in range(shape.layers):
            b = f"blk.{i}."
            w.add_tensor(b + "attn_norm.weight", norm(shape.dim))
            w.add_tensor(b + "attn_q.weight", mat(shape.dim, shape.dim))
            w.add_tensor(b + "attn_k.weight", mat(kv_dim, shape.dim))
            w.add_tensor(b + "attn_v.weight", mat(kv_dim, shape.dim))
            w.add_tensor(b + "attn_output.weight", mat(shape.dim, shape.dim))
            w.add_tensor(b + "ffn_norm.weight", norm(shape.dim))
            w.add_tensor(b + "ffn_gate.weight", mat(shape.ffn, shape.dim))
            w.add_tensor(b + "ffn_up.weight", mat(shape.ffn, shape.dim))
            w.add_tensor(b + "ffn_down.weight", mat(shape.dim, shape.ffn))
        w.add_tensor("output_norm.weight", norm(shape.dim))
        if not shape.tied:
            w.add_tensor("output.weight", mat(len(tokens), shape.dim))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def ensure_model(path: str | os.PathLike, shape_name: str) -> Path:
    """Return path, writing the model there first if it is not yet present."""
    path = Path(path)
    if not path.exists():
        write_model(path, SHAPES[shape_name], name=f"orintui-{shape_name}")
    return path


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m orintui.core.modelgen", description=__doc__.splitlines()[0])
    p.add_argument("shape", choices=sorted(SHAPES))
    p.add_argument("out", help="path of the .gguf to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="rewrite an existing file")
    args = p.parse_args(argv)
    if Path(args.out).exists() and not args.force:
        print(args.out)
        return 0
    write_model(args.out, SHAPES[args.shape], seed=args.seed, name=f"orintui-{args.shape}")
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
