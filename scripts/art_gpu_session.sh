#!/usr/bin/env bash
# One GPU session for the art GANs (issue 21 §6): DCGAN, WGAN and WGAN-GP at the paper
# preset, trained at the same time on one GPU (each alone leaves most of it idle), each
# for BUDGET wall seconds, starting from INIT (e.g. a previous session's folders) if set.
# The weights come back in $OUT; FID is measured afterwards on the CPU machine, which has
# the Inception network (the GPU machine has no network to install it):
#
#   DEVICE=cpu BUDGET=20 PRESET=small bash scripts/art_gpu_session.sh   # a CPU check first
#   BUDGET=420 bash scripts/art_gpu_session.sh                          # the GPU session
#
# Data: GANZOO_DATA (default devdata/, a git-ignored folder holding
# abstract-art/images64.npz, 29 MB: name it in the device tool's `carry`). CIFAR-10's
# 141 MB train split does not fit what travels to the GPU machine, so the VQ-VAE stays on
# the CPU legs. Results: $OUT/<arch>-art64/ (config.json, model.safetensors,
# online_weights.safetensors, README.md, train_summary.json) and $OUT/log.txt.
set -u
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/ganzoo-out}
BUDGET=${BUDGET:-420}          # wall seconds of each run (they run at the same time)
PRESET=${PRESET:-paper}
PRECISION=${PRECISION:-bf16}
INIT=${INIT:-}                 # a folder holding <arch>-art64/ to start from (--init-from)
export PYTHONPATH=$PWD/src GANZOO_DATA=${GANZOO_DATA:-$PWD/devdata}
WORK=/tmp/ganzoo-art-work
rm -rf "$WORK" && mkdir -p "$WORK" "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
date -u
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi"
python -c 'import torch; print("torch", torch.__version__, torch.cuda.is_available())'

PIDS=()
for arch in dcgan wgan wgan-gp; do
  init=()
  if [ -n "$INIT" ] && [ -d "$INIT/$arch-art64" ]; then init=(--init-from "$INIT/$arch-art64"); fi
  python -m ganzoo.cli train "$arch" --recipe paper --preset "$PRESET" --dataset art64 \
    --steps 1000000 --ema 0.999 --set diffaugment=translation,cutout --seed 0 \
    --device "$DEVICE" --precision "$PRECISION" --set max_seconds="$BUDGET" \
    --set sample_every=1000 --set checkpoint_every=1000 "${init[@]}" \
    --quiet --out "$WORK/$arch-art64" >"$WORK/$arch.log" 2>&1 &
  PIDS+=($!)
done
status=0
for pid in "${PIDS[@]}"; do wait "$pid" || status=1; done
for arch in dcgan wgan wgan-gp; do
  echo "== $arch"; tail -n 3 "$WORK/$arch.log"
  mkdir -p "$OUT/$arch-art64"
  cp "$WORK/$arch-art64"/{config.json,model.safetensors,README.md,train_summary.json} \
    "$OUT/$arch-art64/" 2>/dev/null
  cp "$WORK/$arch-art64/online_weights.safetensors" "$OUT/$arch-art64/" 2>/dev/null
done
date -u
exit $status
