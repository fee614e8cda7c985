#!/usr/bin/env bash
# One GPU session's measurements, for the device machine (python3 there has torch and Triton
# but not dask, click or tqdm). Before calling it, here: put their wheels in .whl/ and a copy
# of ../shared/data in .devdata/ (both git-ignored), and carry both:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux2014_x86_64 -d .whl click tqdm dask distributed partd locket \
#     tblib tornado zict
#   cp -r ../shared/data/. .devdata/
# Then: run(command="bash benchmarks/gpu_run.sh", carry=[".whl", ".devdata"]).
# Writes sweep.json, bench_tvl1_cuda.json and bench_extract_cuda.json (+ logs) under $OUT.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit 1
export PYTHONUNBUFFERED=1
DATA=${DATA:-.devdata}
nvidia-smi --query-gpu=name,memory.total --format=csv
step() {  # name, timeout (s), command...
  local name=$1 limit=$2
  shift 2
  timeout "$limit" "$@" > "$OUT/$name.json" 2> "$OUT/$name.log"
  echo "$name rc=$?"
  grep -v "^W" "$OUT/$name.log" | tail -8
}
step sweep 240 python3 benchmarks/triton_sweep.py --data "$DATA" --steps 1 --blocks 128,256 --large 256
step bench_tvl1_cuda 200 python3 -m flowpipe bench tvl1 --device cuda --data "$DATA"
step bench_extract_cuda 150 python3 -m flowpipe bench extract --device cuda --data "$DATA" \
  --max-frames 64 --batch 32 --tiny-videos 0
python3 - "$OUT" <<'PY'
import json, sys
for name in ("sweep", "bench_tvl1_cuda", "bench_extract_cuda"):
    try:
        print(name, json.dumps(json.load(open(f"{sys.argv[1]}/{name}.json")))[:1500])
    except (OSError, ValueError) as err:
        print(name, "no result:", err)
PY
