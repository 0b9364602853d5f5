"""Graphs running on Genie's embedded CPU runtime (plan bytecode interpreted
by the Rust kernels) agree with eager PyTorch: rtol 1e-4, atol 1e-5 in f32,
and greedy tokens exactly. Graphs with ops the backend lacks fall back to
eager, named in a log line."""

import logging
import re

import pytest
import torch

import aten_census as census
from genie.graph_capture import Capture

RTOL, ATOL = 1e-4, 1e-5


def compiled(model, dynamic=None):
    torch._dynamo.reset()
    cap = Capture(execute=True)
    return torch.compile(model, backend=cap.backend(), dynamic=dynamic), cap


def close(a, b):
    torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ["gpt2", "bert", "llama"])
def test_transformers_match_eager(name):
    torch.manual_seed(0)
    model = getattr(census, name)().eval()
    ids = torch.randint(0, census.VOCAB, (2, census.SEQ))
    fn, cap = compiled(model)
    with torch.no_grad():
        got, want = fn(ids).logits, model(ids).logits
    assert not cap.fallbacks, cap.fallbacks
    assert cap.runtime_calls == 1
    close(got, want)


def test_gpt2_decode_with_growing_kv_cache():
    torch.manual_seed(0)
    model = census.gpt2().eval()
    fn, cap = compiled(model, dynamic=True)
    with torch.no_grad():
        prompt = torch.randint(0, census.VOCAB, (1, 5))
        out, ref = fn(prompt, use_cache=True), model(prompt, use_cache=True)
        close(out.logits, ref.logits)
        cache, ref_cache = out.past_key_values, ref.past_key_values
        for step in range(4):
            tok = torch.randint(0, census.VOCAB, (1, 1))
            out = fn(tok, past_key_values=cache, use_cache=True)
            ref = model(tok, past_key_values=ref_cache, use_cache=True)
            close(out.logits, ref.logits)
            cache, ref_cache = out.past_key_values, ref.past_key_values
            if step == 0:
                graphs = len(cap.graphs)
    # The cache length is symbolic: later steps reuse the decode graph. (The
    # prefill already returns its caches in append buffers, so every step
    # hands Dynamo caches of one layout.)
    assert len(cap.graphs) == graphs
    assert not cap.fallbacks, cap.fallbacks
    assert cap.runtime_calls == 5
    # The caches grow in place: views of append buffers, positions outermost.
    key = cache.layers[0].keys if hasattr(cache, "layers") else cache[0][0]
    assert not key.is_contiguous() and key.stride(-2) == key.shape[0] * key.shape[1] * key.shape[3]


def test_greedy_tokens_equal_eager():
    torch.manual_seed(0)
    model = census.gpt2().eval()
    prompt = torch.randint(0, census.VOCAB, (1, 4))
    with torch.no_grad():
        want = model.generate(prompt, max_new_tokens=8, do_sample=False, pad_token_id=census.VOCAB - 1)
        torch._dynamo.reset()
        cap = Capture(execute=True)
        model.compile(backend=cap.backend())
        got = model.generate(prompt, max_new_tokens=8, do_sample=False, pad_token_id=census.VOCAB - 1)
    assert not cap.fallbacks, cap.fallbacks
    assert cap.runtime_calls >= 8
    assert torch.equal(got, want)


class Upsample(torch.nn.Module):
    """A transposed convolution: an op the CPU backend does not run yet."""

    def __init__(self):
        super().__init__()
        self.up = torch.nn.ConvTranspose2d(2, 3, 3)

    def forward(self, x):
        return self.up(x).relu()


UNSUPPORTED = "op 'sem.convolution' with transposed = true is not supported by the CPU backend yet"


def test_unsupported_ops_fall_back_to_eager(caplog):
    torch.manual_seed(0)
    model = Upsample().eval()
    x = torch.randn(1, 2, 4, 4)
    fn, cap = compiled(model)
    with caplog.at_level(logging.WARNING, logger="genie"), torch.no_grad():
        close(fn(x), model(x))
    # The reason names the op and the module it sits in.
    assert len(cap.fallbacks) == 1
    assert cap.fallbacks[0].startswith(UNSUPPORTED + " (at module 'up'")
    assert cap.runtime_calls == 0
    assert "running a graph eagerly: " + UNSUPPORTED in caplog.text


def test_ops_genie_cannot_import_fall_back_too(caplog):
    def f(x):
        return torch.digamma(x) + 1  # no sem op for digamma

    x = torch.rand(3, 3) + 1
    fn, cap = compiled(f)
    with caplog.at_level(logging.WARNING, logger="genie"):
        close(fn(x), f(x))
    assert cap.runtime_calls == 0
    assert len(cap.fallbacks) == 1 and "aten::digamma" in cap.fallbacks[0], cap.fallbacks
    assert "running a graph eagerly" in caplog.text


