"""The tensors an objective reads, and everything else its traced graph bakes in (issue 27.4).

A prepared ITO step (an exported or TensorRT graph) is traced from an objective that closes over a job's
targets. :func:`objective_inputs` lists those tensors, so the trace makes them inputs, and keys the rest,
so the next job with an equal key calls the same graph with its own tensors.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Hashable

import torch
from torch import Tensor, nn


class Same:
    """A key part equal only to the very same object; it holds the object, so its id cannot be reused by
    another object while a kept graph's key exists (a freed job object's address given to the next job's)."""

    def __init__(self, obj: object):
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __repr__(self) -> str:
        return f"Same({type(self.obj).__name__} at {id(self.obj):#x})"


def objective_inputs(objective: object) -> tuple[Hashable, tuple[Tensor, ...]]:
    """What a traced graph of ``objective`` depends on, split for reuse: ``(key, tensors)``.

    ``tensors``: every tensor its closures reach (a job's targets, weights), in a fixed order -- the
    graph's inputs. ``key``: everything else the trace bakes in -- the code, the numbers, the tensors'
    shapes and dtypes, modules and other objects by identity. Two objectives with equal keys trace the
    same graph up to their tensors. Walks functions' closures and defaults, bound methods, partials,
    dataclasses, lists, tuples and dicts; anything else counts by identity (never reused wrongly)."""
    tensors: list[Tensor] = []
    index: dict[int, int] = {}
    active: set[int] = set()

    def walk(v: object) -> Hashable:
        if isinstance(v, Tensor):
            if id(v) not in index:
                index[id(v)] = len(tensors)
                tensors.append(v)
            return ("tensor", index[id(v)], tuple(v.shape), v.dtype, str(v.device))
        if v is None or isinstance(v, (bool, int, float, str, torch.dtype, torch.device)):
            return v
        if isinstance(v, nn.Module) or id(v) in active:
            return Same(v)
        active.add(id(v))
        try:
            return walk_inside(v)
        finally:
            active.discard(id(v))

    def walk_inside(v: object) -> Hashable:
        if isinstance(v, (list, tuple)):
            return (type(v).__name__, tuple(walk(i) for i in v))
        if isinstance(v, dict):
            return ("dict", tuple((repr(k), walk(i)) for k, i in v.items()))
        if isinstance(v, types.FunctionType):
            cells = tuple(walk(cell_contents(c)) for c in v.__closure__ or ())
            return ("function", v.__code__, cells, walk(v.__defaults__), walk(v.__kwdefaults__))
        if isinstance(v, types.MethodType):
            return ("method", walk(v.__func__), walk(v.__self__))
        if isinstance(v, functools.partial):
            return ("partial", walk(v.func), walk(v.args), walk(v.keywords))
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return (type(v), tuple(walk(getattr(v, f.name)) for f in dataclasses.fields(v)))
        return Same(v)

    key = walk(objective)
    return key, tuple(tensors)


def cell_contents(cell: types.CellType) -> object:
    try:
        return cell.cell_contents
    except ValueError:  # a cell not filled yet (a name defined later in the enclosing function)
        return None
