#!/usr/bin/env bash
# The GPU checks, in one script with two modes (device minutes are scarce, so each runs as one call).
#
# bash benchmarks/gpu_checks.sh [attrmask=MIN graphcl=MIN dsla=MIN]
#   The CUDA kernel tests, the end-to-end model speed on CUDA, one short training run of every application on the
#   shared engine on CUDA (benchmarks/gpu_apps.py: circuits and modalities in fp32 and bf16-mixed, mobility, molecules; timed,
#   $OUT/apps.json), and pre-training on all of moses
#   (benchmarks/pretrain_moses.py). Every stage has its own time limit and writes into $STAGE as it finishes;
#   $OUT/results.tgz is rewritten after each stage, so a stage that fails or runs out of time loses only itself.
#   Needs, beside the checkout: .whl/ (rdkit, geoopt, ogb, outdated, littleutils wheels for the GPU machine's Python)
#   and .gpu/data/dataset/data/train.csv.gz (the molsets wheel's file). Run from the repository root with OUT=FOLDER.
#
# bash benchmarks/gpu_checks.sh kernels [--device cuda|cpu] [--small] [--budget SECONDS]
#   graphrep.ops alone (about 6 minutes on an H100/H200): 1. environment and import check (graphrep.ops must not pull
#   rdkit/geoopt/ogb), 2. benchmarks/gpu_smoke.py (correctness without pytest, incl. a hub with 10^6 in-edges),
#   3. benchmarks/kernel_timings.py at N=1M,E=16M,F=128 and N=2M,E=64M,F=64 (writes results/kernels_cuda.{json,md,png}),
#   4. tests/ops on CUDA with the time left. Everything goes to $OUT (summary.txt, tests.txt, smoke.txt, bench.log,
#   results/); stdout stays short. --device cpu --small is a dry run of the same logic on a CPU; --budget (default
#   330) is shared among the steps.
set -u

kernels_check() {
DEVICE=cuda
SMALL=0
BUDGET=330
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --small) SMALL=1; shift ;;
    --budget) BUDGET="$2"; shift 2 ;;
    *) echo "unknown option: $1 (use --device cuda|cpu, --small, --budget SECONDS)"; return 2 ;;
  esac
done
if [ ! -f graphrep/ops/__init__.py ]; then
  echo "run from the repository root (graphrep/ops not found in $PWD)"; return 2
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
if [ $RC -ne 0 ]; then say "environment check failed (see $SUMMARY)"; return 1; fi

# 2. smoke checks without pytest (fast, covers correctness at scale)
HUB=1000000; [ "$SMALL" = 1 ] && HUB=20000
T=$(( $(left) * 30 / 100 )); [ $T -lt 30 ] && T=30
timeout -k 5 "$T" "$PY" benchmarks/gpu_smoke.py --device "$DEVICE" --hub "$HUB" > "$OUT/smoke.txt" 2>&1
RC=$?
say "-- gpu_smoke (rc=$RC, limit ${T}s): $(tail -n 1 "$OUT/smoke.txt")"
grep -E '^FAIL' "$OUT/smoke.txt" | head -n 10 | tee -a "$SUMMARY"

# 3. benchmark (writes partial results after each size, so a timeout still leaves the finished sizes). The forward
# kernel autotunes once per (F, sum/mean vs max/min, dtypes) on these sizes; that happens in each row's warm-up run,
# outside the timings. TRITON_PRINT_AUTOTUNING=1 logs the chosen configs to bench.log.
T=$(( $(left) * 75 / 100 )); [ $T -lt 30 ] && T=30
BENCH_ARGS=(--device "$DEVICE" --out "$OUT/results" --repeats 3 --warmup 1)
[ "$SMALL" = 1 ] && BENCH_ARGS+=(--small)
TRITON_PRINT_AUTOTUNING=1 timeout -k 5 "$T" "$PY" benchmarks/kernel_timings.py "${BENCH_ARGS[@]}" > "$OUT/bench.log" 2>&1
RC=$?
say "-- benchmarks/kernel_timings.py (rc=$RC, limit ${T}s; 124 = timed out, partial results kept)"
MD=$(ls "$OUT"/results/kernels_*.md 2>/dev/null | head -n 1)
if [ -n "$MD" ]; then
  head -n 1 "$MD"
  # short view: size, degrees, reduce, pass, times per method, (floor, ratio on CUDA), speed-up, bwd ratio
  grep '^|' "$MD" | cut -d'|' -f2-13 | head -n 40 | tee -a "$SUMMARY"
  grep -A3 '^Triton autotuning' "$OUT/bench.log" | grep -E '^(with key|finished|best config)' | head -n 24 >> "$SUMMARY"
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
}

