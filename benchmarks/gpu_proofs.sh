#!/usr/bin/env bash
# Every GPU figure of fcdata in one time-boxed command (issue 16); see benchmarks/gpu_proofs.py --help.
#
#   bash benchmarks/gpu_proofs.sh                  # on a GPU: tests, packing, QLoRA, synthetic task; 510 s
#   bash benchmarks/gpu_proofs.sh --smoke          # on a CPU: every code path at tiny sizes
#   bash benchmarks/gpu_proofs.sh --parts synth --budget 150
#
# On the device tool (one H200; 15 minutes of device time in all, the machine's start included):
#   before, in the checkout the tool sends:  bash ../shared/device/wheels.sh && python benchmarks/gpu_proofs.py size
#   run:    command "bash benchmarks/gpu_proofs.sh"   carry [".whl"]   timeout_s 560
#   rerun of a failed part, at once:  command "bash benchmarks/gpu_proofs.sh --parts synth --budget 150"
#           carry [".whl"]   timeout_s 180
#   after:  cp <files_at>/gpu_proofs.json benchmarks/results/gpu_proofs.json && python benchmarks/gpu_proofs.py readme
#
# What this script adds to gpu_proofs.py: it starts the budget's clock, installs the wheels carried in
# .whl/ (the list and the install line are ../shared/device/wheels.sh's) when the image lacks a package
# fcdata needs, puts the Hugging Face libraries offline (nothing is downloaded), puts the working tree on
# PYTHONPATH (fcdata runs uninstalled), and copies everything printed to gpu_proofs.log beside the figures.
set -uo pipefail
started_at=$(date +%s.%N)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
python=${PYTHON:-python3}

# the output folder (gpu_proofs.py chooses the same: --out, else $OUT, else out/gpu_proofs)
out=${OUT:-$root/out/gpu_proofs}
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --out) out=${args[i + 1]:-$out} ;;
    --out=*) out=${args[i]#--out=} ;;
  esac
done
mkdir -p "$out" || exit 2
log=$out/gpu_proofs.log

{
  echo "gpu_proofs.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ) in $root, $("$python" --version 2>&1)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

  # the packages fcdata's training stack needs beyond what the GPU image holds (wheels.sh's list)
  needed="trl datasets bitsandbytes mistral_common pydantic jsonschema dill multiprocess"
  missing=$("$python" - $needed <<'EOF'
import importlib.util, sys
print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))
EOF
)
  if [ -n "$missing" ]; then
    if compgen -G ".whl/*.whl" >/dev/null; then
      echo "installing the carried wheels (missing here: $missing; $(du -sh .whl | cut -f1) in .whl/)"
      site=${TMPDIR:-/tmp}/site
      # the install line printed by ../shared/device/wheels.sh
      "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl || {
        echo "gpu_proofs.sh: installing the wheels in .whl/ failed" >&2
        exit 2
      }
      export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
    else
      echo "gpu_proofs.sh: missing $missing and no wheels in .whl/ (run bash ../shared/device/wheels.sh here and carry .whl); the parts that need them will fail" >&2
    fi
  fi
  export PYTHONPATH=$root${PYTHONPATH:+:$PYTHONPATH}
  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
  "$python" benchmarks/gpu_proofs.py --started-at "$started_at" "$@"
} 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
