#!/usr/bin/env bash
# One-shot GPU check of graphrep.ops (about 6 minutes on an H100/H200):
#   1. environment and import check (graphrep.ops must not pull rdkit/geoopt/ogb),
#   2. benchmarks/gpu_smoke.py (correctness without pytest, incl. a hub with 10^6 in-edges),
#   3. benchmarks/kernels.py at N=1M,E=16M,F=128 and N=2M,E=64M,F=64,
#   4. tests/ops on CUDA with the time left (pytest, if installed; the tests parametrize the device over cuda).
# Everything goes to $OUT (summary.txt, tests.txt, smoke.txt, bench.log, results/kernels_cuda.{json,md,png});
# stdout stays short.
#
#   OUT=/some/dir PYTHONPATH=$PWD bash benchmarks/gpu_check.sh                 # on the GPU machine, repo as cwd
#   OUT=/tmp/dry bash benchmarks/gpu_check.sh --device cpu --small              # dry run of the same logic on CPU
#
# Options: --device cuda|cpu (default cuda), --small (tiny sizes), --budget SECONDS (default 330: steps get what is left).
set -u
DEVICE=cuda
SMALL=0
BUDGET=330
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --small) SMALL=1; shift ;;
    --budget) BUDGET="$2"; shift 2 ;;
    *) echo "unknown option: $1 (use --device cuda|cpu, --small, --budget SECONDS)"; exit 2 ;;
  esac
done
if [ ! -f graphrep/ops/__init__.py ]; then
  echo "run from the repository root (graphrep/ops not found in $PWD)"; exit 2
fi
OUT="${OUT:-$(mktemp -d /tmp/graphrep_gpu_check.XXXX)}"
mkdir -p "$OUT/results"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
START=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }

say "== graphrep gpu_check: device=$DEVICE small=$SMALL budget=${BUDGET}s out=$OUT"
"$PY" - "$DEVICE" >> "$SUMMARY" 2>&1 <<'PYEOF'
import sys, importlib, platform
import torch
dev = sys.argv[1]
print("python", platform.python_version(), "| torch", torch.__version__, "| cuda", torch.version.cuda,
      "| gpu", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")
for mod in ("triton", "torch_geometric", "pytest", "torch_scatter"):
    try:
        m = importlib.import_module(mod)
        print(f"{mod} {getattr(m, '__version__', '?')}")
    except Exception as err:
        print(f"{mod} missing ({type(err).__name__})")
import graphrep.ops  # noqa: F401
heavy = sorted(m for m in ("rdkit", "geoopt", "ogb") if m in sys.modules)
print("graphrep.ops imported; heavy deps pulled in:", heavy or "none")
if dev == "cuda" and not torch.cuda.is_available():
    print("ERROR: --device cuda but CUDA is not available"); sys.exit(1)
PYEOF
RC=$?
tail -n 8 "$SUMMARY" | sed -n '2,$p'
if [ $RC -ne 0 ]; then say "environment check failed (see $SUMMARY)"; exit 1; fi

# 2. smoke checks without pytest (fast, covers correctness at scale)
HUB=1000000; [ "$SMALL" = 1 ] && HUB=20000
T=$(( $(left) * 30 / 100 )); [ $T -lt 30 ] && T=30
timeout -k 5 "$T" "$PY" benchmarks/gpu_smoke.py --device "$DEVICE" --hub "$HUB" > "$OUT/smoke.txt" 2>&1
RC=$?
say "-- gpu_smoke (rc=$RC, limit ${T}s): $(tail -n 1 "$OUT/smoke.txt")"
grep -E '^FAIL' "$OUT/smoke.txt" | head -n 10 | tee -a "$SUMMARY"

# 3. benchmark (writes partial results after each size, so a timeout still leaves the finished sizes)
T=$(( $(left) * 70 / 100 )); [ $T -lt 30 ] && T=30
BENCH_ARGS=(--device "$DEVICE" --out "$OUT/results" --repeats 3)
[ "$SMALL" = 1 ] && BENCH_ARGS+=(--small)
timeout -k 5 "$T" "$PY" benchmarks/kernels.py "${BENCH_ARGS[@]}" > "$OUT/bench.log" 2>&1
RC=$?
say "-- benchmarks/kernels.py (rc=$RC, limit ${T}s; 124 = timed out, partial results kept)"
MD=$(ls "$OUT"/results/kernels_*.md 2>/dev/null | head -n 1)
if [ -n "$MD" ]; then
  head -n 1 "$MD"
  # short view: size, degrees, reduce, pass, times per method, (floor, ratio on CUDA), speed-up, bwd ratio
  grep '^|' "$MD" | cut -d'|' -f2-13 | head -n 40 | tee -a "$SUMMARY"
else
  tail -n 5 "$OUT/bench.log" | tee -a "$SUMMARY"
fi
# 4. tests with the time left (device-parametrized tests run on cpu and cuda; slow compile tests are CPU-only and skipped here)
if "$PY" -c "import pytest" >/dev/null 2>&1; then
  T=$(( $(left) - 5 )); [ $T -lt 20 ] && T=20
  timeout -k 5 "$T" "$PY" -m pytest tests/ops -q -m "not slow" -p no:cacheprovider --tb=short -rfE \
    > "$OUT/tests.txt" 2>&1
  RC=$?
  say "-- tests/ops (rc=$RC, limit ${T}s; 124 = timed out): $(grep -E '[0-9]+ (passed|failed)' "$OUT/tests.txt" | tail -n 1)"
  [ $RC -eq 124 ] && say "   progress when stopped: $(tr -cd '.FEsx' < "$OUT/tests.txt" | head -c 400)"
  grep -E '^(FAILED|ERROR)' "$OUT/tests.txt" | head -n 10 | tee -a "$SUMMARY"
else
  say "-- tests/ops skipped: pytest not installed (gpu_smoke below checks the same properties)"
fi

say "== done in $(( $(date +%s) - START ))s; files in $OUT"
