"""Sanity of the pinned Python environment (python/requirements.lock)."""

from pathlib import Path

import torch
import torchvision
import transformers

LOCK = Path(__file__).resolve().parents[1] / "requirements.lock"


def locked_versions() -> dict:
    pins = {}
    for line in LOCK.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pins[name.strip().lower()] = version.strip()
    return pins


def test_pinned_stack_imports_and_runs():
    pins = locked_versions()
    for mod in (torch, torchvision, transformers):
        # Local build tags (2.x.y+cpu) are not part of the pin.
        assert mod.__version__.split("+")[0] == pins[mod.__name__], mod.__name__

    # torchvision's compiled ops load against this torch.
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert keep.tolist() == [0, 2]

    # A tiny GPT-2 built from a config (no download) runs eagerly.
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=1, n_head=2)
    model = transformers.GPT2LMHeadModel(config).eval()
    ids = torch.randint(0, 64, (2, 8))
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape == (2, 8, 64)
    assert torch.isfinite(logits).all()
