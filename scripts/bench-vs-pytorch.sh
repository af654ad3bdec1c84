#!/usr/bin/env bash
# Kiln vs PyTorch on the CPU, same machine, same run (issue 9, "Ship the comparison").
#
#   scripts/bench-vs-pytorch.sh [--quick] [--models m1,m2,...] [--repeat N] [--warmup N]
#                               [--threads N] [--no-install] [--no-kernels] [--no-models] [--log-dir DIR]
#
#   --quick       models ResNet-20, AlexNet, ResNet-18 only (a few minutes on 2 cores)
#   --models      any of resnet20,alexnet,resnet18,googlenet,resnet50,vgg16 (default: all six)
#   --repeat/-warmup  timed and untimed steps per measurement (default 7 and 2); medians are reported
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
repeat=7 warmup=2 threads=2 install=1 kernels=1 do_models=1
log_dir="${TMPDIR:-/tmp}/kiln-bench-vs-pytorch"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) models="resnet20,alexnet,resnet18" ;;
    --models) models="$2"; shift ;;
    --repeat) repeat="$2"; shift ;;
    --warmup) warmup="$2"; shift ;;
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
rows=()
i=0
if [ "$do_models" = 1 ]; then
  for m in ${models//,/ }; do
    b="$(batch_of "$m")"
    echo "== $m batch $b (load $(load))" >&2
    kl="$log_dir/kiln-$m.txt" tl="$log_dir/torch-$m.txt"
    # Alternate which side goes first, so a load change does not always hit the same one.
    if [ $((i % 2)) = 0 ]; then
      kiln_run model "$m" --batch "$b" --no-layers >"$kl" 2>&1 || true
      torch_run model "$m" --batch "$b" >"$tl" 2>&1 || true
    else
      torch_run model "$m" --batch "$b" >"$tl" 2>&1 || true
      kiln_run model "$m" --batch "$b" --no-layers >"$kl" 2>&1 || true
    fi
    i=$((i + 1))
    k_ips="$(sed -n 's/.*training step.* \([0-9.]*\) images\/s.*/\1/p' "$kl")"
    k_mem="$(sed -n 's/.*peak resident memory.* \([0-9.]*\) MiB.*/\1/p' "$kl")"
    t_ips="$(field train_ips "$tl")" t_mem="$(field peak_mib "$tl")"
    [ -n "$k_ips" ] || echo "   kiln failed: $(tail -2 "$kl")" >&2
    [ -n "$t_ips" ] || echo "   pytorch failed: $(tail -2 "$tl")" >&2
    rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s |' "$m" "$b" "${k_ips:-?}" "${t_ips:-?}" \
      "$(ratio "$k_ips" "$t_ips")" "${k_mem:-?}" "${t_mem:-?}")")
  done
fi

krows=()
if [ "$kernels" = 1 ]; then
  for n in 1024 2048; do
    echo "== sgemm $n (load $(load))" >&2
    kl="$log_dir/kiln-gemm-$n.txt" tl="$log_dir/torch-gemm-$n.txt"
    kiln_run gemm --m "$n" --n "$n" --k "$n" >"$kl" 2>&1 || true
    torch_run gemm "$n" >"$tl" 2>&1 || true
    kg="$(sed -n 's/.* \([0-9.]*\) GFLOP\/s.*/\1/p' "$kl")" tg="$(field gflops "$tl")"
    krows+=("$(printf '| sgemm %s^3 | %s | %s | %s |' "$n" "${kg:-?}" "${tg:-?}" "$(ratio "$kg" "$tg")")")
  done
  conv_case() {  # name, file id, input, filter, stride, pad
    echo "== conv2d $1 (load $(load))" >&2
    kl="$log_dir/kiln-conv-$2.txt" tl="$log_dir/torch-conv-$2.txt"
    kiln_run conv2d --input "$3" --filter "$4" --stride "$5" --pad "$6" >"$kl" 2>&1 || true
    torch_run conv2d --input "$3" --filter "$4" --stride "$5" --pad "$6" >"$tl" 2>&1 || true
    for pass in forward "backward data" "backward weights"; do
      kg="$(sed -n "s/^  $pass  *[0-9.]* ms  *\([0-9.]*\) GFLOP\/s.*/\1/p" "$kl")"
      tg="$(field "${pass// /_}_gflops" "$tl")"
      krows+=("$(printf '| conv %s, %s | %s | %s | %s |' "$1" "$pass" "${kg:-?}" "${tg:-?}" "$(ratio "$kg" "$tg")")")
    done
  }
  conv_case "3x3 256->256 28x28 b16" 3x3 16x256x28x28 256x256x3x3 1 1
  conv_case "AlexNet conv1 11x11/4 b16" alexnet-conv1 16x3x224x224 64x3x11x11 4 2
fi

echo
echo "Kiln vs PyTorch $("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null) (OpenBLAS, tcmalloc), $threads threads, float32"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $cpu, $(nproc) cores visible; load average $load_start at start, $(load) at end"
echo "median of $repeat steps after $warmup warm-up; one process per measurement; logs in $log_dir"
if [ ${#rows[@]} -gt 0 ]; then
  echo
  echo "| model | batch | Kiln train img/s | PyTorch train img/s | ratio | Kiln peak RSS MiB | PyTorch peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
fi
if [ ${#krows[@]} -gt 0 ]; then
  echo
  echo "| kernel | Kiln GFLOP/s | PyTorch GFLOP/s | ratio |"
  echo "|---|---:|---:|---:|"
  printf '%s\n' "${krows[@]}"
fi