if [ "${1:-}" = kernels ]; then
  shift
  kernels_check "$@"
  exit $?
fi

OUT=${OUT:-/tmp/gpu-out}
STAGE=/tmp/gpu-stage
WORKERS=${WORKERS:-12}
mkdir -p "$OUT" "$STAGE"
BUDGETS=("$@")
[ ${#BUDGETS[@]} -eq 0 ] && BUDGETS=(attrmask=2.2 graphcl=1.2 dsla=1.0)
log() { echo "[$(date +%T)] $*" | tee -a "$STAGE/log.txt"; }
pack() { cp "$STAGE/log.txt" "$OUT/log.txt"; tar -czf "$OUT/results.tgz" -C "$STAGE" . ; }

log "start"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { log "wheel install failed"; pack; exit 1; }
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 GRAPHREP_CACHE=/tmp/grcache TQDM_DISABLE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$STAGE/gpu.txt" 2>&1
python3 -c "import sys, torch, torch_geometric, lightning, triton, rdkit, geoopt; print(sys.version.split()[0], \
torch.__version__, torch_geometric.__version__, lightning.__version__, triton.__version__, rdkit.__version__, \
geoopt.__version__, torch.cuda.get_device_name())" >> "$STAGE/gpu.txt" 2>&1
log "versions: $(tail -1 "$STAGE/gpu.txt")"

# featurisation needs only CPU cores: it runs beside the kernel tests
( timeout 240 python3 -c "
from graphrep.data import load_corpus
c = load_corpus('moses', root='.gpu/data', workers=$WORKERS)
m = c.manifest
print(len(c), 'molecules;', m['skipped'], 'skipped;', round(m['wall_seconds'], 1), 's wall with', m['workers'], 'workers')
" > "$STAGE/featurise.txt" 2>&1; echo "rc=$?" >> "$STAGE/featurise.txt" ) &
FEATURISE=$!

timeout 150 python3 -m pytest -q -p no:cacheprovider -k "not cpu" tests/ops > "$STAGE/tests_ops.txt" 2>&1
log "tests/ops rc=$? $(tail -1 "$STAGE/tests_ops.txt")"
pack
wait $FEATURISE
log "featurise: $(tr '\n' ' ' < "$STAGE/featurise.txt")"

timeout 150 python3 benchmarks/model_speed.py --device cuda --seconds 4 --min-steps 20 --max-steps 300 --warmup 5 \
    --out-name model_speed_cuda > "$STAGE/model_speed.txt" 2>&1
log "model_speed rc=$?"
cp benchmarks/results/model_speed_cuda.* "$STAGE/" 2>/dev/null
pack

timeout 240 python3 benchmarks/gpu_apps.py --accelerator cuda --out /tmp/gpu-apps > "$STAGE/apps.txt" 2>&1
log "apps rc=$? $(grep -E ': (ok|exit|[A-Za-z]+Error)' "$STAGE/apps.txt" | tr '\n' ' ')"
cp /tmp/gpu-apps/apps.json "$STAGE/apps.json" 2>/dev/null
cp /tmp/gpu-apps/apps.json "$OUT/apps.json" 2>/dev/null
pack

timeout 420 python3 benchmarks/pretrain_moses.py --root .gpu/data --featurise-workers "$WORKERS" --accelerator gpu \
    --minutes "${BUDGETS[@]}" --out /tmp/pretrain-moses > "$STAGE/pretrain.txt" 2>&1
log "pretrain rc=$? $(grep -E '^(attrmask|graphcl|dsla|corpus)' "$STAGE/pretrain.txt" | tr '\n' ' ')"
mkdir -p "$STAGE/weights"
cp /tmp/pretrain-moses/weights/* "$STAGE/weights/" 2>/dev/null
cp /tmp/pretrain-moses/pretrain_moses.json "$STAGE/" 2>/dev/null
for m in attrmask graphcl dsla; do cp "/tmp/pretrain-moses/$m/pretraining.json" "$STAGE/pretraining-$m.json" 2>/dev/null; done
log "done"
pack
