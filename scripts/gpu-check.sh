#!/usr/bin/env bash
# Builds the GPU check bundle: .gpu-bundle/kiln-gpu.tar.xz (ignored by git), plus .gpu-bundle/run.sh.
# The bundle holds the test executable and `kiln` (Release, framework-dependent) and this machine's
# .NET runtime, so it runs on a linux-x64 GPU machine that has no .NET SDK and no network.
#
#   bash scripts/gpu-check.sh            # build the bundle here (no GPU needed)
#   bash .gpu-bundle/run.sh              # on the GPU machine, from a copy of the repo or of .gpu-bundle/
#
# run.sh unpacks the tarball next to itself, prints `kiln devices --verbose`, runs the CUDA tests
# (namespace Kiln.Tests.Backends.Cuda; the cuDNN algorithm sweep as a step of its own) and then every other
# test, runs the GPU benchmarks that exist, and ends with a short summary. The bundle must stay under 64 MiB (what a device session can carry).
set -euo pipefail
cd "$(dirname "$0")/.."

out=.gpu-bundle
stage=$out/kiln-gpu
rm -rf "$stage" "$out/kiln-gpu.tar.xz"
mkdir -p "$stage"

echo "publishing tests and kiln (Release, linux-x64, framework-dependent)..."
dotnet publish Tests/Kiln.Tests.csproj -c Release -r linux-x64 --no-self-contained -o "$stage/tests" -p:DebugType=none -v quiet -nologo
dotnet publish Trainer.Cli/Kiln.Cli.csproj -c Release -r linux-x64 --no-self-contained -o "$stage/cli" -p:DebugType=none -v quiet -nologo

# The runtime the apps were built against: the muxer, hostfxr and Microsoft.NETCore.App only.
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
fx_version=$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" { v = $2 } END { print v }')
[ -n "$fx_version" ] || { echo "no Microsoft.NETCore.App runtime found under $dotnet_root" >&2; exit 1; }
mkdir -p "$stage/dotnet/shared/Microsoft.NETCore.App"
cp "$dotnet_root/dotnet" "$stage/dotnet/"
cp -r "$dotnet_root/host" "$stage/dotnet/"
cp -r "$dotnet_root/shared/Microsoft.NETCore.App/$fx_version" "$stage/dotnet/shared/Microsoft.NETCore.App/"
cp "$dotnet_root/LICENSE.txt" "$dotnet_root/ThirdPartyNotices.txt" "$stage/dotnet/" 2>/dev/null || true

# NVRTC 11.8 (Debian's libnvrtc11.2) as a last-resort fallback, for GPU machines that have a driver
# but no NVRTC: searched after every other location (KILN_CUDA_FALLBACK_LIB_PATH), so an installed
# CUDA 12/13 set still wins and keeps its major consistent.
nvrtc=$(ldconfig -p | awk '/libnvrtc\.so\.11\.2 .*x86-64/ { print $NF; exit }')
if [ -n "$nvrtc" ]; then
  mkdir -p "$stage/nvrtc"
  cp -L "$nvrtc" "$stage/nvrtc/libnvrtc.so.11.2"
  cp -L "$(dirname "$nvrtc")/libnvrtc-builtins.so.11.8" "$stage/nvrtc/"
else
  echo "note: libnvrtc.so.11.2 not installed here; the bundle carries no NVRTC fallback"
fi

