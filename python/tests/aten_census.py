"""A census of the ATen ops that TorchDynamo + aot_autograd (core ATen
decompositions) leave in the graphs of the models the `sem` dialect targets.

Every model is built from a tiny config with random weights (no downloads),
compiled with a recording backend, and run once; the backend records the
target of every `call_function` node of each forward / backward / inference
graph it receives and hands back the graph's own eager callable.

    census = run_census()            # census.ops: {model label: {op name: target}}
    sem_name_for("aten.max.dim")     # -> "sem.max_dim"
"""

from __future__ import annotations

import math
import operator
import time
from collections import defaultdict
from typing import Callable, Dict, Optional

import torch
import torch.nn as nn
from functorch.compile import make_boxed_func
from torch._dynamo.backends.common import aot_autograd
from torch._decomp import core_aten_decompositions

# --------------------------------------------------------------------------
# Naming rule
# --------------------------------------------------------------------------

# Irregular `aten.<name>.<overload>` -> `sem.*` mappings. Keys are either a full
# overload name ("aten.max.dim") or a packet name ("aten.t"); the full name wins.
ATEN_ALIASES: Dict[str, str] = {
    "aten.max.dim": "sem.max_dim",
    "aten.min.dim": "sem.min_dim",
    "aten.t": "sem.transpose",
    "aten.transpose": "sem.transpose",
    "aten.zeros": "sem.full",
    "aten.ones": "sem.full",
    # ATen documents true_divide as an alias of div.
    "aten.true_divide": "sem.div",
}

# Python-level callables that FX graphs call on SymInts / SymFloats / SymBools.
PY_ALIASES: Dict[object, str] = {
    operator.add: "sem.add",
    operator.sub: "sem.sub",
    operator.mul: "sem.mul",
    operator.truediv: "sem.div",
    operator.floordiv: "sem.floor_divide",
    operator.mod: "sem.remainder",
    operator.pow: "sem.pow",
    operator.neg: "sem.neg",
    operator.abs: "sem.abs",
    operator.eq: "sem.eq",
    operator.ne: "sem.ne",
    operator.lt: "sem.lt",
    operator.le: "sem.le",
    operator.gt: "sem.gt",
    operator.ge: "sem.ge",
    operator.and_: "sem.bitwise_and",
    operator.or_: "sem.bitwise_or",
    operator.xor: "sem.bitwise_xor",
    operator.not_: "sem.logical_not",
    math.floor: "sem.floor",
    math.ceil: "sem.ceil",
    math.trunc: "sem.trunc",
    math.sqrt: "sem.sqrt",
    torch.sym_not: "sem.logical_not",
    torch.sym_max: "sem.maximum",
    torch.sym_min: "sem.minimum",
    torch.sym_ite: "sem.where",
}

# Nodes that are graph structure, not computation: `getitem` projects one
# result out of a multi-result op (multi-result ops are native in the IR).
STRUCTURAL = {operator.getitem}


def target_name(target) -> str:
    """A stable, readable name for an FX call_function target."""
    if isinstance(target, torch._ops.OpOverload):
        return str(target)  # e.g. "aten.add.Tensor"
    if isinstance(target, torch._ops.OpOverloadPacket):
        return str(target)
    if isinstance(target, torch._ops.HigherOrderOperator):
        return f"higher_order.{target.name()}"
    mod = getattr(target, "__module__", None) or ""
    qual = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target)
    if mod in ("_operator", "operator"):
        mod = "operator"
    return f"{mod}.{qual}" if mod else qual


def sem_name_for(name: str, target=None) -> Optional[str]:
    """The `sem.*` op an op name (or target) maps to by the naming rule.

    Returns None for structural nodes that need no sem op.
    """
    if target is not None and target in STRUCTURAL:
        return None
    if target is not None and not isinstance(target, torch._ops.OperatorBase):
        try:
            if target in PY_ALIASES:
                return PY_ALIASES[target]
        except TypeError:  # unhashable
            pass
    if name in ATEN_ALIASES:
        return ATEN_ALIASES[name]
    parts = name.split(".")
    if parts[0] in ("aten", "prims") and len(parts) >= 2:
        packet = ".".join(parts[:2])
        if packet in ATEN_ALIASES:
            return ATEN_ALIASES[packet]
        return f"sem.{parts[1]}"
    if parts[0] == "operator" and len(parts) == 2:
        return f"sem.{parts[1].rstrip('_')}"
    # torch.sym_float & co, higher-order ops: the last component,
    # which is rarely a sem op; report as missing under its own name.
    return f"sem.{parts[-1]}"


