#!/usr/bin/env bash
# Kiln vs PyTorch on the CPU, same machine, same run (issue 9, "Ship the comparison").
#
#   scripts/bench-vs-pytorch.sh [--quick] [--models m1,m2,...] [--repeat N] [--warmup N]
#                               [--rounds N] [--threads N] [--no-install] [--no-kernels] [--no-models] [--log-dir DIR]
#
#   --quick       models ResNet-20, AlexNet, ResNet-18 only (a few minutes on 2 cores)
#   --models      any of resnet20,alexnet,resnet18,googlenet,resnet50,vgg16 (default: all six)
#   --repeat/--warmup  timed and untimed steps per measurement (default 7 and 2); each gives a median
#   --rounds      measure everything this many times, alternating (default 2); the table shows the best
#                 round of each side (interference only slows a run) and the spread of per-round ratios
#   --no-install  skip apt-get (the peer is already installed)
#   --no-kernels  skip sgemm and conv2d; --no-models skips the models
#
# The peer: Debian's PyTorch (python3-torch, python3-torchvision) with OpenBLAS (libopenblas0-openmp)
# and tcmalloc (libtcmalloc-minimal4): LD_LIBRARY_PATH at the OpenBLAS folder so torch's BLAS is
# OpenBLAS rather than the reference BLAS, LD_PRELOAD=libtcmalloc_minimal.so.4, and
# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for the PyTorch command only. Both sides run with the
# same thread count, one process per measurement (so each peak resident set is its own), Kiln and
# PyTorch alternating measurement by measurement. Models at issue 9's batch sizes. Run-to-run noise
# on a shared 2-core machine is large (up to ~30%): compare ratios within one run only.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

models="resnet20,alexnet,resnet18,googlenet,resnet50,vgg16"
repeat=7 warmup=2 rounds=2 threads=2 install=1 kernels=1 do_models=1
log_dir="${TMPDIR:-/tmp}/kiln-bench-vs-pytorch"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) models="resnet20,alexnet,resnet18" ;;
    --models) models="$2"; shift ;;
    --repeat) repeat="$2"; shift ;;
    --warmup) warmup="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    --no-install) install=0 ;;
    --no-kernels) kernels=0 ;;
    --no-models) do_models=0 ;;
    --log-dir) log_dir="$2"; shift ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "bench-vs-pytorch: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

