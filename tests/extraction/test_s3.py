"""Object storage for real: a moto S3 API server on 127.0.0.1 (started and stopped here), s3fs,
and `flowpipe extract` reading videos from one bucket and writing flow to another, both
layouts; workers killed mid-upload; re-runs; the loaders reading the result."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import fsspec
import pytest

from flowpipe.storage import DatasetStore, flow_names
from flowpipe.storage.codec import decode_jpeg
from flowpipe.synth import write_dataset
from tests.extraction.jobs import FAST, dask_cluster, environ, finish, flowpipe, run, wait_for

pytest.importorskip("s3fs", reason="s3fs is in the dev extra (make install)")
SECRET = "flowpipe-test-secret-3f9a"  # must never appear in logs or dataset files
CPU = ["--workers", "1", "--device", "cpu", "--batch", "4"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint() -> str:
    """moto's standalone S3 server on a free loopback port, for this module's tests."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return urllib.request.urlopen(url, timeout=1).status == 200
        except OSError:
            return False

    try:
        wait_for(up, timeout=60, what="the S3 server")
        yield url
    finally:
        server.kill()
        server.wait()


@pytest.fixture(scope="module")
def env(endpoint: str) -> dict[str, str]:
    """Credentials and the endpoint as users set them: AWS variables and fsspec's config."""
    return environ(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        FSSPEC_S3_ENDPOINT_URL=endpoint,
    )


def s3(endpoint: str):
    return fsspec.filesystem(
        "s3", endpoint_url=endpoint, key="testing", secret="testing", skip_instance_cache=True
    )


@pytest.fixture(scope="module")
def bucket_videos(endpoint: str, tmp_path_factory) -> str:
    """Four small synthetic videos in s3://videos/in/<class>/."""
    root = write_dataset(
        tmp_path_factory.mktemp("synth"),
        videos_per_class=1,
        frames=9,
        size=(64, 48),
        classes=["rotate_cw", "zoom_in", "translate_left", "translate_up"],
        seed=5,
    )
    fs = s3(endpoint)
    fs.mkdir("videos")
    fs.mkdir("flow")
    for video in sorted((root / "videos").rglob("*.mp4")):
        fs.put_file(str(video), f"videos/in/{video.parent.name}/{video.name}")
    return "s3://videos/in"


def options(endpoint: str) -> list[str]:
    """Explicit storage options, the secret among them."""
    return [
        "--storage-option",
        f"endpoint_url={endpoint}",
        "--storage-option",
        "key=testing",
        "--storage-option",
        f"secret={SECRET}",
    ]


def object_texts(endpoint: str, prefix: str) -> str:
    """Every small object under prefix, as text (to look for secrets)."""
    fs = s3(endpoint)
    texts = [fs.cat_file(p).decode("latin-1") for p in fs.find(prefix) if fs.size(p) < 200_000]
    return "\n".join(texts)


@pytest.mark.parametrize("pack", ["folder", "zip"])
def test_bucket_to_bucket_both_layouts_and_no_secret_anywhere(
    endpoint: str, bucket_videos: str, pack: str
) -> None:
    out = f"s3://flow/{pack}"
    args = ["extract", bucket_videos, "-o", out, "--pack", pack, *options(endpoint), *CPU, *FAST]
    code, stdout, err = run(*args)
    assert code == 0, err
    assert stdout.startswith("4 extracted")
    store = DatasetStore(out, pack, {"endpoint_url": endpoint, "key": "testing", "secret": "x"})
    done = store.list_done()
    assert sorted(done) == [
        "rotate_cw/rotate_cw_000",
        "translate_left/translate_left_000",
        "translate_up/translate_up_000",
        "zoom_in/zoom_in_000",
    ]
    meta = done["zoom_in/zoom_in_000"]
    assert meta["source"] == "s3://videos/in/zoom_in/zoom_in_000.mp4"
    x = decode_jpeg(store.read_file("zoom_in/zoom_in_000", flow_names(8)[0]))
    assert x.shape == (48, 64)
    assert SECRET not in stdout + err and SECRET not in object_texts(endpoint, f"flow/{pack}")
    code, stdout, _ = run(*args)
    assert code == 0 and stdout.startswith("0 extracted, 4 already done")