def schema_of(name: str) -> str:
    """`torch.ops.aten.<op>.<overload>._schema` for an aten/prims name."""
    parts = name.split(".")
    if len(parts) == 3 and parts[0] in ("aten", "prims", "quantized"):
        try:
            packet = getattr(getattr(torch.ops, parts[0]), parts[1])
            return str(getattr(packet, parts[2])._schema)
        except Exception:  # noqa: BLE001 - best effort, only for reports
            return "<no schema>"
    return "<python callable>"


# --------------------------------------------------------------------------
# Recording backend
# --------------------------------------------------------------------------


class Recorder:
    """A torch.compile backend that records call_function targets."""

    def __init__(self):
        self.ops: Dict[str, Dict[str, object]] = defaultdict(dict)
        # {label: {op name: {"fw", "bw", "inference"}}}: which graphs used it.
        self.kinds: Dict[str, Dict[str, set]] = defaultdict(lambda: defaultdict(set))
        self.graphs: Dict[str, int] = defaultdict(int)  # {"label:kind": count}
        self.times: Dict[str, float] = {}
        self.label = "?"

    def _compiler(self, kind: str) -> Callable:
        def compile_fn(gm: torch.fx.GraphModule, example_inputs):
            self.graphs[f"{self.label}:{kind}"] += 1
            for node in gm.graph.nodes:
                if node.op == "call_function":
                    name = target_name(node.target)
                    self.ops[self.label].setdefault(name, node.target)
                    self.kinds[self.label][name].add(kind)
            return make_boxed_func(gm.forward)

        return compile_fn

    def backend(self):
        return aot_autograd(
            fw_compiler=self._compiler("fw"),
            bw_compiler=self._compiler("bw"),
            inference_compiler=self._compiler("inference"),
            decompositions=core_aten_decompositions(),
        )

    def run(self, label: str, model: nn.Module, fn: Callable, dynamic: Optional[bool] = None):
        """Compile `model` with the recording backend and call `fn(compiled)`."""
        torch._dynamo.reset()
        self.label = label
        self.ops.setdefault(label, {})
        compiled = torch.compile(model, backend=self.backend(), dynamic=dynamic)
        fn(compiled)


# --------------------------------------------------------------------------
# Tiny models
# --------------------------------------------------------------------------

HIDDEN = 64
VOCAB = 128
SEQ = 8


def gpt2(dropout: float = 0.0):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        vocab_size=VOCAB, n_positions=64, n_embd=HIDDEN, n_layer=2, n_head=2,
        resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
        bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1,
    )
    model = GPT2LMHeadModel(cfg)
    # Name the loss explicitly: the "unrecognized loss_type" warning would
    # otherwise graph-break between the model and its loss.
    model.loss_type = "ForCausalLM"
    return model


def bert():
    from transformers import BertConfig, BertForMaskedLM

    cfg = BertConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=4 * HIDDEN, max_position_embeddings=64,
    )
    return BertForMaskedLM(cfg)


def llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
    )
    return LlamaForCausalLM(cfg)


def clip():
    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPVisionConfig

    text = CLIPTextConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=16, projection_dim=32,
        bos_token_id=VOCAB - 2, eos_token_id=VOCAB - 1, pad_token_id=VOCAB - 1,
    )
    vision = CLIPVisionConfig(
        hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=2, num_attention_heads=2,
        image_size=32, patch_size=16, projection_dim=32,
    )
    cfg = CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=32)
    return CLIPModel(cfg)


def resnet18():
    import torchvision

    return torchvision.models.resnet18(weights=None, num_classes=10)


def vit_b16():
    from torchvision.models.vision_transformer import VisionTransformer

    # ViT-B/16's architecture (patch 16, class token, pre-LN encoder) at tiny size.
    return VisionTransformer(
        image_size=32, patch_size=16, num_layers=2, num_heads=2, hidden_dim=HIDDEN, mlp_dim=2 * HIDDEN,
        num_classes=10,
    )


def efficientnet_b0():
    import torchvision

    return torchvision.models.efficientnet_b0(weights=None, num_classes=10)


