#!/usr/bin/env python3
"""`make demo`: GPT-2 (random weights, small config) greedy generation on a
Genie runtime server.

Starts `genie-runtime serve` on 127.0.0.1, compiles the model in place with
`model.compile(backend="genie", options={"remote": ...})` (in place, so
Hugging Face `generate()` calls the compiled forward on every step; note that
`torch.compile(model).generate()` would silently run the eager forward), and
generates. Weights and plans are uploaded once; the KV cache stays on the
server, and only what the program reads (the next token) comes back.

Prints the tokens, whether they equal eager PyTorch's, the first-call time,
the per-token latency next to eager's, and the bytes and round trips per
generated token.
"""
import logging
import os
import statistics
import subprocess
import sys
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

import genie

NEW_TOKENS = 32
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.environ.get("GENIE_RUNTIME_BIN", os.path.join(ROOT, "target", "release", "genie-runtime"))


def start_server():
    proc = subprocess.Popen([SERVER, "serve", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if "listening on" not in line:
        sys.exit(f"genie-runtime did not start ({SERVER}): {line!r}")
    return proc, "tcp://" + line.split()[-1]


def main():
    logging.basicConfig(format="%(message)s", level=logging.WARNING)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    cfg = GPT2Config(vocab_size=1000, n_positions=128, n_embd=128, n_layer=4, n_head=4, bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(cfg).eval()
    prompt = torch.randint(1, cfg.vocab_size, (1, 8))
    print(f"GPT-2 config: {cfg.n_layer} layers, hidden {cfg.n_embd}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters (random init)")
    print(f"prompt: {prompt[0].tolist()}")

    stats = []

    def generate(m):
        """generate()'s tokens, then the same greedy loop timed per token."""
        times = []
        ids = prompt
        past = None
        with torch.no_grad():
            out = m.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=0)
            # Again, warm, to count what crosses the wire per token.
            stats.append(genie.stats())
            m.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=0)
            stats.append(genie.stats())
            for _ in range(NEW_TOKENS):
                t0 = time.perf_counter()
                r = m(ids if past is None else ids[:, -1:], cache=past, use_cache=True)
                past = r.cache
                ids = torch.cat([ids, r.logits[:, -1:].argmax(-1)], dim=1)
                times.append(time.perf_counter() - t0)
        return out, times

    eager_tokens, eager_times = generate(model)

    server, url = start_server()
    print(f"genie-runtime serving on {url}")
    try:
        torch._dynamo.reset()
        model.compile(backend="genie", options={"remote": url})
        start = genie.stats()
        stats.clear()
        genie_tokens, genie_times = generate(model)
        end = genie.stats()
        warm, after = stats
    finally:
        server.terminate()
        server.wait()
    first_call = genie_times[0]

    new = genie_tokens[0, prompt.shape[1]:].tolist()
    print(f"genie tokens: {new}")
    same = torch.equal(genie_tokens, eager_tokens)
    print(f"equal to eager: {'yes' if same else 'NO'}")
    decode_g = statistics.median(genie_times[2:])
    decode_e = statistics.median(eager_times[2:])
    # The second generate() (warm): the whole call, prefill included.
    moved = after["bytes_sent"] + after["bytes_received"] - warm["bytes_sent"] - warm["bytes_received"]
    print(f"uploaded once (weights and plans): {(end['upload_bytes'] - start['upload_bytes']) / 2**20:.1f} MiB")
    print(f"per generated token, generate() after warm-up: {moved / NEW_TOKENS:.0f} bytes on the wire, {(after['round_trips'] - warm['round_trips']) / NEW_TOKENS:.2f} round trips")
    print(f"first call (capture + compile + upload + run): {first_call * 1e3:.0f} ms")
    print(f"per-token latency, decode (median): genie remote {decode_g * 1e3:.2f} ms, eager {decode_e * 1e3:.2f} ms ({decode_g / decode_e:.2f}x)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
