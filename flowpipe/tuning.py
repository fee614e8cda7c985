"""Tuning: named settings that change how fast flowpipe runs, never what it computes.

Each subsystem keeps its tuning in one frozen dataclass (`JobTuning` for the extraction job,
`TritonSettings` for the GPU engine, ...), passed to the code that uses it. Its defaults are the
measured best (docs/benchmarks.md); one documented way overrides them, environment variables
named ``FLOWPIPE_<SECTION>_<FIELD>``, read when `from_environment` builds the object::

    FLOWPIPE_JOB_VIDEOS_PER_GPU=8 flowpipe extract videos/ -o flow/

docs/configuration.md lists every section and field. Tests and sweeps pass objects instead
(`dataclasses.replace(JobTuning(), videos_per_gpu=8)`); nothing patches module globals.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, TypeVar

T = TypeVar("T")
PREFIX = "FLOWPIPE_"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def from_environment(cls: type[T], section: str, environ: dict[str, str] | None = None) -> T:
    """`cls()` with each field replaced by ``FLOWPIPE_<SECTION>_<FIELD>`` where that is set
    (upper case); ValueError naming the variable when its value does not parse."""
    environ = os.environ if environ is None else environ
    changes: dict[str, Any] = {}
    defaults = cls()
    for field in dataclasses.fields(cls):
        name = f"{PREFIX}{section}_{field.name}".upper()
        if name in environ:
            changes[field.name] = _parse(name, environ[name], getattr(defaults, field.name))
    return dataclasses.replace(defaults, **changes) if changes else defaults


def _parse(name: str, text: str, default: Any) -> Any:
    """text as the type of default (bool, int or float)."""
    try:
        if isinstance(default, bool):
            if text.strip().lower() not in _TRUE + _FALSE:
                raise ValueError(text)
            return text.strip().lower() in _TRUE
        if isinstance(default, int):
            return int(text)
        return float(text)
    except ValueError:
        kind = {"bool": "true or false", "int": "an integer"}.get(
            type(default).__name__, "a number"
        )
        raise ValueError(f"environment variable {name}={text!r}: expected {kind}") from None


def environment_names(cls: type, section: str) -> list[str]:
    """The variables that override `cls`'s fields (for docs and error messages)."""
    return [f"{PREFIX}{section}_{f.name}".upper() for f in dataclasses.fields(cls)]
