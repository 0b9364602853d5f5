"""The `sem` dialect covers every ATen op the target models use.

aten_census compiles tiny random-weight GPT-2, BERT, LLaMA, ResNet-18, ViT-B/16,
EfficientNet-B0, DLRM and CLIP (plus nn.TransformerEncoderLayer's fast path)
through TorchDynamo + aot_autograd with the core ATen decompositions and
records every op of the forward, backward and inference graphs. Each op must
map, by the naming rule (`aten.<name>.<overload>` -> `sem.<name>`, plus the
alias table in aten_census), to an op registered in genie's op table. On
failure the missing ops are listed per model with their schemas.
"""

from collections import defaultdict

import pytest
import torch

import genie

import aten_census as census_mod
from aten_census import schema_of, sem_name_for

torch.set_num_threads(2)

REGISTERED = {name for name, _summary in genie.list_ops()}


@pytest.fixture(scope="module")
def census():
    return census_mod.run_census(verbose=True)


@pytest.mark.parametrize(
    "aten, sem",
    [
        ("aten.add.Tensor", "sem.add"),
        ("aten.add.Scalar", "sem.add"),
        ("aten.max.dim", "sem.max_dim"),
        ("aten.min.dim", "sem.min_dim"),
        ("aten.sum.dim_IntList", "sem.sum"),
        ("aten.sym_size.int", "sem.sym_size"),
        ("aten.split.Tensor", "sem.split"),
        ("aten.squeeze.dims", "sem.squeeze"),
        ("aten.empty.memory_format", "sem.empty"),
        ("aten.arange.start_step", "sem.arange"),
        ("aten.arange.start", "sem.arange"),
        ("aten.arange.default", "sem.arange"),
        ("aten.scatter.src", "sem.scatter"),
        ("aten.scatter.value", "sem.scatter"),
        ("aten.zeros.default", "sem.full"),
        ("aten.ones.default", "sem.full"),
        ("aten.t.default", "sem.transpose"),
        ("aten.transpose.int", "sem.transpose"),
        ("aten._transformer_encoder_layer_fwd.default", "sem._transformer_encoder_layer_fwd"),
    ],
)
def test_naming_rule(aten, sem):
    assert sem_name_for(aten) == sem
    assert sem in REGISTERED, f"{sem} is not a registered op"


def test_python_sym_operators_map():
    import operator

    for fn, sem in [
        (operator.add, "sem.add"),
        (operator.mul, "sem.mul"),
        (operator.floordiv, "sem.floor_divide"),
        (operator.sub, "sem.sub"),
    ]:
        assert sem_name_for(census_mod.target_name(fn), fn) == sem
    assert sem_name_for("operator.getitem", operator.getitem) is None


def test_census_captured_every_model(census):
    """Guards the census itself: every scenario produced graphs and ops."""
    labels = [label for label, *_ in census_mod.scenarios()]
    assert sorted(census.ops) == sorted(labels)
    for label in labels:
        assert census.ops[label], f"{label}: no ops recorded"
        kinds = {key.split(":")[1] for key in census.graphs if key.split(":")[0] == label}
        expected = {"fw", "bw"} if label.endswith("/training") else {"inference"}
        assert expected <= kinds, f"{label}: graphs {sorted(kinds)}, expected {sorted(expected)}"
    dyn = census.ops["gpt2/inference-dynamic"]
    assert "aten.sym_size.int" in dyn, "dynamic GPT-2 graph has no symbolic sizes"
    assert census.graphs["gpt2/inference-dynamic:inference"] >= 2, "prefill and decode graphs expected"
    assert "aten._transformer_encoder_layer_fwd.default" in census.ops["transformer_encoder_layer/inference"]
    assert "aten.convolution_backward.default" in census.ops["resnet18/training"]


def missing_ops(census):
    """{label: {aten name: sem name}} for ops without a registered sem op."""
    missing = defaultdict(dict)
    for label, ops in census.ops.items():
        for name, target in sorted(ops.items()):
            sem = sem_name_for(name, target)
            if sem is not None and sem not in REGISTERED:
                missing[label][name] = sem
    return missing


def format_report(census, missing) -> str:
    lines = ["ATen ops without a sem op, by model:"]
    for label, ops in missing.items():
        lines.append(f"  {label}:")
        for name, sem in ops.items():
            kinds = ",".join(sorted(census.kinds[label][name]))
            lines.append(f"    {name}  (-> {sem}; {kinds})")
    lines.append("Schemas:")
    union = sorted({name for ops in missing.values() for name in ops})
    for name in union:
        lines.append(f"  {name}: {schema_of(name)}")
    return "\n".join(lines)


def test_every_aten_op_maps_to_a_sem_op(census):
    missing = missing_ops(census)
    total = sum(len(ops) for ops in census.ops.values())
    print(f"\n[census] {total} (model, op) pairs over {len(census.ops)} scenarios; "
          f"{sum(census.times.values()):.1f}s capturing")
    if missing:
        report = format_report(census, missing)
        print(report)
        pytest.fail(report, pytrace=False)
