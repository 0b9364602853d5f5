"""``genie.analyze``: workload, phase, patterns, roles and modality of real
models traced with fake tensors (nothing computed), user rule files, and
"no harm": an unknown model still compiles and matches eager."""

from __future__ import annotations

import json
import os
import sys

import pytest
import torch

import genie

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benches"))
import analysis_zoo as zoo  # noqa: E402


def test_gpt2_prefill_on_meta():
    model, args, kwargs = zoo.ZOO["gpt2"]()
    assert next(model.parameters()).device.type == "meta"
    r = genie.analyze(model, *args, **kwargs)
    assert r.workload == "llm" and r.confidence >= 0.7
    assert list(r.phase.values()) == ["prefill"]
    # Two layers: an attention, an MLP and two residual adds each.
    assert r.patterns["attention"] == 2 and r.patterns["mlp"] == 2 and r.patterns["residual"] == 4
    assert r.patterns["kv_cache_append"] == 4
    attn = r.modules["transformer.h.0.attn"]
    assert "kv-state" in attn["roles"] and "attention" in attn["patterns"]
    assert r.modules["transformer.wte"]["patterns"] == ["embedding"]
    assert "text" in r.modules["transformer.h.1.mlp.c_fc"]["modality"]
    data = json.loads(r.to_json())
    assert data["workload"] == "llm" and data["graphs"][0]["arg_roles"][0] == "input"
    assert "embedding-table" in data["graphs"][0]["arg_roles"]
    table = str(r)
    assert table.startswith("workload   llm") and "transformer.h.0.attn" in table


def test_llama_decode_phase():
    model, args, kwargs = zoo.ZOO["llama"]()
    dargs, dkwargs = zoo.decode_call(model, args, kwargs)
    r = genie.analyze(model, *dargs, **dkwargs)
    assert r.workload == "llm"
    assert list(r.phase.values()) == ["decode"]
    assert r.patterns["kv_cache_append"] == 4 and r.patterns["rmsnorm"] == 5 and r.patterns["mlp"] == 2
    roles = r.graphs[0]["arg_roles"]
    assert roles.count("kv-state") == 4, roles


@pytest.mark.parametrize("name,workload", [("resnet18", "vision"), ("dlrm", "recsys"), ("clip", "multimodal"), ("whisper", "multimodal")])
def test_zoo_samples(name, workload):
    model, args, kwargs = zoo.ZOO[name]()
    r = genie.analyze(model, *args, **kwargs)
    assert r.workload == workload, r.why
    assert r.confidence >= 0.7


def test_vision_transformers_have_token_pipelines():
    """Patches → tokens → class token → position embeddings, in torchvision's
    ViT and in CLIP's vision tower (different code, the same structure)."""
    from torchvision.models.vision_transformer import VisionTransformer
    from transformers import CLIPVisionConfig, CLIPVisionModel

    vit = VisionTransformer(image_size=32, patch_size=16, num_layers=1, num_heads=2, hidden_dim=32, mlp_dim=64).eval()
    clip = CLIPVisionModel(CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=16)).eval()
    for model in (vit, clip):
        r = genie.analyze(model, torch.randn(2, 3, 32, 32))
        assert r.patterns.get("token_pipeline") == 1 and r.patterns.get("patch_embedding") == 1, r.patterns
        assert r.workload == "vision"