cat > "$stage/check.sh" <<'INNER'
#!/usr/bin/env bash
# Runs inside the unpacked bundle on the GPU machine. Every step has its own time limit, so one hang
# cannot eat the whole check; logs go to $KILN_GPU_OUT (default: a folder next to the bundle).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DOTNET_ROOT="$here/dotnet" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 PATH="$here/dotnet:$PATH"   # tests start `dotnet kiln.dll`
export KILN_CACHE_DIR="${KILN_CACHE_DIR:-$here/kernel-cache}"
[ -d "$here/nvrtc" ] && export KILN_CUDA_FALLBACK_LIB_PATH="$here/nvrtc"
out="${KILN_GPU_OUT:-$here/out}"; mkdir -p "$out"
dn="$here/dotnet/dotnet"
kiln="$here/kiln"   # a script, so that timeout can run it
printf '#!/usr/bin/env bash\nexec "%s" "%s" "$@"\n' "$dn" "$here/cli/kiln.dll" > "$kiln" && chmod +x "$kiln"
summary=()
step() {   # $1 = label, $2 = seconds, rest = command; logs to $out/<label>.log
  local label=$1 limit=$2; shift 2
  # KILN_GPU_STEPS="cuda-tests bench-resnet50" runs only the steps named (a short re-check).
  if [ -n "${KILN_GPU_STEPS:-}" ] && [[ " $KILN_GPU_STEPS " != *" $label "* ]]; then return; fi
  local t0=$SECONDS
  echo "== $label"
  timeout -k 5 "$limit" "$@" 2>&1 | tee "$out/$label.log"
  local rc=${PIPESTATUS[0]}
  local line; line=$(grep -E 'Total: [0-9]+|^ *(failed|total):' "$out/$label.log" | tail -1 | sed 's/^ *//')
  summary+=("$label: exit $rc in $((SECONDS - t0)) s${line:+; $line}")
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee "$out/machine.log"
step devices 60 "$kiln" devices --verbose
sweep=Kiln.Tests.Backends.Cuda.ConvAlgorithmSweepTests
step cuda-tests "${KILN_GPU_CUDA_TESTS_S:-300}" "$dn" "$here/tests/Kiln.Tests.dll" -noColor -namespace Kiln.Tests.Backends.Cuda -class- "$sweep" -parallel none
# Every cuDNN algorithm on NiN's convolutions against the CPU (the NiN zoo parity failure of the fifth run): its own
# step, with the table of every (shape, pass, algorithm) in the log even when it passes. KILN_GPU_STEPS=cudnn-algorithms
# runs it alone.
step cudnn-algorithms "${KILN_GPU_CUDNN_ALGOS_S:-180}" "$dn" "$here/tests/Kiln.Tests.dll" -noColor -class "$sweep" -showLiveOutput -parallel none

# Train the tiny network on the GPU end to end (data loader -> upload -> forward/backward -> SGD ->
# checkpoint -> validation), then evaluate the checkpoint on the GPU.
work=$(mktemp -d)
(cd "$work" && "$kiln" pack shapes --out data/shapes --count 256 --shard-size 64 --prefix train >/dev/null \
  && "$kiln" pack shapes --out data/shapes --count 100 --first 1000000 --prefix val >/dev/null) || echo "pack shapes failed"
cp "$here/tiny-shapes-cpu.yaml" "$work/"
step train-gpu 120 bash -c "cd '$work' && '$kiln' train tiny-shapes-cpu.yaml --set training.device=cuda:0 --set training.run_dir=runs/gpu"
step eval-gpu 60 bash -c "cd '$work' && '$kiln' eval --checkpoint runs/gpu --data data/shapes/val-000000.tar --device cuda:0"
step eval-gpu-multiscale 60 bash -c "cd '$work' && '$kiln' eval --checkpoint runs/gpu --data data/shapes/val-000000.tar --device cuda:0 --protocol multi-scale --scales 16,20,24"
step eval-gpu-dense 60 bash -c "cd '$work' && '$kiln' eval --checkpoint runs/gpu --data data/shapes/val-000000.tar --device cuda:0 --protocol dense --scales 16,24"

# With a packed MNIST next to run.sh (mnist.tar.xz: the quickstart's data/mnist), train the quickstart on the GPU.
if [ -f "${KILN_GPU_MNIST:-}" ]; then
  mkdir -p "$work/q/data" && tar -C "$work/q/data" -xJf "$KILN_GPU_MNIST"
  step train-mnist-gpu 150 bash -c "cd '$work/q' && '$kiln' train '$here/configs/quickstart-mnist.yaml' --set training.device=cuda:0 --set logging.interval=1000 \
    && '$kiln' eval --checkpoint runs/quickstart-mnist --data 'data/mnist/mnist-test-{000000..000001}.tar' --device cuda:0"
fi

step bench-gemm 60 "$kiln" bench gemm --device cuda:0 -m 8192 -n 8192 -k 8192 --repeat 5
step bench-resnet50 "${KILN_GPU_BENCH_S:-120}" "$kiln" bench model resnet50 --device cuda:0 --batch 64 --repeat 5 --warmup 2
step bench-alexnet 90 "$kiln" bench model alexnet --device cuda:0 --batch 128 --repeat 5 --warmup 2 --no-layers
step bench-googlenet 90 "$kiln" bench model googlenet --device cuda:0 --batch 64 --repeat 5 --warmup 2 --no-layers
step bench-vgg16 90 "$kiln" bench model vgg16 --device cuda:0 --batch 64 --repeat 5 --warmup 2 --no-layers
step other-tests "${KILN_GPU_ALL_TESTS_S:-180}" "$dn" "$here/tests/Kiln.Tests.dll" -noColor -namespace- Kiln.Tests.Backends.Cuda

echo
echo "== summary"
printf '%s\n' "${summary[@]}" | tee "$out/summary.log"
INNER
chmod +x "$stage/check.sh"
cp configs/tiny-shapes-cpu.yaml "$stage/"
cp -r configs "$stage/"   # the tests find the shipped configs above their binaries

echo "compressing..."
tar -C "$out" -cf - kiln-gpu | xz -T0 -6 > "$out/kiln-gpu.tar.xz"
rm -rf "$stage"

cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Entry point on the GPU machine: unpack the bundle next to this script (once) and run the check.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work="${KILN_GPU_WORK:-${TMPDIR:-/tmp}/kiln-gpu-check}"
rm -rf "$work" && mkdir -p "$work"
tar -C "$work" -xJf "$here/kiln-gpu.tar.xz"
[ -f "$here/mnist.tar.xz" ] && export KILN_GPU_MNIST="${KILN_GPU_MNIST:-$here/mnist.tar.xz}"
exec bash "$work/kiln-gpu/check.sh"
RUN
chmod +x "$out/run.sh"

size=$(stat -c %s "$out/kiln-gpu.tar.xz")
echo "bundle: $out/kiln-gpu.tar.xz ($((size / 1024 / 1024)) MiB); run: bash $out/run.sh"
if [ "$size" -gt $((64 * 1024 * 1024)) ]; then
  echo "bundle is larger than 64 MiB" >&2
  exit 1
fi