def test_transformer_encoder_layer_fast_path():
    torch.manual_seed(0)
    layer = census.transformer_encoder_layer().eval()
    x = torch.randn(2, 5, census.HIDDEN)
    fn, cap = compiled(layer)
    with torch.no_grad():
        got, want = fn(x), layer(x)
    assert not cap.fallbacks, cap.fallbacks
    assert cap.runtime_calls == 1
    close(got, want)


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "densenet121", "convnext_tiny"])
def test_models_outside_the_list_run_unchanged(name):
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    x = torch.randn(1, 3, 64, 64)
    fn, cap = compiled(model)
    with torch.no_grad():
        got, want = fn(x), model(x)
    assert not cap.fallbacks, cap.fallbacks
    assert cap.runtime_calls == 1
    close(got, want)


@pytest.mark.parametrize("name", ["OPT", "Mistral", "GPTNeoX"])
def test_decoders_outside_the_list_run_unchanged(name):
    import transformers

    torch.manual_seed(0)
    small = dict(vocab_size=census.VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4)
    cfg = {
        "OPT": lambda: transformers.OPTConfig(ffn_dim=128, word_embed_proj_dim=64, **small),
        "Mistral": lambda: transformers.MistralConfig(intermediate_size=128, num_key_value_heads=2, **small),
        "GPTNeoX": lambda: transformers.GPTNeoXConfig(intermediate_size=128, **small),
    }[name]()
    model = getattr(transformers, f"{name}ForCausalLM")(cfg).eval()
    ids = torch.randint(0, census.VOCAB, (1, 12))
    fn, cap = compiled(model)
    with torch.no_grad():
        got, want = fn(ids).logits, model(ids).logits
    assert not cap.fallbacks, cap.fallbacks
    assert cap.runtime_calls == 1
    close(got, want)


def test_data_movement_and_group_norm():
    norm = torch.nn.GroupNorm(2, 4).eval()

    def f(x, idx):
        y = norm(x)
        a, b, c = y.unbind(2)
        z = torch.nn.functional.pad(x.flip(1), (1, 2), value=0.5).repeat(1, 2, 1)
        w = x.clone()
        w[:, 1] = 7.0
        w[0, :, 1:3] = b[0].unsqueeze(-1)
        s = torch.zeros(2, 4).scatter_add(1, idx, x[:, :, 0])
        return a + c, z, w, s

    x, idx = torch.randn(2, 4, 3), torch.tensor([[0, 1, 1, 3], [2, 2, 0, 1]])
    fn, cap = compiled(f)
    with torch.no_grad():
        got, want = fn(x, idx), f(x, idx)
    assert not cap.fallbacks, cap.fallbacks
    assert cap.runtime_calls == 1
    for g, w in zip(got, want):
        close(g, w)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bags(mode):
    torch.manual_seed(0)
    bags = torch.nn.EmbeddingBag(10, 4, mode=mode, padding_idx=0).eval()
    idx, offsets = torch.tensor([1, 2, 0, 3, 4, 9, 9]), torch.tensor([0, 2, 2, 5])
    fn, cap = compiled(bags)
    with torch.no_grad():
        close(fn(idx, offsets), bags(idx, offsets))
    assert cap.runtime_calls == 1


@pytest.mark.parametrize("mode", ["sum", "max"])
def test_large_embedding_bags_run_in_parallel_and_match(mode):
    # Enough lookups (1,024 × 64) for the bags to be summed on all threads;
    # weighted per sample in sum mode.
    torch.manual_seed(0)
    bags = torch.nn.EmbeddingBag(1000, 64, mode=mode).eval()
    idx = torch.randint(0, 1000, (1024,))
    offsets = torch.arange(0, 1024, 8)
    weights = torch.rand(1024) if mode == "sum" else None
    fn, cap = compiled(lambda i, o, w: bags(i, o, per_sample_weights=w))
    with torch.no_grad():
        close(fn(idx, offsets, weights), bags(idx, offsets, per_sample_weights=weights))
    assert cap.runtime_calls == 1


def test_dlrm_matches_eager():
    torch.manual_seed(0)
    model = census.DLRM().eval()
    dense, indices, offsets = census.dlrm_inputs()
    fn, cap = compiled(model)
    with torch.no_grad():
        got, want = fn(dense, indices, offsets), model(dense, indices, offsets)
    assert not cap.fallbacks, cap.fallbacks
    assert cap.runtime_calls == 1
    close(got, want)