def test_real_weights_are_not_touched():
    """A CPU model: analysed through fake copies; its weights and its outputs
    stay what they were."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, padding=1)
    ).eval()
    x = torch.randn(1, 3, 16, 16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        want = model(x)
    r = genie.analyze(model, x)
    assert r.workload == "vision" and r.patterns["conv_bn_act"] == 1
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).device.type == "cpu"
    with torch.no_grad():
        assert torch.equal(model(x), want)


class Zq(torch.nn.Module):
    """Self-attention under names that say nothing (structure only)."""

    def __init__(self, d=32, h=4):
        super().__init__()
        self.h = h
        self.a, self.b, self.c, self.o = (torch.nn.Linear(d, d) for _ in range(4))

    def forward(self, x):
        n, s, d = x.shape
        split = lambda t: t.view(n, s, self.h, d // self.h).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.a(x)), split(self.b(x)), split(self.c(x))
        w = torch.softmax(q @ k.transpose(-1, -2) / (d // self.h) ** 0.5, dim=-1)
        return x + self.o((w @ v).transpose(1, 2).reshape(n, s, d))


class Blob(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.e = torch.nn.Embedding(50, 32)
        self.m = Zq()

    def forward(self, ids):
        return self.m(self.e(ids))


def test_renamed_modules_still_match():
    r = genie.analyze(Blob().eval(), torch.randint(0, 50, (2, 6)))
    assert r.patterns.get("attention") == 1, r.patterns
    assert r.patterns.get("residual") == 1
    assert r.workload == "llm"


class TanhFFN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = torch.nn.Linear(8, 16), torch.nn.Linear(16, 8)

    def forward(self, x):
        return self.l2(torch.tanh(self.l1(x)))


USER_RULE = """genie-rules 1
# A feed-forward block with tanh, which the built-in rules do not list.
pattern mlp/tanh-ffn: (sem.add (sem.matmul (sem.tanh (sem.add (sem.matmul ?x ?w1) ?b1)) ?w2) ?b2)
  if weight ?w1, weight ?w2
"""


def test_user_rule_file_changes_the_analysis(tmp_path):
    x = torch.randn(4, 3, 8)
    assert "mlp" not in genie.analyze(TanhFFN().eval(), x).patterns
    (tmp_path / "tanh.rules").write_text(USER_RULE)
    r = genie.analyze(TanhFFN().eval(), x, rules_dirs=[str(tmp_path)])
    assert r.patterns.get("mlp") == 1
    assert r.rules_version.endswith("tanh.rules")
    assert r.graphs[0]["instances"][0]["rule"].startswith(str(tmp_path / "tanh.rules") + ":3")


def test_broken_rule_file_names_file_and_line(tmp_path):
    (tmp_path / "bad.rules").write_text("genie-rules 1\n\npattern mlp/x: (sem.frobnicate ?a)\n")
    with pytest.raises(genie.IRError, match=r"bad\.rules:3: error: unknown op 'sem\.frobnicate'"):
        genie.analyze(TanhFFN().eval(), torch.randn(2, 8), rules_dirs=[str(tmp_path)])


class Odd(torch.nn.Module):
    def forward(self, x):
        return torch.sin(x) * torch.cos(x) + x.abs()


def test_unknown_model_still_compiles_and_matches_eager():
    x = torch.randn(5, 7)
    r = genie.analyze(Odd(), x)
    assert r.workload == "unknown" and r.confidence < 0.7
    assert r.why and "unknown" in r.why[0]
    torch._dynamo.reset()
    got = torch.compile(Odd(), backend="genie")(x)
    assert torch.equal(got, Odd()(x))


def test_training_phases():
    r = genie.analyze(TanhFFN(), torch.randn(4, 8), train=True)
    assert sorted(r.phase.values()) == ["train-backward", "train-forward"]


def test_annotate_pass_on_a_captured_graph():
    """The same analysis as attributes (what genie-opt --genie-sem-annotate prints)."""
    model, args, kwargs = zoo.ZOO["gpt2"]()
    r = genie.analyze(model, *args, **kwargs)
    m = genie.parse(str(r.sem_modules[0]))
    m.run_passes("genie-sem-annotate")
    text = str(m)
    assert 'genie.workload = "llm"' in text and 'sem.phase = "prefill"' in text
    assert 'sem.pattern = "attention"' in text and 'sem.role = "kv-state"' in text
    m.run_passes("genie-sem-outline-patterns")
    m.verify()
    assert 'kind = "attention"' in str(m)
