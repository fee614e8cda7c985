"""Tuning settings: frozen objects, overridden by FLOWPIPE_<SECTION>_<FIELD> variables only."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from flowpipe.extraction.settings import JobTuning
from flowpipe.tuning import environment_names, from_environment


def test_environment_overrides_typed_fields() -> None:
    env = {
        "FLOWPIPE_JOB_VIDEOS_PER_GPU": "8",
        "FLOWPIPE_JOB_REQUESTS_AHEAD_GPU": "3",
        "FLOWPIPE_JOB_CONSISTENCY": "no",
        "FLOWPIPE_OTHER_X": "1",
    }
    tuning = from_environment(JobTuning, "job", env)
    assert (tuning.videos_per_gpu, tuning.requests_ahead_gpu, tuning.consistency) == (8, 3, False)
    assert (
        dataclasses.replace(tuning, videos_per_gpu=4, requests_ahead_gpu=2, consistency=True)
        == JobTuning()
    )
    assert "FLOWPIPE_JOB_CHUNK_PAIRS_GPU" in environment_names(JobTuning, "job")


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("VIDEOS_PER_GPU", "four", "expected an integer"),
        ("CONSISTENCY", "maybe", "expected true or false"),
        ("VIDEOS_PER_GPU", "0", "must be > 0"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, text: str) -> None:
    with pytest.raises(ValueError, match=text):
        from_environment(JobTuning, "job", {f"FLOWPIPE_JOB_{name}": value})


def test_a_bad_variable_is_one_line_from_the_command_line(tmp_path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"not looked at: the settings are checked first")
    command = [sys.executable, "-m", "flowpipe", "extract", str(tmp_path / "a.mp4")]
    command += ["-o", str(tmp_path / "o")]
    env = {"FLOWPIPE_JOB_VIDEOS_PER_GPU": "lots", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: environment variable FLOWPIPE_JOB_VIDEOS_PER_GPU='lots': expected an integer"
    ]
