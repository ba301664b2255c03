#!/usr/bin/env bash
# One GPU session for the MNIST family (issue 3): the three bundled models' training runs
# and the benchmark grid, as parallel processes sharing one GPU (the networks are small,
# so one process leaves the GPU mostly idle).
#
#   MODE=probe bash scripts/mnist_gpu_session.sh   # ~1 min: step rates under the full load
#   MODE=full SGAN_STEPS=12000 BUDGET=420 bash scripts/mnist_gpu_session.sh
#   MODE=sweep METHODS="sgan-best,sgan-best[consistency_batch=350]" SEEDS=0,1,2 WORKERS=6 \
#     SGAN_STEPS=20000 BUDGET=500 bash scripts/mnist_gpu_session.sh   # recipe search
#
# Data: GANZOO_DATA (default devdata/, a git-ignored copy of ../shared/data/MNIST).
# Results: $OUT/results.tar.gz (benchmark JSON and jsonl, run folders without their
# checkpoints' optimiser state) and $OUT/log.txt.
set -u
MODE=${MODE:-probe}
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/ganzoo-out}
BUDGET=${BUDGET:-30}            # wall seconds each training run may take
SGAN_STEPS=${SGAN_STEPS:-6000}  # steps of the best-recipe SGAN runs
VAEGAN_LABELS=${VAEGAN_LABELS:-100}
SGAN_RECIPE=${SGAN_RECIPE:-best}  # the SGAN recipe of the bundle and the grid (e.g. consistency)
PRECISION=${PRECISION:-fp32}    # bf16: autocast (CPU: 1.5x the steps per second)
export PYTHONPATH=$PWD/src GANZOO_DATA=${GANZOO_DATA:-$PWD/devdata} OMP_NUM_THREADS=1
WORK=/tmp/ganzoo-work
rm -rf "$WORK" && mkdir -p "$WORK/runs" "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
date -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python -c 'import torch; print("torch", torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())'

PIDS=()
bench() {  # name, then benchmark arguments
  local name=$1
  shift
  python benchmarks/mnist_ssl.py --device "$DEVICE" --precision "$PRECISION" \
    --deadline "$BUDGET" --jsonl "$WORK/$name.jsonl" "$@" >"$WORK/$name.json" 2>"$WORK/$name.err" &
  PIDS+=($!)
}

train() {  # run name, then ganzoo train arguments
  local name=$1
  shift
  python -m ganzoo.cli train "$@" --dataset mnist --labels 100 --seed 0 --device "$DEVICE" \
    --precision "$PRECISION" \
    --set max_seconds="$BUDGET" --quiet --out "$WORK/runs/$name" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

if [ "$MODE" = probe ]; then
  # Every kind of run at once, each for BUDGET seconds, to measure steps per second.
  bench probe --methods sgan-best,sgan-report,vaegan-best,vaegan-report --labels 100 \
    --seeds 0,1,2 --workers 12 --steps 1000000
  train sgan-cli sgan --recipe best --steps 100000
  train vaegan-cli vaegan --recipe best --steps 100000
  train cnn-cli cnn --recipe best --steps 100000
elif [ "$MODE" = sweep ]; then
  bench sweep --methods "$METHODS" --labels "${LABELS:-100}" --seeds "${SEEDS:-0}" \
    --workers "${WORKERS:-8}" --steps "$SGAN_STEPS"
else
  train sgan-mnist-100 sgan --recipe "$SGAN_RECIPE" --steps "$SGAN_STEPS"
  train cnn-mnist-100 cnn --recipe best
  train vaegan-mnist-100 vaegan --recipe best
  bench "sgan-$SGAN_RECIPE" --methods "sgan-$SGAN_RECIPE" --labels 25,50,100,1000 \
    --seeds 0,1,2 --workers 12 --steps "$SGAN_STEPS"
  bench ablations --methods "sgan-hybrid,sgan-best[unsupervised_weight=0]" --labels 100 \
    --seeds 0 --workers 2 --steps "$SGAN_STEPS"
  bench report --methods sgan-report,vaegan-report --labels 25,50,100,1000 --seeds 0,1,2 \
    --workers 3
  bench vaegan-best --methods vaegan-best --labels "$VAEGAN_LABELS" --seeds 0,1,2 --workers 2
fi
sleep 20
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
wait "${PIDS[@]}"  # not a bare wait: that would also wait for the tee above
date -u
# Optimiser state stays behind; the exported model, metrics, plots and configs come back.
find "$WORK/runs" -path '*/checkpoint/*' ! -name '*.json' -delete
tar -C "$WORK" -czf "$OUT/results.tar.gz" .
ls -la "$OUT"
tail -n 3 "$WORK"/*.err "$WORK"/*.log
