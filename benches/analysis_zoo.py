"""Workload analysis over a zoo of public architectures (``genie.analyze``).

Every model is built from its published architecture with small config sizes
(layers, widths, vocabularies; the structure is unchanged) and random weights
on the ``meta`` device, so nothing is allocated or computed. The expected
labels live in ``benches/analysis_zoo_labels.json``.

    python benches/analysis_zoo.py            # the zoo: confusion matrix, phases
    python benches/analysis_zoo.py --timing   # also GPT-2 small and LLaMA-7B-shaped graphs
    python benches/analysis_zoo.py --only gpt2,resnet18

Prints a confusion matrix, accuracy, phase checks for decoder-only LLMs
(prefill and decode graphs), and the time the pattern analysis takes (the
Rust side of ``genie.analyze``: e-graph, rewrites, matching, classification;
tracing by Dynamo is reported separately).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from typing import Any, Callable, Dict, List, Tuple

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
LABELS = os.path.join(HERE, "analysis_zoo_labels.json")
CLASSES = ["llm", "vision", "recsys", "multimodal", "unknown"]

B, S = 1, 8  # batch and sequence length of the traced calls


def ids(n=S, vocab=128):
    return torch.randint(0, vocab, (B, n), device="meta")


def meta(build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    with torch.device("meta"):
        return build().eval()


# ----- transformers language models --------------------------------------------------------

SMALL = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)


def hf_causal(name: str):
    import transformers as tf

    def build():
        if name == "gpt2":
            cfg = tf.GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=128, n_positions=64)
            return tf.GPT2LMHeadModel(cfg)
        if name == "llama":
            return tf.LlamaForCausalLM(tf.LlamaConfig(num_key_value_heads=2, **SMALL))
        if name == "mistral":
            return tf.MistralForCausalLM(tf.MistralConfig(num_key_value_heads=2, **SMALL))
        if name == "qwen2":
            return tf.Qwen2ForCausalLM(tf.Qwen2Config(num_key_value_heads=2, **SMALL))
        if name == "gemma":
            return tf.GemmaForCausalLM(tf.GemmaConfig(num_key_value_heads=1, head_dim=16, **SMALL))
        if name == "phi":
            return tf.PhiForCausalLM(tf.PhiConfig(**SMALL))
        if name == "opt":
            cfg = tf.OPTConfig(vocab_size=128, hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4, word_embed_proj_dim=64)
            return tf.OPTForCausalLM(cfg)
        if name == "gpt_neox":
            return tf.GPTNeoXForCausalLM(tf.GPTNeoXConfig(**SMALL))
        raise KeyError(name)

    return lambda: (meta(build), (ids(),), {})


def hf_encoder(name: str):
    import transformers as tf

    def build():
        if name == "bert":
            return tf.BertModel(tf.BertConfig(**SMALL))
        if name == "roberta":
            return tf.RobertaModel(tf.RobertaConfig(**SMALL))
        if name == "distilbert":
            return tf.DistilBertModel(tf.DistilBertConfig(vocab_size=128, dim=64, hidden_dim=128, n_layers=2, n_heads=4))
        raise KeyError(name)

    return lambda: (meta(build), (ids(),), {})


def hf_seq2seq(name: str):
    import transformers as tf

    def build():
        if name == "t5":
            return tf.T5ForConditionalGeneration(tf.T5Config(vocab_size=128, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4))
        if name == "bart":
            cfg = tf.BartConfig(vocab_size=128, d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128)
            return tf.BartForConditionalGeneration(cfg)
        raise KeyError(name)

    return lambda: (meta(build), (ids(),), {"decoder_input_ids": ids(4)})


# ----- vision ----------------------------------------------------------------------------

def tv(name: str, size=32):
    import torchvision.models as tvm

    def build():
        if name == "vit_b_16":
            from torchvision.models.vision_transformer import VisionTransformer

            return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128, num_classes=10)
        return getattr(tvm, name)(num_classes=10)

    return lambda: (meta(build), (torch.randn(B, 3, size, size, device="meta"),), {})


def hf_vision(name: str):
    import transformers as tf

    def build():
        if name == "hf_vit":
            return tf.ViTModel(tf.ViTConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, image_size=32, patch_size=8))
        if name == "swin":
            return tf.SwinModel(tf.SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 2], window_size=4))
        raise KeyError(name)

    return lambda: (meta(build), (torch.randn(B, 3, 32, 32, device="meta"),), {})


# ----- recommenders ------------------------------------------------------------------------

class DLRM(torch.nn.Module):
    """DLRM (Naumov et al. 2019): bottom MLP over dense features, EmbeddingBag
    per sparse feature, pairwise dot interaction, top MLP."""

    def __init__(self, dense=13, tables=(100, 50, 80), dim=16):
        super().__init__()
        self.bottom = torch.nn.Sequential(torch.nn.Linear(dense, 32), torch.nn.ReLU(), torch.nn.Linear(32, dim), torch.nn.ReLU())
        self.emb = torch.nn.ModuleList(torch.nn.EmbeddingBag(n, dim, mode="sum") for n in tables)
        n = len(tables) + 1
        # The strictly lower triangle of the n x n interactions (a buffer, as
        # DLRM implementations precompute it).
        li, lj = torch.tril_indices(n, n, offset=-1, device="cpu")
        self.register_buffer("li", li, persistent=False)
        self.register_buffer("lj", lj, persistent=False)
        self.top = torch.nn.Sequential(torch.nn.Linear(dim + n * (n - 1) // 2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))

    def forward(self, dense, indices, offsets):
        x = self.bottom(dense)
        feats = [x] + [e(indices[i], offsets[i]) for i, e in enumerate(self.emb)]
        z = torch.stack(feats, dim=1)
        inter = torch.bmm(z, z.transpose(1, 2))
        flat = inter[:, self.li, self.lj]
        return torch.sigmoid(self.top(torch.cat([x, flat], dim=1)))


class WideAndDeep(torch.nn.Module):
    """Wide & Deep (Cheng et al. 2016): a linear model over sparse cross
    features plus an MLP over categorical embeddings and dense features."""

    def __init__(self, cards=(100, 40, 60, 20), dim=8, dense=6):
        super().__init__()
        self.embs = torch.nn.ModuleList(torch.nn.Embedding(c, dim) for c in cards)
        self.wide = torch.nn.Linear(sum(cards), 1)
        self.deep = torch.nn.Sequential(torch.nn.Linear(len(cards) * dim + dense, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))

    def forward(self, cats, dense, wide_onehot):
        e = [emb(cats[:, i]) for i, emb in enumerate(self.embs)]
        deep = self.deep(torch.cat(e + [dense], dim=1))
        return torch.sigmoid(self.wide(wide_onehot) + deep)


class NCF(torch.nn.Module):
    """Neural collaborative filtering (He et al. 2017): GMF + MLP towers over
    user and item embeddings."""

    def __init__(self, users=100, items=200, dim=16):
        super().__init__()
        self.u_gmf, self.i_gmf = torch.nn.Embedding(users, dim), torch.nn.Embedding(items, dim)
        self.u_mlp, self.i_mlp = torch.nn.Embedding(users, dim), torch.nn.Embedding(items, dim)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(2 * dim, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16), torch.nn.ReLU())
        self.out = torch.nn.Linear(dim + 16, 1)

    def forward(self, user, item):
        gmf = self.u_gmf(user) * self.i_gmf(item)
        mlp = self.mlp(torch.cat([self.u_mlp(user), self.i_mlp(item)], dim=-1))
        return torch.sigmoid(self.out(torch.cat([gmf, mlp], dim=-1)))


def dlrm():
    idx = [torch.randint(0, 50, (8,), device="meta") for _ in range(3)]
    off = [torch.tensor([0, 4], device="meta") for _ in range(3)]
    return meta(DLRM), (torch.randn(2, 13, device="meta"), idx, off), {}


def wide_deep():
    return meta(WideAndDeep), (torch.randint(0, 20, (4, 4), device="meta"), torch.randn(4, 6, device="meta"), torch.randn(4, 220, device="meta")), {}


def ncf():
    return meta(NCF), (torch.randint(0, 100, (4,), device="meta"), torch.randint(0, 200, (4,), device="meta")), {}


# ----- multimodal -------------------------------------------------------------------------

def clip():
    import transformers as tf

    def build():
        text = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=32)
        vision = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8)
        return tf.CLIPModel(tf.CLIPConfig(text_config=text, vision_config=vision, projection_dim=32))

    return meta(build), (), {"input_ids": ids(), "pixel_values": torch.randn(B, 3, 32, 32, device="meta")}


def siglip():
    import transformers as tf

    def build():
        text = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=32)
        vision = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8)
        return tf.SiglipModel(tf.SiglipConfig(text_config=text, vision_config=vision))

    return meta(build), (), {"input_ids": ids(), "pixel_values": torch.randn(B, 3, 32, 32, device="meta")}


def whisper():
    import transformers as tf

    def build():
        cfg = tf.WhisperConfig(
            vocab_size=128, d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
            encoder_ffn_dim=128, decoder_ffn_dim=128, num_mel_bins=16, max_source_positions=16, max_target_positions=32,
            pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
        )
        return tf.WhisperForConditionalGeneration(cfg)

    return meta(build), (), {"input_features": torch.randn(B, 16, 32, device="meta"), "decoder_input_ids": ids(4)}


ZOO: Dict[str, Callable[[], Tuple[torch.nn.Module, tuple, dict]]] = {
    **{n: hf_causal(n) for n in ["gpt2", "llama", "mistral", "qwen2", "gemma", "phi", "opt", "gpt_neox"]},
    **{n: hf_encoder(n) for n in ["bert", "roberta", "distilbert"]},
    **{n: hf_seq2seq(n) for n in ["t5", "bart"]},
    **{n: tv(n) for n in ["resnet18", "mobilenet_v3_small", "efficientnet_b0", "densenet121", "convnext_tiny", "squeezenet1_0", "vit_b_16"]},
    **{n: hf_vision(n) for n in ["hf_vit", "swin"]},
    "dlrm": dlrm,
    "wide_deep": wide_deep,
    "ncf": ncf,
    "clip": clip,
    "siglip": siglip,
    "whisper": whisper,
}


def labels() -> Dict[str, Dict[str, Any]]:
    with open(LABELS, encoding="utf-8") as f:
        return json.load(f)


def decode_call(model, prefill_args, prefill_kwargs):
    """The arguments of one decode step: the cache the prefill returns (the
    prefill runs eagerly on meta, so nothing is computed) and one new token."""
    with torch.no_grad():
        out = model(*prefill_args, use_cache=True, **prefill_kwargs)
    return (ids(1),), {"past_key_values": out.past_key_values, "use_cache": True}


def run_one(name: str, label: Dict[str, Any]):
    import genie

    model, args, kwargs = ZOO[name]()
    t0 = time.perf_counter()
    report = genie.analyze(model, *args, **kwargs)
    traced = time.perf_counter() - t0
    phases = {"prefill" if label.get("decoder") else "graph": sorted(set(report.phase.values()))}
    analysis = sum(g["seconds"] for g in report.graphs)
    if label.get("decoder"):
        dargs, dkwargs = decode_call(model, args, kwargs)
        decode = genie.analyze(model, *dargs, **dkwargs)
        phases["decode"] = sorted(set(decode.phase.values()))
    return report, phases, traced, analysis


def confusion(rows: List[Tuple[str, str, str]]) -> str:
    counts = {(a, b): 0 for a in CLASSES for b in CLASSES}
    for _, want, got in rows:
        counts[(want, got)] += 1
    width = max(len(c) for c in CLASSES) + 2
    out = ["expected \\ got".ljust(width + 6) + "".join(c.rjust(width) for c in CLASSES)]
    for a in CLASSES:
        out.append(a.ljust(width + 6) + "".join(str(counts[(a, b)]).rjust(width) for b in CLASSES))
    return "\n".join(out)


def timing() -> None:
    """Pattern analysis on full-size GPT-2 small (12 layers) and a LLaMA-7B-
    shaped decoder (32 layers, hidden 4096), traced on meta."""
    import genie
    import transformers as tf

    cases = {
        "gpt2-small (12 layers)": lambda: tf.GPT2LMHeadModel(tf.GPT2Config()),
        "llama-7b-shaped (32 layers)": lambda: tf.LlamaForCausalLM(
            tf.LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32, vocab_size=32000)
        ),
    }
    from genie._genie import analyze_modules

    for name, build in cases.items():
        model = meta(build)
        report = genie.analyze(model, ids(16, 1000))
        # The Rust analysis alone (e-graph, rewrites, matching, classification,
        # the JSON report), best of five, on the graphs analyze captured.
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            analyze_modules(report.sem_modules)
            times.append(time.perf_counter() - t0)
        ops = sum(m.num_ops for m in report.sem_modules)
        print(f"  {name:<30} {ops:6d} ops  pattern analysis {1000 * min(times):7.1f} ms  workload={report.workload}  phase={list(report.phase.values())}")
        print(f"  {'':<30} patterns={report.patterns}")


def main() -> int:
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("transformers").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--timing", action="store_true")
    opts = ap.parse_args()
    want = labels()
    names = [n for n in ZOO if not opts.only or n in opts.only.split(",")]
    rows, phase_fail = [], []
    print(f"{'model':<20} {'expected':<11} {'got':<11} {'conf':>5} {'trace s':>8} {'analysis ms':>12}  phases / patterns")
    for name in names:
        label = want[name]
        try:
            report, phases, traced, analysis = run_one(name, label)
            got, conf = report.workload, report.confidence
            detail = " ".join(f"{k}={'/'.join(v)}" for k, v in phases.items())
            detail += "  " + ",".join(f"{k}:{v}" for k, v in sorted(report.patterns.items()))
        except Exception as e:  # noqa: BLE001 - a broken model is a miss, reported
            got, conf, traced, analysis, phases = "error", 0.0, 0.0, 0.0, {}
            detail = f"{type(e).__name__}: {str(e).splitlines()[0][:100]}"
        rows.append((name, label["workload"], got if got in CLASSES else "unknown"))
        for kind, expected in label.get("phases", {}).items():
            if phases.get(kind) != [expected]:
                phase_fail.append(f"{name} {kind}: expected {expected}, got {phases.get(kind)}")
        print(f"{name:<20} {label['workload']:<11} {got:<11} {conf:5.2f} {traced:8.2f} {1000 * analysis:12.1f}  {detail}")
    correct = sum(1 for _, a, b in rows if a == b)
    print()
    print(confusion(rows))
    print(f"\nworkload accuracy: {correct}/{len(rows)} = {100.0 * correct / max(1, len(rows)):.1f}%")
    print(f"phase checks: {'all correct' if not phase_fail else '; '.join(phase_fail)}")
    if opts.timing:
        print("\ntiming (Rust pattern analysis per graph; tracing not included):")
        timing()
    return 0 if correct >= 0.95 * len(rows) and not phase_fail else 1


if __name__ == "__main__":
    sys.exit(main())
