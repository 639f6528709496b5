"""Read what an autograd node saved for backward, before backward frees it.

Built-in nodes expose ``_saved_<name>`` attributes (tensors, tuples, ints,
floats, sizes); custom ``autograd.Function`` nodes expose ``saved_tensors``.
Reading a tensor attribute after a plain backward raises RuntimeError: that is
recorded as "freed", not as an error.

A tensor packed by the snippet's own saved-tensor hooks
(``torch.autograd.graph.saved_tensors_hooks``, ``save_on_cpu``, or
``register_hooks`` on a raw saved tensor) is never unpacked here: unpacking
runs the snippet's unpack hook, which may print, count, or read from disk, and
the snippet must run as it does under ``python``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from gradviz.model import TensorData
from gradviz.torchcapture.tensors import StatsMemo, StorageKey, storage_key, to_data

__all__ = ["Known", "SavedRecord", "read_saved"]

Known = Mapping[StorageKey, tuple[TensorData | None, ...] | None]
"""Memory of the graph's tensors -> the numbers each tensor made there was recorded with
(None for a leaf's memory, which is trusted)."""


@dataclass(frozen=True)
class SavedRecord:
    """One saved value as captured; ``key`` links a tensor to the graph node it is."""

    name: str
    tensor: TensorData | None = None
    key: StorageKey | None = None
    value: str | None = None
    freed: bool = False
    made_in: tuple[int, StorageKey | None] | None = None
    """For a constant input that a module call returned: the module's number (as ops'
    scopes hold it) and the memory of its input."""
    made_by: tuple[str, tuple[StorageKey | None, ...]] | None = None
    """For a constant input a torch call made of other tensors: the call, and the memory
    of those tensors (``cat(o, a)``, ``ones_like(d_real)``)."""
    local: str | None = None
    """For a constant input: the local that held it in the snippet's function making
    the call (``mask`` in d2l's ``dropout_layer``), a name gone once the function returns."""


PACKED = "packed by a saved-tensor hook (not unpacked)"

_ATTRS: dict[type, tuple[str, ...]] = {}


def _saved_attrs(node_type: type) -> tuple[str, ...]:
    """The ``_saved_*`` attribute names of a node class (``dir`` is slow: once per class)."""
    names = _ATTRS.get(node_type)
    if names is None:
        names = _ATTRS[node_type] = tuple(
            sorted(a for a in dir(node_type) if a.startswith("_saved_"))
        )
    return names


def read_saved(
    node: object,
    known: Known | None = None,
    memo: StatsMemo | None = None,
) -> list[SavedRecord]:
    """Everything ``node`` saved, in a stable order (attribute name).

    A saved tensor whose memory is one of the ``known`` graph tensors (key -> the
    numbers each tensor made there was recorded with, None for a leaf's) keeps only
    its key: the graph node shows its numbers. Others are summarized here.
    """
    known = known or {}
    records: list[SavedRecord] = []
    if isinstance(node, torch.autograd.function.BackwardCFunction):
        if _packed_by_hook(node, "_raw_saved_tensors"):
            return [SavedRecord(name="saved_tensors", value=PACKED)]
        try:
            tensors = node.saved_tensors
        except RuntimeError:
            return [SavedRecord(name="saved_tensors", freed=True)]
        for i, t in enumerate(tensors):
            records.append(_tensor_record(f"saved_tensors[{i}]", t, known, memo))
        return records
    for attr in _saved_attrs(type(node)):
        name = attr.removeprefix("_saved_")
        if _packed_by_hook(node, "_raw" + attr):
            records.append(SavedRecord(name=name, value=PACKED))
            continue
        try:
            value = getattr(node, attr)
        except RuntimeError:
            records.append(SavedRecord(name=name, freed=True))
            continue
        if isinstance(value, torch.Tensor):
            records.append(_tensor_record(name, value, known, memo))
        elif isinstance(value, tuple | list) and any(isinstance(t, torch.Tensor) for t in value):
            # index's indices: tensors, and None for a dimension taken whole (x[:, cols])
            records.extend(
                _tensor_record(f"{name}[{i}]", t, known, memo)
                if isinstance(t, torch.Tensor) or t is None
                else SavedRecord(name=f"{name}[{i}]", value=_describe(t))
                for i, t in enumerate(value)
            )
        else:
            records.append(SavedRecord(name=name, value=_describe(value)))
    return records


def _packed_by_hook(node: object, raw_attr: str) -> bool:
    """Whether reading a saved tensor (or list of them) would run an unpack hook.

    Only tensor attributes have a ``_raw_saved_*`` twin; a freed one reports no
    hook, and reading it then raises as usual.
    """
    try:
        raw = getattr(node, raw_attr, None)
    except RuntimeError:  # freed: reading it raises again, and is told as freed
        return False
    if raw is None:
        return False
    for saved in raw if isinstance(raw, tuple | list) else (raw,):
        if getattr(saved, "unpack_hook", None) is not None:
            return True
    return False


def _tensor_record(
    name: str,
    t: torch.Tensor | None,
    known: Known,
    memo: StatsMemo | None,
) -> SavedRecord:
    if t is None:
        return SavedRecord(name=name, value="None")
    key = storage_key(t)
    if key is not None and key in known:
        recorded = known[key]
        if recorded is None or any(_same_ends(t, r) for r in recorded):
            return SavedRecord(name=name, key=key)
        key = None  # another tensor, made in the memory of one freed before it
    return SavedRecord(name=name, tensor=to_data(t, memo), key=key)


_ELEMENTS: dict[
    torch.dtype, type[ctypes.c_float | ctypes.c_double | ctypes.c_int64 | ctypes.c_int32]
] = {
    torch.float32: ctypes.c_float,
    torch.float64: ctypes.c_double,
    torch.int64: ctypes.c_int64,
    torch.int32: ctypes.c_int32,
}


def _same_ends(t: torch.Tensor, recorded: TensorData | None) -> bool:
    """Whether ``t`` still holds the first and last numbers recorded for the graph tensor
    whose memory it is: when a temporary is freed (``x @ w.T`` once ``+ b`` used it),
    a tensor made later in its memory (the ``log_softmax`` inside ``cross_entropy``)
    has the same key, and linking it to the temporary would show the wrong numbers.

    Read straight from memory, which ``t`` keeps alive: a few hundred nanoseconds,
    against microseconds for asking torch. Only where the numbers were kept whole,
    on the CPU; elsewhere the key is trusted, as it always was.
    """
    data = recorded.data if recorded is not None else None
    element = _ELEMENTS.get(t.dtype)
    if not data or element is None or t.device.type != "cpu" or not t.numel():
        return True
    try:
        first_ptr = t.data_ptr()
    except RuntimeError:  # a wrapper tensor with no memory of its own
        return True
    last = sum((size - 1) * stride for size, stride in zip(t.shape, t.stride(), strict=True))
    ends = (
        element.from_address(first_ptr).value,
        element.from_address(first_ptr + last * t.element_size()).value,
    )
    wanted = (data[0], data[-1])
    return all(a == b or (a != a and b != b) for a, b in zip(ends, wanted, strict=True))


def _describe(value: object) -> str:
    """How a saved attribute reads in the graph: ``-1`` for a dimension autograd keeps as
    the unsigned ``2**64 - 1`` (no int64 attribute can be that large)."""
    if type(value) is int and value >= 1 << 63:
        return repr(value - (1 << 64))
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_describe(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)
