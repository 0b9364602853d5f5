"""Remote tensors: a placeholder with the real shape and dtype whose value
lives on the server (a handle), is a recorded op on other remote tensors,
or, once read, a local copy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import torch
from torch._C import DisableTorchFunctionSubclass

if TYPE_CHECKING:
    from .connection import Connection

_IR_DTYPES = {
    "f32": torch.float32,
    "f64": torch.float64,
    "f16": torch.float16,
    "bf16": torch.bfloat16,
    "i64": torch.int64,
    "i32": torch.int32,
    "i16": torch.int16,
    "i8": torch.int8,
    "ui8": torch.uint8,
    "u8": torch.uint8,
    "i1": torch.bool,
}



class _Ref:
    """Where a remote tensor's value is: a server handle, a recorded op on
    other remote tensors, or (once read) a local copy."""

    __slots__ = ("conn", "epoch", "handle", "op", "value", "local", "shape", "dtype", "__weakref__")

    def __init__(self, conn: Connection, epoch: int, shape, dtype, handle=None, op=None):
        self.conn, self.epoch, self.shape, self.dtype = conn, epoch, tuple(shape), dtype
        self.handle, self.op = handle, op
        self.value: Optional[torch.Tensor] = None
        # True once a local in-place op made the local copy the truth.
        self.local = False

    def __del__(self):
        if self.handle is not None:
            try:
                self.conn.release_later(self.epoch, self.handle)
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass


# Tensor attributes and methods that only read metadata: answered from the
# placeholder (shape and dtype are the real ones).
_METADATA = frozenset(
    "size dim shape dtype device ndim numel nelement is_floating_point is_complex is_signed requires_grad is_leaf layout "
    "element_size __len__ is_cuda is_sparse is_quantized is_meta is_mps is_xpu is_nested names grad_fn grad _version "
    "__hash__ is_inference get_device itemsize nbytes _is_view output_nr _base __class__".split()
)
# Reads that need the data: the tensor is materialized first.
_MATERIALIZE = frozenset(
    "tolist numpy item cpu __bool__ __int__ __float__ __index__ __complex__ __repr__ __str__ __format__ __array__ "
    "__array_wrap__ data data_ptr storage untyped_storage __reduce_ex__ __deepcopy__ __iter__ __setstate__ __getstate__ "
    "backward register_hook".split()
)


def _fname(func) -> str:
    name = getattr(func, "__name__", "")
    if name in ("__get__", "__set__"):
        name = getattr(getattr(func, "__self__", None), "__name__", name)
    return name


def _tree_map(fn, x):
    if isinstance(x, (list, tuple)):
        mapped = [_tree_map(fn, v) for v in x]
        return type(x)(mapped) if not hasattr(x, "_fields") else type(x)(*mapped)
    if isinstance(x, dict):
        return {k: _tree_map(fn, v) for k, v in x.items()}
    return fn(x)


def _leaves(x, out):
    if isinstance(x, (list, tuple)):
        for v in x:
            _leaves(v, out)
    elif isinstance(x, dict):
        for v in x.values():
            _leaves(v, out)
    else:
        out.append(x)
    return out


class RemoteTensor(torch.Tensor):
    """A tensor whose value lives on the Genie runtime server.

    Shape, dtype and device answer at once; ops on it are recorded and run
    on the server when a result is read; reading it (``.cpu()``,
    ``.item()``, ``.tolist()``, ``print``, numpy, ``bool``) fetches it once.
    Passed to a compiled graph on the same server, it travels as a handle.
    """

    _genie: _Ref

    @staticmethod
    def _make(ref: _Ref) -> "RemoteTensor":
        # A placeholder with the right metadata and one element of memory.
        placeholder = torch.empty((), dtype=ref.dtype).expand(ref.shape)
        t = torch.Tensor._make_subclass(RemoteTensor, placeholder)
        t._genie = ref
        return t

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if torch.compiler.is_compiling():
            # Dynamo traces through here as if this were a plain tensor.
            with DisableTorchFunctionSubclass():
                return func(*args, **kwargs)
        name = _fname(func)
        if name in _METADATA:
            if name in ("grad", "grad_fn", "_base"):
                return None
            with DisableTorchFunctionSubclass():
                return func(*args, **kwargs)
        if name == "stride":
            r = _first_remote((args, kwargs))._genie
            strides = torch.empty(r.shape, device="meta").stride()
            return strides if len(args) < 2 and "dim" not in kwargs else strides[args[1] if len(args) > 1 else kwargs["dim"]]
        if name == "is_contiguous":
            return True
        if name == "as_subclass":
            return args[0]
        if args and isinstance(args[0], RemoteTensor):
            done = recorded.record_in_place(func, name, args, kwargs)
            if done is not None:
                return done
        if name not in _MATERIALIZE and not (name.endswith("_") and not name.endswith("__")) and name != "__setitem__":
            lazy = recorded.record(func, name, args, kwargs)
            if lazy is not NotImplemented:
                return lazy
        # Run locally on materialized values.
        local_args = _tree_map(recorded.materialize_arg, args)
        local_kwargs = _tree_map(recorded.materialize_arg, kwargs)
        if name.endswith("_") and not name.endswith("__") or name == "__setitem__":
            # An in-place op: the local copy becomes the truth.
            for x in _leaves((args, kwargs), [])[:1]:
                if isinstance(x, RemoteTensor):
                    x._genie.local = True
        with DisableTorchFunctionSubclass():
            return func(*local_args, **local_kwargs)

    def __repr__(self, *, tensor_contents=None):
        return repr(recorded.materialize(self)).replace("tensor(", "RemoteTensor(", 1)


def _first_remote(x) -> "RemoteTensor":
    return next(v for v in _leaves(x, []) if isinstance(v, RemoteTensor))


# Recording and reading (imported last: it builds on the classes above).
from . import recorded  # noqa: E402
