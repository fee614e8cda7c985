"""Checks of values a user gives, one set for the whole package: each returns the value in its
canonical type or raises a ValueError that names the setting and what it expected."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import TypeVar

T = TypeVar("T")


def is_integer(value: object) -> bool:
    """Whether value is an integer (numpy's included), bools excluded."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def integer(
    name: str, value: object, minimum: int | None = None, maximum: int | None = None
) -> int:
    """value as an int, checked to lie in [minimum, maximum] (each bound optional)."""
    if not is_integer(value):
        raise ValueError(f"{name} must be an integer{_range(minimum, maximum)}, got {value!r}")
    number = int(value)  # type: ignore[arg-type]
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ValueError(f"{name} must be an integer{_range(minimum, maximum)}, got {number}")
    return number


def positive_number(name: str, value: object) -> float:
    """value as a float, checked to be finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be finite and > 0, got {number}")
    return number


def choice(name: str, value: T, choices: Sequence[T]) -> T:
    """value, checked to be one of choices."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def _range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in {minimum}..{maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    return "" if maximum is None else f" <= {maximum}"
