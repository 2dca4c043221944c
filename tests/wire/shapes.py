"""A strict structural check of a JSON value against the wire TypedDicts: every required key present, no
key the type does not declare, every value of the declared type. Exact on purpose (no coercion), so a
test can say "the translator built exactly this shape"."""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Literal, NotRequired, TypeAliasType, Union, get_args, get_origin, is_typeddict


def mismatches(value: object, tp: object, path: str = "$") -> list[str]:
    """Where `value` does not have the type `tp` (empty: it does)."""
    if isinstance(tp, TypeAliasType):
        return mismatches(value, tp.__value__, path)
    origin = get_origin(tp)
    if origin is NotRequired:
        return mismatches(value, get_args(tp)[0], path)
    if tp is object:
        return []
    if tp is None or tp is type(None):
        return [] if value is None else [f"{path}: {value!r} is not null"]
    if origin is Literal:
        return [] if any(value == a and type(value) is type(a) for a in get_args(tp)) else [
            f"{path}: {value!r} is not one of {get_args(tp)}"]
    if origin in (Union, types.UnionType):
        options = [mismatches(value, member, path) for member in get_args(tp)]
        if any(not o for o in options):
            return []
        return [f"{path}: {value!r} matches no member of {tp}; closest: {min(options, key=len)}"]
    if is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object ({tp.__name__})"]
        hints = typing.get_type_hints(tp)
        out = [f"{path}: missing {key!r} ({tp.__name__})" for key in tp.__required_keys__ if key not in value]
        out += [f"{path}: {key!r} is not a field of {tp.__name__}" for key in value if key not in hints]
        for key, item in value.items():
            if key in hints:
                out += mismatches(item, hints[key], f"{path}.{key}")
        return out
    if origin in (list, collections.abc.Sequence):
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not an array"]
        (item_type,) = get_args(tp)
        return [m for i, item in enumerate(value) for m in mismatches(item, item_type, f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        _, item_type = get_args(tp)
        return [m for k, item in value.items() for m in mismatches(item, item_type, f"{path}.{k}")]
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r} is not a number"]
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r} is not an integer"]
    if tp in (str, bool):
        return [] if isinstance(value, tp) else [f"{path}: {value!r} is not a {tp.__name__}"]
    raise TypeError(f"{path}: no check for {tp!r}")