def test_killed_workers_leave_nothing_partial_and_a_rerun_redoes_only_what_is_missing(
    endpoint: str, bucket_videos: str, env: dict[str, str], tmp_path: Path
) -> None:
    out = "s3://flow/killed"
    fs = s3(endpoint)
    with dask_cluster(tmp_path, workers=1, env=env) as (file, workers):
        proc = flowpipe(
            "extract",
            bucket_videos,
            "-o",
            out,
            "--pack",
            "zip",
            "--scheduler-file",
            str(file),
            "--device",
            "cpu",
            "--batch",
            "2",
            *FAST,
            env=env,
        )

        def uploading() -> bool:
            fs.invalidate_cache()
            names = fs.find("flow/killed") if fs.exists("flow/killed") else []
            return any(".zip.tmp-" in n for n in names) or any(n.endswith(".zip") for n in names)

        wait_for(uploading, timeout=180, what="a first upload")
        workers[0].send_signal(signal.SIGKILL)
        proc.send_signal(signal.SIGKILL)
        finish(proc)
    fs.invalidate_cache()
    store = DatasetStore(out, "zip", {"endpoint_url": endpoint, "key": "testing", "secret": "x"})
    before = store.list_done()
    assert len(before) < 4  # killed before the end
    for vid, meta in before.items():  # whatever is listed is whole
        names = [n for k in range(1, meta["flows"] + 1) for n in flow_names(k)]
        assert all(decode_jpeg(d).shape == (48, 64) for d in store.read_files(vid, names))
    code, stdout, err = run(
        "extract", bucket_videos, "-o", out, "--pack", "zip", *CPU, *FAST, env=env
    )
    assert code == 0, err
    assert stdout.startswith(f"{4 - len(before)} extracted, {len(before)} already done")
    assert len(store.list_done()) == 4


LOADER = """
import json, sys
from flowpipe.data import FlowStackDataset
stacks = FlowStackDataset(sys.argv[1], L=4, crop=32, mode="train")
x, label = stacks[0]
print(json.dumps({"videos": len(stacks), "shape": list(x.shape), "label": label,
                  "finite": bool(x.isfinite().all())}))
"""


def test_the_loaders_read_the_bucket(
    endpoint: str, bucket_videos: str, env: dict[str, str]
) -> None:
    """In a fresh process configured as users do (AWS and FSSPEC_S3_* variables)."""
    out = "s3://flow/folder"
    if not s3(endpoint).exists("flow/folder/flowpipe.json"):
        code, _, err = run("extract", bucket_videos, "-o", out, *options(endpoint), *CPU, *FAST)
        assert code == 0, err
    done = subprocess.run(
        [sys.executable, "-c", LOADER, out], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == {"videos": 4, "shape": [8, 32, 32], "label": result["label"], "finite": True}
    assert result["label"] in range(4)


def s3_calls(*args: str, env: dict[str, str]) -> int:
    """The S3 requests a flowpipe command makes (s3fs logs each call at DEBUG)."""
    code, stdout, err = run(*args, env={**env, "S3FS_LOGGING_LEVEL": "DEBUG"})
    assert code == 0, err
    return sum("CALL: " in line for line in err.splitlines())


def test_resume_and_info_cost_the_same_requests_for_more_videos(
    endpoint: str, bucket_videos: str, env: dict[str, str]
) -> None:
    """Requests that do not grow with the number of finished videos: the index's shards are
    read, not a meta.json per video (datasets of 2 and of 4 videos, each made by one run)."""
    fs = s3(endpoint)
    for video in fs.find("videos/in")[:2]:
        fs.copy(video, video.replace("videos/in/", "videos/half/"))
    calls = {}
    for count, source in ((2, "s3://videos/half"), (4, bucket_videos)):
        out = f"s3://flow/calls{count}"
        if not fs.exists(f"flow/calls{count}/flowpipe.json"):
            assert run("extract", source, "-o", out, *CPU, *FAST, env=env)[0] == 0
        resume = s3_calls("extract", source, "-o", out, *CPU, *FAST, env=env)
        info = s3_calls("info", "--json", out, env=env)
        calls[count] = (resume, info)
    assert calls[2] == calls[4], calls
