"""The datasets' flat keywords (L=10, crop=224, fold=1, ...) applied to their option objects.

A dataset is configured by a few frozen option objects (a sampler, a view policy, split
options); each of their fields is also accepted as a keyword of the dataset, so
`FlowStackDataset(root, L=5, crop=112)` is `FlowStackDataset(root, sampler=StackSampler(L=5),
view=ViewPolicy(crop=112))`. A keyword overrides the field of the object given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any


def with_keywords(owner: str, parts: Sequence[Any], keywords: Mapping[str, Any]) -> list[Any]:
    """The option objects `parts` with each keyword applied to the one that has a field of
    that name (each object rebuilt once, so its checks see every change together).

    Args:
        owner: the dataset's name, for the error of an unknown keyword.
        parts: frozen dataclass instances, in order of precedence.
        keywords: field name -> value.

    Returns:
        The objects, in the order of `parts`.
    """
    changes: list[dict[str, Any]] = [{} for _ in parts]
    for name, value in keywords.items():
        index = next((i for i, p in enumerate(parts) if name in _field_names(p)), None)
        if index is None:
            raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}")
        changes[index][name] = value
    return [
        dataclasses.replace(part, **change) if change else part
        for part, change in zip(parts, changes, strict=True)
    ]


def _field_names(obj: Any) -> set[str]:
    """The dataclass's field names."""
    return {f.name for f in dataclasses.fields(obj)}
