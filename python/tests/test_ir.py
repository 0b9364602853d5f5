"""The genie._genie bindings: parse/print round trips, diagnostics, passes."""

import re

import pytest

import genie

# The printer prints this custom form back byte for byte.
MM = """\
module @m {
  func.func @forward(%arg0: tensor<4x8xf32>, %arg1: tensor<8x16xf32>) -> tensor<4x16xf32> {
    %0 = sem.mm %arg0, %arg1 : tensor<4x16xf32>
    return %0 : tensor<4x16xf32>
  }
}
"""

# Two identical matmuls: CSE must merge them.
DUP_MM = """\
module @m {
  func.func @forward(%arg0: tensor<4x8xf32>, %arg1: tensor<8x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
    %0 = sem.mm %arg0, %arg1 : tensor<4x16xf32>
    %1 = sem.mm %arg0, %arg1 : tensor<4x16xf32>
    return %0, %1 : tensor<4x16xf32>, tensor<4x16xf32>
  }
}
"""


def test_custom_form_round_trip():
    m = genie.parse(MM)
    assert str(m) == MM
    assert m.print() == MM
    assert str(genie.parse(str(m))) == MM
    m.verify()


def test_generic_form_round_trip():
    generic = genie.parse(MM).print(generic=True)
    assert '"sem.mm"(' in generic
    assert '"func.func"()' in generic
    # generic -> module -> generic is stable, and brings back the custom form.
    again = genie.parse(generic, filename="generic.mlir")
    assert again.print(generic=True) == generic
    assert str(again) == MM


def test_num_ops_is_read_only():
    m = genie.parse(MM)
    assert isinstance(m.num_ops, int) and m.num_ops >= 2
    assert genie.parse(m.print(generic=True)).num_ops == m.num_ops
    with pytest.raises(AttributeError):
        m.num_ops = 0


def test_parse_error_has_position():
    bad = MM.replace("%0 = sem.mm %arg0, %arg1", "%0 = sem.mm %arg0, %nope")
    with pytest.raises(genie.IRError) as info:
        genie.parse(bad, filename="bad.mlir")
    msg = str(info.value)
    assert re.search(r"bad\.mlir:\d+:\d+: error: ", msg), msg
    assert "nope" in msg
    # IRError is a ValueError, catchable without knowing genie.
    assert isinstance(info.value, ValueError)


def test_default_filename():
    with pytest.raises(genie.IRError, match=r"<string>:\d+:\d+: error: "):
        genie.parse("module @m {\n  %0 = \n}\n")


def test_pipeline_runs_and_cse_merges():
    m = genie.parse(DUP_MM)
    before = m.num_ops
    m.run_passes("genie-sem-canonicalize,genie-cse")
    m.verify()
    assert m.num_ops == before - 1
    assert str(m).count("sem.mm") == 1
    assert "return %0, %0 :" in str(m)


def test_bad_pipeline_names_unknown_pass():
    m = genie.parse(MM)
    with pytest.raises(genie.IRError, match="genie-no-such-pass"):
        m.run_passes("genie-cse,genie-no-such-pass")
    assert str(m) == MM  # nothing ran


def test_list_passes():
    passes = genie.list_passes()
    assert all(isinstance(n, str) and isinstance(d, str) and d for n, d in passes)
    names = [n for n, _ in passes]
    assert "genie-cse" in names
    assert "genie-sem-canonicalize" in names
    assert len(names) == len(set(names))
