"""The network suite's workloads: real architectures from configs, random
weights (seeded, so every process builds the same model), no downloads.

Each workload builds ``(model, inputs)``; ``read(model, inputs)`` is one
call and returns what a program would read from it. Decode workloads
(``Decode``) instead run Hugging Face ``generate()``.
"""

import torch
from torch import nn

SEED = 0


class Workload:
    name = ""
    unit = "calls"  # what one call processes, for the throughput figure
    per_call = 1

    def build(self):
        raise NotImplementedError

    def read(self, model, inputs):
        return model(*inputs)


class Decode(Workload):
    """GPT-2 small greedy decoding after a prompt of ``context`` tokens."""

    unit = "tokens"

    def __init__(self, context):
        self.context = context
        self.name = f"gpt2_decode_{context}"

    def build(self):
        from transformers import GPT2Config, GPT2LMHeadModel

        torch.manual_seed(SEED)
        model = GPT2LMHeadModel(GPT2Config(n_positions=2048)).eval()
        prompt = torch.randint(1, 50000, (1, self.context))
        return model, (prompt,)


class Bert(Workload):
    """BERT-base encoding a batch of sequences; the pooled embedding is read."""

    name, unit = "bert_base", "sequences"

    def __init__(self, batch=8, seq=128):
        self.per_call, self.seq = batch, seq

    def build(self):
        from transformers import BertConfig, BertModel

        torch.manual_seed(SEED)
        model = BertModel(BertConfig()).eval()
        ids = torch.randint(1, 30000, (self.per_call, self.seq))
        return model, (ids, torch.ones_like(ids))

    def read(self, model, inputs):
        return model(input_ids=inputs[0], attention_mask=inputs[1]).pooler_output


class ResNet50(Workload):
    unit = "images"

    def __init__(self, batch):
        self.per_call = batch
        self.name = f"resnet50_b{batch}"

    def build(self):
        import torchvision

        torch.manual_seed(SEED)
        model = torchvision.models.resnet50(weights=None).eval()
        return model, (torch.randn(self.per_call, 3, 224, 224),)


class DLRMNet(nn.Module):
    """DLRM: EmbeddingBag tables + bottom MLP + pairwise dot interaction + top MLP."""

    def __init__(self, tables=8, rows=50_000, dim=64, dense=13):
        super().__init__()
        self.tables = nn.ModuleList(nn.EmbeddingBag(rows, dim, mode="sum") for _ in range(tables))
        self.bottom = nn.Sequential(nn.Linear(dense, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, dim), nn.ReLU())
        n = tables + 1
        li, lj = torch.tril_indices(n, n, offset=-1)
        self.register_buffer("li", li, persistent=False)
        self.register_buffer("lj", lj, persistent=False)
        self.top = nn.Sequential(nn.Linear(dim + n * (n - 1) // 2, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 1), nn.Sigmoid())

    def forward(self, dense, indices, offsets):
        x = self.bottom(dense)
        embs = [t(indices[i], offsets[i]) for i, t in enumerate(self.tables)]
        feats = torch.stack([x] + embs, dim=1)
        inter = torch.bmm(feats, feats.transpose(1, 2))
        return self.top(torch.cat([x, inter[:, self.li, self.lj]], dim=1))


class DLRM(Workload):
    """A DLRM-style recommender scoring a batch of queries (102 MB of tables)."""

    name, unit = "dlrm", "queries"

    def __init__(self, batch=256, per_bag=20):
        self.per_call, self.per_bag = batch, per_bag

    def build(self):
        torch.manual_seed(SEED)
        model = DLRMNet().eval()
        n, rows = len(model.tables), model.tables[0].num_embeddings
        dense = torch.randn(self.per_call, 13)
        indices = torch.randint(0, rows, (n, self.per_call * self.per_bag))
        offsets = torch.arange(0, self.per_call * self.per_bag, self.per_bag).repeat(n, 1)
        return model, (dense, indices, offsets)


class Clip(Workload):
    """CLIP ViT-B/32 (transformers' default config): one image against four
    captions; the image-text logits are read."""

    name, unit = "clip", "queries"

    def build(self):
        from transformers import CLIPConfig, CLIPModel

        torch.manual_seed(SEED)
        model = CLIPModel(CLIPConfig()).eval()
        ids = torch.randint(1, 49000, (4, 16))
        return model, (ids, torch.randn(1, 3, 224, 224))

    def read(self, model, inputs):
        return model(input_ids=inputs[0], pixel_values=inputs[1]).logits_per_image


WORKLOADS = {w.name: w for w in (Decode(128), Decode(1024), Bert(), ResNet50(1), ResNet50(8), DLRM(), Clip())}


class Served(nn.Module):
    """What a PyTorch RPC user deploys with ``RemoteModule``: the workload's
    model on the server, returning what the client reads. For decoding it
    keeps the KV cache on the server and returns only the next token —
    the best a hand-written RPC service can do."""

    def __init__(self, workload_name):
        super().__init__()
        self.workload = WORKLOADS[workload_name]
        self.model, _ = self.workload.build()
        self.cache = None

    @torch.no_grad()
    def forward(self, *inputs):
        if not isinstance(self.workload, Decode):
            return self.workload.read(self.model, inputs)
        ids, start = inputs
        if start:
            self.cache = None
        out = self.model(ids, past_key_values=self.cache, use_cache=True)
        self.cache = out.past_key_values
        return out.logits[:, -1, :].argmax(-1, keepdim=True)