batch_of() {
  case "$1" in
    resnet20) echo 128 ;; alexnet) echo 16 ;; resnet18) echo 16 ;;
    googlenet) echo 8 ;; resnet50) echo 8 ;; vgg16) echo 4 ;;
    *) echo "bench-vs-pytorch: unknown model '$1' (resnet20, alexnet, resnet18, googlenet, resnet50, vgg16)" >&2; exit 2 ;;
  esac
}
for m in ${models//,/ }; do batch_of "$m" >/dev/null; done

# ---- the peer -----------------------------------------------------------------------------------
if [ "$install" = 1 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "== installing the peer (Debian packages)" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    python3-torch python3-torchvision libopenblas0-openmp libtcmalloc-minimal4 >/dev/null
fi
openblas_dir=/usr/lib/x86_64-linux-gnu/openblas-openmp
[ -e "$openblas_dir/libblas.so.3" ] || { echo "bench-vs-pytorch: $openblas_dir/libblas.so.3 missing (libopenblas0-openmp)" >&2; exit 1; }
py=/usr/bin/python3   # Debian's interpreter, where python3-torch is (not a pyenv/venv python on PATH)
torch_run() {
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    LD_LIBRARY_PATH="$openblas_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    LD_PRELOAD=libtcmalloc_minimal.so.4 OMP_NUM_THREADS="$threads" \
    "$py" -W ignore "$repo/scripts/bench_pytorch.py" "$@" --threads "$threads" --repeat "$repeat" --warmup "$warmup"
}
"$py" -c 'import torch, torchvision' 2>/dev/null || { echo "bench-vs-pytorch: $py cannot import torch/torchvision (run without --no-install)" >&2; exit 1; }

# ---- Kiln ---------------------------------------------------------------------------------------
echo "== building kiln (Release)" >&2
dotnet build "$repo/Trainer.Cli/Kiln.Cli.csproj" -c Release --nologo -v quiet >/dev/null
kiln_run() { dotnet "$repo/Trainer.Cli/bin/Release/net10.0/kiln.dll" bench "$@" --threads "$threads" --repeat "$repeat" --warmup "$warmup"; }

mkdir -p "$log_dir"
field() { awk -v k="$1" '$1 == k { print $2; exit }' "$2"; }           # python's "key value" lines
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "?"; else printf "%.2f", a / b }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

cpu="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
load_start="$(load)"
vals="$log_dir/values.txt"; : >"$vals"   # lines: round id side value
record() { [ -n "$4" ] && echo "$1 $2 $3 $4" >>"$vals" || echo "   $2: no $3 value in round $1 (see $log_dir)" >&2; }
# One pair of measurements, Kiln's and PyTorch's, in an order that alternates from pair to pair so
# that a change of load does not always hit the same side.
pair=0
run_pair() {  # kiln-log torch-log -- kiln args -- torch args
  local kl="$1" tl="$2"; shift 2; shift
  local kargs=() targs=()
  while [ "$1" != "--" ]; do kargs+=("$1"); shift; done; shift
  targs=("$@")
  if [ $((pair % 2)) = 0 ]; then
    kiln_run "${kargs[@]}" >"$kl" 2>&1 || true; torch_run "${targs[@]}" >"$tl" 2>&1 || true
  else
    torch_run "${targs[@]}" >"$tl" 2>&1 || true; kiln_run "${kargs[@]}" >"$kl" 2>&1 || true
  fi
  pair=$((pair + 1))
}
conv_cases=("3x3|3x3 256->256 28x28 b16|16x256x28x28|256x256x3x3|1|1"
            "alexnet-conv1|AlexNet conv1 11x11/4 b16|16x3x224x224|64x3x11x11|4|2")
for r in $(seq 1 "$rounds"); do
  if [ "$do_models" = 1 ]; then
    for m in ${models//,/ }; do
      b="$(batch_of "$m")"
      echo "== round $r: $m batch $b (load $(load))" >&2
      kl="$log_dir/kiln-$m-r$r.txt" tl="$log_dir/torch-$m-r$r.txt"
      run_pair "$kl" "$tl" -- model "$m" --batch "$b" --no-layers -- model "$m" --batch "$b"
      record "$r" "$m" kiln "$(sed -n 's/.*training step.* \([0-9.]*\) images\/s.*/\1/p' "$kl")"
      record "$r" "$m" torch "$(field train_ips "$tl")"
      record "$r" "$m" kiln_mem "$(sed -n 's/.*peak resident memory.* \([0-9.]*\) MiB.*/\1/p' "$kl")"
      record "$r" "$m" torch_mem "$(field peak_mib "$tl")"
    done
  fi
  if [ "$kernels" = 1 ]; then
    for n in 1024 2048; do
      echo "== round $r: sgemm $n (load $(load))" >&2
      kl="$log_dir/kiln-gemm-$n-r$r.txt" tl="$log_dir/torch-gemm-$n-r$r.txt"
      run_pair "$kl" "$tl" -- gemm --m "$n" --n "$n" --k "$n" -- gemm "$n"
      record "$r" "sgemm_${n}^3" kiln "$(sed -n 's/.* \([0-9.]*\) GFLOP\/s.*/\1/p' "$kl")"
      record "$r" "sgemm_${n}^3" torch "$(field gflops "$tl")"
    done
    for c in "${conv_cases[@]}"; do
      IFS='|' read -r id name input filter stride pad <<<"$c"
      echo "== round $r: conv2d $name (load $(load))" >&2
      kl="$log_dir/kiln-conv-$id-r$r.txt" tl="$log_dir/torch-conv-$id-r$r.txt"
      run_pair "$kl" "$tl" -- conv2d --input "$input" --filter "$filter" --stride "$stride" --pad "$pad" \
                           -- conv2d --input "$input" --filter "$filter" --stride "$stride" --pad "$pad"
      for pass in forward "backward data" "backward weights"; do
        key="conv_${name// /_},_${pass// /_}"
        record "$r" "$key" kiln "$(sed -n "s/^  $pass  *[0-9.]* ms  *\([0-9.]*\) GFLOP\/s.*/\1/p" "$kl")"
        record "$r" "$key" torch "$(field "${pass// /_}_gflops" "$tl")"
      done
    done
  fi
done

# Per id: best (highest) of the rounds for each side (interference only slows a run down), their
# ratio, and the lowest and highest ratio of a single round (the noise).
summarise() {  # id-pattern  with-memory(0/1)
  awk -v pat="$1" -v mem="$2" '
    $2 ~ pat {
      if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }
      k = $2 SUBSEP $3; if (!(k in best) || $4 + 0 > best[k]) best[k] = $4 + 0
      v[$2, $3, $1] = $4; rounds[$1] = 1
    }
    END {
      for (i = 1; i <= n; i++) {
        id = order[i]; lo = ""; hi = ""
        for (r in rounds) if ((id, "kiln", r) in v && (id, "torch", r) in v && v[id, "torch", r] > 0) {
          q = v[id, "kiln", r] / v[id, "torch", r]; if (lo == "" || q < lo) lo = q; if (hi == "" || q > hi) hi = q }
        kb = best[id, "kiln"]; tb = best[id, "torch"]
        ratio = (tb > 0 && kb > 0) ? sprintf("%.2f", kb / tb) : "?"
        spread = lo == "" ? "?" : (lo == hi ? sprintf("%.2f", lo) : sprintf("%.2f-%.2f", lo, hi))
        name = id; gsub("_", " ", name)
        if (mem) printf "| %s | %s | %.1f | %.1f | %s | %s | %.0f | %.0f |\n", name, batch[id], kb, tb, ratio, spread, best[id, "kiln_mem"], best[id, "torch_mem"]
        else printf "| %s | %.1f | %.1f | %s | %s |\n", name, kb, tb, ratio, spread
      }
    }
    BEGIN { batch["resnet20"] = 128; batch["alexnet"] = 16; batch["resnet18"] = 16; batch["googlenet"] = 8; batch["resnet50"] = 8; batch["vgg16"] = 4 }
  ' "$vals"
}

echo
echo "Kiln vs PyTorch $("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null) (OpenBLAS, tcmalloc), $threads threads, float32"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $cpu, $(nproc) cores visible; load average $load_start at start, $(load) at end"
echo "each number: the best of $rounds rounds of (median of $repeat steps after $warmup warm-up); one process per measurement, Kiln and PyTorch alternating; logs in $log_dir"
if [ "$do_models" = 1 ]; then
  echo
  echo "| model | batch | Kiln train img/s | PyTorch train img/s | ratio | ratio per round | Kiln peak RSS MiB | PyTorch peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  summarise '^(resnet20|alexnet|resnet18|googlenet|resnet50|vgg16)$' 1
fi
if [ "$kernels" = 1 ]; then
  echo
  echo "| kernel | Kiln GFLOP/s | PyTorch GFLOP/s | ratio | ratio per round |"
  echo "|---|---:|---:|---:|---:|"
  summarise '^(sgemm|conv)' 0
fi
