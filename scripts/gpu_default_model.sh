#!/bin/sh
# The one prepared GPU run for the default model (issue 15): continue the current export on a
# CUDA machine for a few minutes and bring the weights back; evaluate them on the CPU afterwards
# (make_default_directions.py, eval_default_model.py) and ship only if the eval improves.
#
#   sh scripts/gpu_default_model.sh            # on the device machine, from the repo root
#
# Settings (environment): INIT (the export to continue, default the shipped model,
# models/default/generator.safetensors: a 2-layer mapping network fitted with the region and
# change losses, then with stacked expressions (mix share 0.5), the model card's recipe), MORE
# (training minutes, default 7), BATCH (64),
# WORKERS (render processes, default CPUs - 2), DEVICE (cuda; cpu to try the script without a
# GPU), FLAGS (more train_default_model.py options, default none: the export's own recipe, e.g.
# "--mix-share 0.2", which the model card suggests next),
# OUT (where the weights, training.json, samples.png and the log go; the device tool sets it).
# Then it measures how much of each channel the export and the new weights draw
# (scripts/fit_fidelity.py, features probe) into fidelity.json.
# The loss weights are otherwise the ones the export was trained with (its training.json). The
# log's checkpoints, every 2 minutes, say how G's change follows the render's per channel. Needs python3 with torch (CUDA), numpy and opencv; nothing is downloaded.
set -eu
INIT=${INIT:-models/default/generator.safetensors}
MORE=${MORE:-7}
BATCH=${BATCH:-64}
CPUS=$(python3 -c "import os; print(len(os.sched_getaffinity(0)))")
WORKERS=${WORKERS:-$((CPUS > 3 ? CPUS - 2 : 1))}
FLAGS=${FLAGS-}
OUT=${OUT:-runs/gpu-out}
RUN=${RUN:-/tmp/gpu-default-run}
mkdir -p "$OUT/model"
export PYTHONUNBUFFERED=1
status=0
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
    python3 scripts/train_default_model.py --out "$RUN" --init "$INIT" --device "${DEVICE:-cuda}" \
        --batch "$BATCH" --render-workers "$WORKERS" --more-minutes "$MORE" --checkpoint-minutes 2 \
        --model-dir "$OUT/model" $FLAGS &&
    cp "$RUN/samples.png" "$RUN/log.jsonl" "$OUT/" &&
    python3 scripts/fit_fidelity.py "$INIT" "$OUT/model/generator.safetensors" --n 512 --json "$OUT/fidelity.json"
} >"$OUT/gpu_default_model.log" 2>&1 || status=$?
cat "$OUT/gpu_default_model.log"
exit "$status"
