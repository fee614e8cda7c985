#!/usr/bin/env bash
# One GPU session's measurements, for the device machine (python3 there has torch and Triton
# but not dask, click or tqdm). Before calling it, here: put their wheels in .whl/ and a copy
# of ../shared/data in .devdata/ (both git-ignored), and carry both:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux2014_x86_64 -d .whl click tqdm dask distributed partd locket \
#     tblib tornado zict
#   cp -r ../shared/data/. .devdata/
# and, for the step `prev` (the Triton default before continuous batching, same benchmark; any
# commit's tree can go there, e.g. 2625dec, the pool the H200 timed on 2026-11-30):
#   mkdir .prev && git archive 5a0e2c9 flowpipe | tar -x -C .prev
# Then: run(command="bash benchmarks/gpu_run.sh [STEP...]", carry=[".whl", ".devdata", ".prev"])
# with steps among exact, tvl1, prev, extract, sweep, videos, loader (default: exact tvl1 prev
# extract, about 9 minutes). Each writes <step>.json and <step>.log under $OUT.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit 1
export PYTHONUNBUFFERED=1
DATA=$(realpath "${DATA:-.devdata}")
nvidia-smi --query-gpu=name,memory.total --format=csv
step() {  # name, timeout (s), command...
  local name=$1 limit=$2
  shift 2
  timeout "$limit" "$@" > "$OUT/$name.json" 2> "$OUT/$name.log"
  echo "$name rc=$?"
  grep -v "^W" "$OUT/$name.log" | tail -8
}
case_step() {
  case $1 in
    sweep) step sweep 300 python3 benchmarks/triton_sweep.py --data "$DATA" --blocks 128,256,512 \
             --check-every 8 --large 256,512 ;;
    exact) step exact 150 python3 benchmarks/gpu_exactness.py --data "$DATA" ;;
    tvl1) step tvl1 230 python3 -m flowpipe bench tvl1 --device cuda --data "$DATA" --batch 512 ;;
    prev) (cd .prev && export PYTHONPATH=/tmp/site:$PWD && step prev 110 python3 -m flowpipe bench tvl1 \
             --device cuda --data "$DATA" --batch 512) ;;
    extract) step extract 170 python3 -m flowpipe bench extract --device cuda --data "$DATA" \
               --max-frames 300 --copies 4 --tiny-videos 0 ;;
    videos) step videos 240 python3 benchmarks/extract_sweep.py --data "$DATA" \
              --videos-per-gpu 4,8 --batches 32,64 ;;
    loader) step loader 100 python3 -m flowpipe bench loader --data "$DATA" --stacks 100 \
              --rounds 2 ;;
    *) echo "unknown step $1" ;;
  esac
}
for name in "${@:-exact tvl1 prev extract}"; do
  for one in $name; do case_step "$one"; done
done
python3 - "$OUT" <<'PY'
import json, pathlib, sys
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    try:
        print(path.stem, json.dumps(json.load(open(path)))[:1500])
    except ValueError as err:
        print(path.stem, "no result:", err)
PY
