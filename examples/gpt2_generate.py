#!/usr/bin/env python3
"""`make demo`: greedy generation with a GPT-2 (random weights, small config)
compiled in place with `model.compile(backend="genie")`, so Hugging Face
`generate()` calls the compiled forward on every step (prefill, then one-token
decode steps against a growing KV cache with a symbolic length).

Prints the tokens, whether they equal eager PyTorch's, Genie's compile time
and per-token latency next to eager's.
"""
import logging
import statistics
import sys
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

NEW_TOKENS = 32


def main():
    logging.basicConfig(format="%(message)s", level=logging.WARNING)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    cfg = GPT2Config(vocab_size=1000, n_positions=128, n_embd=128, n_layer=4, n_head=4, bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(cfg).eval()
    prompt = torch.randint(1, cfg.vocab_size, (1, 8))
    print(f"GPT-2 config: {cfg.n_layer} layers, hidden {cfg.n_embd}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters (random init)")
    print(f"prompt: {prompt[0].tolist()}")

    def generate(m):
        times = []
        ids = prompt
        past = None
        # The same greedy loop generate() runs, timed per token.
        with torch.no_grad():
            out = m.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=0)
            for _ in range(NEW_TOKENS):
                t0 = time.perf_counter()
                r = m(ids if past is None else ids[:, -1:], cache=past, use_cache=True)
                past = r.cache
                ids = torch.cat([ids, r.logits[:, -1:].argmax(-1)], dim=1)
                times.append(time.perf_counter() - t0)
        return out, times

    eager_tokens, eager_times = generate(model)

    torch._dynamo.reset()
    model.compile(backend="genie")  # in place: generate() calls the compiled forward
    genie_tokens, genie_times = generate(model)
    first_call = genie_times[0]

    new = genie_tokens[0, prompt.shape[1]:].tolist()
    print(f"genie tokens: {new}")
    same = torch.equal(genie_tokens, eager_tokens)
    print(f"equal to eager: {'yes' if same else 'NO'}")
    decode_g = statistics.median(genie_times[2:])
    decode_e = statistics.median(eager_times[2:])
    print(f"first call (capture + compile + run): {first_call * 1e3:.0f} ms")
    print(f"per-token latency, decode (median): genie {decode_g * 1e3:.2f} ms, eager {decode_e * 1e3:.2f} ms ({decode_g / decode_e:.2f}x)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
