#!/usr/bin/env bash
# One GPU session's checks, in one call (device minutes are scarce): the CUDA kernel tests, the end-to-end model speed
# on CUDA, one short training run of every application on the shared engine on CUDA (benchmarks/gpu_apps.py: circuits
# in fp32 and bf16-mixed, mobility, molecules; timed, $OUT/apps.json), and pre-training on all of moses
# (benchmarks/pretrain_moses.py). Every stage has its own time limit and writes into $STAGE as it finishes;
# $OUT/results.tgz is rewritten after each stage, so a stage that fails or runs out of time loses only itself.
#
# Needs, beside the checkout: .whl/ (rdkit, geoopt, ogb, outdated, littleutils wheels for the GPU machine's Python) and
# .gpu/data/dataset/data/train.csv.gz (the molsets wheel's file). Usage on the GPU machine, from the repository root:
#   OUT=/some/folder bash benchmarks/gpu_checks.sh [attrmask=MIN graphcl=MIN dsla=MIN]
set -u
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