class DLRM(nn.Module):
    """DLRM: EmbeddingBag tables + bottom MLP + pairwise dot interaction + top MLP."""

    def __init__(self, num_dense=13, table_sizes=(50, 60, 70), dim=16):
        super().__init__()
        self.tables = nn.ModuleList(nn.EmbeddingBag(n, dim, mode="sum") for n in table_sizes)
        self.bottom = nn.Sequential(nn.Linear(num_dense, 32), nn.ReLU(), nn.Linear(32, dim), nn.ReLU())
        n = len(table_sizes) + 1
        self.num_pairs = n * (n - 1) // 2
        li, lj = torch.tril_indices(n, n, offset=-1)
        self.register_buffer("li", li, persistent=False)
        self.register_buffer("lj", lj, persistent=False)
        self.top = nn.Sequential(
            nn.Linear(dim + self.num_pairs, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid()
        )

    def forward(self, dense, indices, offsets):
        x = self.bottom(dense)  # (B, d)
        embs = [t(idx, off) for t, idx, off in zip(self.tables, indices, offsets)]
        feats = torch.stack([x] + embs, dim=1)  # (B, n, d)
        inter = torch.bmm(feats, feats.transpose(1, 2))  # (B, n, n)
        pairs = inter[:, self.li, self.lj]  # (B, n*(n-1)/2)
        return self.top(torch.cat([x, pairs], dim=1))


def dlrm_inputs(batch=4, table_sizes=(50, 60, 70), per_bag=3):
    dense = torch.randn(batch, 13)
    indices = [torch.randint(0, n, (batch * per_bag,)) for n in table_sizes]
    offsets = [torch.arange(0, batch * per_bag, per_bag) for _ in table_sizes]
    return dense, indices, offsets


def transformer_encoder_layer():
    return nn.TransformerEncoderLayer(d_model=HIDDEN, nhead=2, dim_feedforward=2 * HIDDEN, batch_first=True)


# --------------------------------------------------------------------------
# The census
# --------------------------------------------------------------------------


def _ids(b=1, s=SEQ):
    return torch.randint(0, VOCAB, (b, s))


def scenarios():
    """(label, model factory, run(compiled, model), dynamic) for every case."""

    def gpt2_infer(compiled, _m):
        with torch.no_grad():
            compiled(_ids())

    def gpt2_dynamic(compiled, m):
        # Symbolic sequence length: prefill of two lengths, then decode steps
        # against the KV cache (one new token per step).
        with torch.no_grad():
            compiled(_ids(1, 6), use_cache=False)
            compiled(_ids(1, 9), use_cache=False)
            cache = m(_ids(1, 5), use_cache=True).cache  # eager prefill fills the cache
            for _ in range(2):
                cache = compiled(_ids(1, 1), cache=cache, use_cache=True).cache

    def gpt2_train(compiled, _m):
        ids = _ids(2, SEQ)
        out = compiled(ids, labels=ids)
        out.loss.backward()

    def bert_infer(compiled, _m):
        with torch.no_grad():
            compiled(input_ids=_ids(), attention_mask=torch.ones(1, SEQ, dtype=torch.long))

    def llama_infer(compiled, _m):
        with torch.no_grad():
            compiled(_ids())

    def clip_infer(compiled, _m):
        with torch.no_grad():
            compiled(input_ids=_ids(2, SEQ), pixel_values=torch.randn(1, 3, 32, 32))

    def image(size):
        def go(compiled, _m):
            with torch.no_grad():
                compiled(torch.randn(1, 3, size, size))

        return go

    def resnet_train(compiled, _m):
        x = torch.randn(2, 3, 64, 64)
        y = torch.randint(0, 10, (2,))
        loss = nn.functional.cross_entropy(compiled(x), y)
        loss.backward()

    def dlrm_infer(compiled, _m):
        with torch.no_grad():
            compiled(*dlrm_inputs())

    def encoder_layer_infer(compiled, _m):
        with torch.no_grad():
            compiled(torch.randn(2, SEQ, HIDDEN))

    return [
        ("gpt2/inference", lambda: gpt2().eval(), gpt2_infer, None),
        ("gpt2/inference-dynamic", lambda: gpt2().eval(), gpt2_dynamic, True),
        ("gpt2/training", lambda: gpt2(dropout=0.1).train(), gpt2_train, None),
        ("bert/inference", lambda: bert().eval(), bert_infer, None),
        ("llama/inference", lambda: llama().eval(), llama_infer, None),
        ("resnet18/inference", lambda: resnet18().eval(), image(64), None),
        ("resnet18/training", lambda: resnet18().train(), resnet_train, None),
        ("vit_b16/inference", lambda: vit_b16().eval(), image(32), None),
        ("efficientnet_b0/inference", lambda: efficientnet_b0().eval(), image(64), None),
        ("dlrm/inference", lambda: DLRM().eval(), dlrm_infer, None),
        ("clip/inference", lambda: clip().eval(), clip_infer, None),
        ("transformer_encoder_layer/inference", lambda: transformer_encoder_layer().eval(), encoder_layer_infer, None),
    ]


def run_census(verbose: bool = False) -> Recorder:
    """Run every scenario; the recorder holds `ops`, `kinds`, `graphs`, `times`."""
    torch.manual_seed(0)
    rec = Recorder()
    for label, make, go, dynamic in scenarios():
        t0 = time.perf_counter()
        model = make()
        rec.run(label, model, lambda compiled: go(compiled, model), dynamic=dynamic)
        rec.times[label] = time.perf_counter() - t0
        if verbose:
            print(f"[census] {label}: {len(rec.ops[label])} ops in {rec.times[label]:.1f}s")
    torch._dynamo.reset()
    return rec
