"""The FX importer on real graphs: every graph TorchDynamo + aot_autograd
produce for the eight model families (forward, backward, dynamic shapes)
imports into a verified `sem` module, survives the `sem` pass pipeline, and
keeps the PyTorch module structure in its locations."""

import json
import os

import pytest
import torch

import genie
from genie.graph_capture import Capture
from genie.fx_export import export_graph

import aten_census



@pytest.fixture(scope="module")
def captured():
    """{scenario label: Capture} over the census scenarios."""
    torch.manual_seed(0)
    torch.set_num_threads(2)
    out = {}
    for label, make, go, dynamic in aten_census.scenarios():
        torch._dynamo.reset()
        cap = Capture(collect_errors=True)
        model = make()
        compiled = torch.compile(model, backend=cap.backend(), dynamic=dynamic)
        go(compiled, model)
        out[label] = cap
    return out


def test_every_graph_imports(captured):
    failures = [f"{label} [{kind}]: {msg}" for label, cap in captured.items() for kind, msg in cap.errors]
    assert not failures, "graphs that did not import:\n" + "\n".join(failures)
    for label, cap in captured.items():
        assert cap.graphs, f"{label}: no graph captured"
    kinds = {g.kind for cap in captured.values() for g in cap.graphs}
    assert {"inference", "forward", "backward"} <= kinds


def test_sem_pipeline_runs_on_every_graph(captured):
    for label, cap in captured.items():
        for g in cap.graphs:
            phases = g.module.compile(keep_phases=True).phases
            sem = genie.parse(dict(phases)["sem"], f"{label}-{g.kind}.mlir")
            sem.verify()
            assert sem.num_ops <= g.module.num_ops


def test_text_round_trips(captured):
    for cap in captured.values():
        for g in cap.graphs:
            for generic in (False, True):
                text = g.module.print(generic=generic)
                assert genie.parse(text).print(generic=generic) == text


def test_locations_keep_module_paths(captured):
    text = "\n".join(g.module.print() for g in captured["gpt2/inference"].graphs)
    assert 'loc("transformer.h.0.attn' in text
    assert 'sem.module_class = "GPT2Attention"' in text or 'sem.module_class = "Conv1D"' in text


def test_dynamic_shapes_stay_symbolic(captured):
    graphs = captured["gpt2/inference-dynamic"].graphs
    texts = [g.module.print() for g in graphs]
    assert any("genie.symbols" in t for t in texts)
    # The sequence length is a symbol in the signature, not a number.
    assert any(t.count("xs") or "tensor<1xs" in t for t in texts)


def test_unsupported_op_fails_loudly():
    g = json.loads(export_graph(torch.fx.symbolic_trace(torch.nn.Identity())))
    g["nodes"] = [{"name": "bad", "op": "aten::frobnicate.default", "args": [], "results": [], "loc": {"module": "encoder.3"}}]
    with pytest.raises(genie.IRError, match=r"unsupported op 'aten::frobnicate.default' \(node 'bad' at module 'encoder.3'\)"):
        genie.import_fx(json.dumps(g))


def test_dump_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GENIE_DUMP_DIR", str(tmp_path))
    with torch.no_grad():
        genie.capture(torch.nn.Linear(4, 2), torch.randn(3, 4))
    dumps = sorted(os.listdir(tmp_path))
    assert dumps == ["000_inference.annotate.mlir", "000_inference.exec.mlir", "000_inference.mlir", "000_inference.plan.txt", "000_inference.sem.mlir"]
    text = (tmp_path / "000_inference.mlir").read_text()
    assert "sem.addmm" in text
    genie.parse(text).verify()
    # Each dump is what its phase makes of the one before: genie-opt can
    # replay any step.
    for before, phase in (("mlir", "sem"), ("sem.mlir", "annotate"), ("annotate.mlir", "exec")):
        m = genie.parse((tmp_path / f"000_inference.{before}").read_text())
        m.run_phase(phase)
        assert (tmp_path / f"000_inference.{phase}.mlir").read_text() == m.print(), phase
    exec_text = (tmp_path / "000_inference.exec.mlir").read_text()
    assert 'genie.phase = "exec"' in exec_text
    assert "exec.launch" in exec_text and "exec.resident" in exec_text
    assert (tmp_path / "000_inference.plan.txt").read_text().startswith("plan @inference v2.0")


def test_every_graph_compiles_to_a_plan(captured):
    for label, cap in captured.items():
        for g in cap.graphs:
            program = g.module.compile()
            assert len(program.plans) == len(program.manifests) == 1
            assert [t[0] for t in program.timings] == ["sem", "annotate", "exec", "plan"]
            for plan in program.plans:
                text = genie.disassemble(plan)
                assert text.startswith(f"plan @{g.kind} v2.0"), text[:80]


def test_parameters_are_marked_as_weights(captured):
    """Forward and inference graphs list their parameter inputs in
    `genie.weight_args`; the plan gives those values the weight role."""
    cap = captured["gpt2/inference"]
    (g,) = [g for g in cap.graphs if g.kind == "inference"]
    params = sum(1 for _ in aten_census.gpt2().parameters())
    text = g.module.print()
    weights = text.split("genie.weight_args = [", 1)[1].split("]", 1)[0].split(",")
    # GPT-2's LM head shares the token embedding: one input for both.
    assert len(weights) >= params - 1, (len(weights), params)
    inputs = len([n for n in g.fx.graph.nodes if n.op == "placeholder"])
    assert len(weights) < inputs  # the token ids are not weights
    program = g.module.compile()
    assert " weight " in genie.disassemble(program.plans[0])
    manifest = json.loads(program.manifests[0])
    resident = [i for i, s in enumerate(manifest["inputs"]) if s["resident"]]
    assert resident == [int(w) for w in weights]
    for g in cap.graphs:
        if g.kind == "backward":
            assert "genie.weight_args" not in g.module.print()
