"""The disaggregation baselines the network suite compares Genie against,
on a real genie-runtime server: stateless graph remoting (remote_mode
"stateless") and op-by-op remoting (remote_mode "op_by_op" with weights
pinned by ``pin``), from benches/network/baselines.py. Each must compute
what eager computes and move what its strategy moves."""

import os
import sys

import torch
from torch import nn

import genie
from genie.remote import RemoteTensor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "benches", "network"))
from baselines import pin, pin_module  # noqa: E402
from test_remote import generate, server, tiny_gpt2  # noqa: F401 - the fixture


def pinned(model, url):
    return pin_module(model, {"remote": url, "remote_mode": "op_by_op"})


def delta(a, b):
    return {k: b[k] - a[k] for k in ("bytes_sent", "bytes_received", "round_trips", "upload_bytes")}


def test_stateless_ships_the_kv_cache_every_step_and_matches_eager(server):
    model, prompt = tiny_gpt2()
    eager = generate(model, prompt, 8)
    model.compile(backend="genie", options={"remote": server.url, "remote_mode": "stateless"})
    assert torch.equal(generate(model, prompt, 8), eager)
    s0 = genie.stats()
    generate(model, prompt, 8)
    d = delta(s0, genie.stats())
    assert d["upload_bytes"] == 0, "weights stay resident"
    # 2 layers x (K, V) x 64 wide x >= 6 positions x 4 bytes, both ways, on each of 7 decode steps.
    kv = 2 * 2 * 64 * 6 * 4
    assert d["bytes_sent"] > 7 * kv and d["bytes_received"] > 7 * kv
    assert d["round_trips"] <= 8 * 2


def test_op_by_op_is_one_request_per_op_and_matches_eager(server):
    model, prompt = tiny_gpt2()
    eager = generate(model, prompt, 4)
    pinned(model, server.url)
    assert all(isinstance(p, RemoteTensor) for p in model.parameters())
    assert torch.equal(generate(model, prompt, 4), eager)
    s0 = genie.stats()
    assert torch.equal(generate(model, prompt, 4), eager)
    d = delta(s0, genie.stats())
    # Dozens of ops per layer and token: far more requests than a graph call's 2.
    assert d["round_trips"] > 4 * 2 * 20
    assert d["upload_bytes"] == 0


def test_op_by_op_runs_batch_norm_embedding_bags_and_in_place_relu(server):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(8 * 6 * 6, 4)).eval()
    bag = nn.EmbeddingBag(50, 4, mode="sum").eval()
    x, idx, off = torch.randn(2, 3, 8, 8), torch.tensor([1, 2, 3, 4, 5]), torch.tensor([0, 2])
    with torch.no_grad():
        want = (net(x), bag(idx, off))
        pinned(net, server.url)
        pinned(bag, server.url)
        s0 = genie.stats()
        got = (net(x), bag(idx, off))
        assert all(isinstance(g, RemoteTensor) for g in got)
        for g, w in zip(got, want):
            torch.testing.assert_close(g.cpu(), w, rtol=1e-4, atol=1e-5)
    d = delta(s0, genie.stats())
    # Everything ran there: only the two outputs (and small inputs) crossed.
    assert d["bytes_received"] < 4096


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        y = self.lin(x)
        y += x  # in place, as torchvision's ResNet blocks do
        return y.relu_()


def test_op_by_op_runs_in_place_ops_on_the_server(server):
    torch.manual_seed(0)
    model, x = Residual().eval(), torch.randn(64, 16)
    with torch.no_grad():
        want = model(x)
        pin_module(model, {"remote": server.url, "remote_mode": "op_by_op"})
        x_remote = pin(x, {"remote": server.url, "remote_mode": "op_by_op"})
        s0 = genie.stats()
        got = model(x_remote)
        assert isinstance(got, RemoteTensor)
        d = delta(s0, genie.stats())
        assert d["round_trips"] >= 3 and d["bytes_received"] < 1024, "every op ran there, nothing came back yet"
        torch.testing.assert_close(got.cpu(), want, rtol=1e-5, atol=1e-6)


def test_pin_binds_each_tensor_even_when_ids_are_reused(server):
    opts = {"remote": server.url, "remote_mode": "op_by_op"}
    # Temporaries of one shape, freed at once: CPython may hand out the same id.
    values = [pin(torch.full((3,), float(i)), opts) for i in range(4)]
    assert [v.cpu().tolist() for v in values] == [[float(i)] * 3 for i in range(4)]