def test_sort_and_topk():
    def f(x):
        v, i = torch.sort(x, dim=1, descending=True)
        t, j = torch.topk(x, 3, dim=0, largest=False)
        return v, i, t, j

    x = torch.randn(5, 7)
    x[1, 2] = float("nan")
    fn, cap = compiled(f)
    got, want = fn(x), f(x)
    assert cap.runtime_calls == 1
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, equal_nan=True)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_models(dtype):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.LayerNorm(16), torch.nn.Linear(16, 4), torch.nn.Softmax(-1)
    ).eval().to(dtype)
    x = torch.randn(3, 8, dtype=dtype)
    fn, cap = compiled(model)
    with torch.no_grad():
        got, want = fn(x), model(x)
    assert cap.runtime_calls == 1
    assert got.dtype == dtype
    # Eager rounds to the half type at its own points; the runtime computes in
    # f64 and rounds each op's result, so they agree within a few half ulps.
    torch.testing.assert_close(got, want, rtol=2e-2, atol=2e-2)


def test_every_dtype_crosses_dlpack():
    def f(x, y):
        return x > y, (x * 2).to(torch.int8), x.to(torch.bfloat16), x.to(torch.float64), (x * 10).to(torch.int32)

    x, y = torch.randn(5), torch.randn(5)
    fn, cap = compiled(f)
    got, want = fn(x, y), f(x, y)
    assert cap.runtime_calls == 1
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        assert torch.equal(g, w)


def test_inputs_are_read_in_place_and_aliasing_follows_eager():
    def f(x, w):
        return x.clone(), x @ w, w[1:]

    x, w = torch.randn(3, 4), torch.randn(4, 4)
    strided = x.t().contiguous().t()  # a transposed (strided) input
    fn, cap = compiled(f)
    copy, prod, tail = fn(strided, w)
    assert cap.runtime_calls == 1
    close(prod, x @ w)
    close(copy, x)
    # A clone is fresh memory even though the runtime shares it internally...
    copy.zero_()
    assert strided.abs().sum() > 0
    # ...while a view stays a view of the input, as in eager.
    tail.zero_()
    assert w[1:].abs().sum() == 0


def test_mlp_with_exact_gelu_layer_norm_softmax():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.LayerNorm(16), torch.nn.Linear(16, 4), torch.nn.Softmax(-1)
    ).eval()
    x = torch.randn(3, 8)
    x[0] = 0.0  # erf(0): the series must stop at an exact zero
    fn, cap = compiled(model)
    with torch.no_grad():
        close(fn(x), model(x))
    assert cap.runtime_calls == 1


def test_backend_entry_point_and_options():
    import genie

    torch.manual_seed(0)
    model = census.gpt2().eval()
    ids = torch.randint(0, census.VOCAB, (1, 6))
    torch._dynamo.reset()
    fn = torch.compile(model, backend="genie")  # found through the entry point
    with torch.no_grad():
        close(fn(ids).logits, model(ids).logits)
    torch._dynamo.reset()
    up = torch.compile(Upsample().eval(), backend="genie", options={"fallback": "error"})
    with pytest.raises(genie.UnsupportedOpError, match=re.escape(UNSUPPORTED + " (at module 'up'")):
        with torch.no_grad():
            up(torch.randn(1, 2, 4, 4))
    torch._dynamo.reset()
    with pytest.raises(Exception, match="unknown options"):
        torch.compile(torch.nn.ReLU(), backend="genie", options={"bogus": 1})(torch.randn(2))


@pytest.mark.parametrize("name,size", [("resnet18", 64), ("efficientnet_b0", 64), ("vit_b16", 32)])
def test_vision_models_match_eager(name, size):
    torch.manual_seed(0)
    model = getattr(census, name)().eval()
    x = torch.randn(2, 3, size, size)
    fn, cap = compiled(model)
    with torch.no_grad():
        got, want = fn(x), model(x)
    assert not cap.fallbacks, cap.fallbacks
    assert cap.runtime_calls == 1
    close(got, want)


def test_clip_matches_eager():
    torch.manual_seed(0)
    model = census.clip().eval()
    ids = torch.randint(0, census.VOCAB, (2, census.SEQ))
    pixels = torch.randn(1, 3, 32, 32)
    fn, cap = compiled(model)
    with torch.no_grad():
        got = fn(input_ids=ids, pixel_values=pixels)
        want = model(input_ids=ids, pixel_values=pixels)
    assert not cap.fallbacks, cap.fallbacks
    close(got.logits_per_image, want.logits_per_image)
    close(got.image_embeds, want.image_embeds)
