#!/usr/bin/env python3
"""The PyTorch RPC baseline's server: joins the RPC group as ``server``
(rank 0, rendezvous at ``host:port``) and serves the client's
``RemoteModule`` (``workloads.Served``) until the client shuts down."""

import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
warnings.filterwarnings("ignore")

import torch.distributed.rpc as rpc  # noqa: E402

from client import rpc_options  # noqa: E402

if __name__ == "__main__":
    rpc.init_rpc("server", rank=0, world_size=2, rpc_backend_options=rpc_options(sys.argv[1]))
    print("ready", flush=True)
    rpc.shutdown()
