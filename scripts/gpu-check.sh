#!/usr/bin/env bash
# Builds the GPU check bundle: .gpu-bundle/kiln-gpu.tar.xz (ignored by git), plus .gpu-bundle/run.sh.
# The bundle holds the test executable and `kiln` (Release, framework-dependent) and this machine's
# .NET runtime, so it runs on a linux-x64 GPU machine that has no .NET SDK and no network.
#
#   bash scripts/gpu-check.sh            # build the bundle here (no GPU needed)
#   bash .gpu-bundle/run.sh              # on the GPU machine, from a copy of the repo or of .gpu-bundle/
#
# run.sh unpacks the tarball next to itself, prints `kiln devices --verbose`, runs the CUDA tests
# (namespace Kiln.Tests.Backends.Cuda) and then every test, runs the GPU benchmarks that exist, and
# ends with a short summary. The bundle must stay under 64 MiB (what a device session can carry).
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
# Runs inside the unpacked bundle on the GPU machine.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DOTNET_ROOT="$here/dotnet" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export KILN_CACHE_DIR="${KILN_CACHE_DIR:-$here/kernel-cache}"
[ -d "$here/nvrtc" ] && export KILN_CUDA_FALLBACK_LIB_PATH="$here/nvrtc"
dn="$here/dotnet/dotnet"
summary=()

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "(nvidia-smi not available)"
echo "== kiln devices --verbose"
"$dn" "$here/cli/kiln.dll" devices --verbose
summary+=("kiln devices: exit $?")

run_tests() {   # $1 = label, rest = runner arguments
  local label=$1; shift
  local log; log=$(mktemp)
  "$dn" "$here/tests/Kiln.Tests.dll" -noColor "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  summary+=("$label: $(grep -E 'Total: [0-9]+' "$log" | tail -1 | sed 's/^ *//') (exit $rc)")
  rm -f "$log"
}
echo "== CUDA tests"
run_tests "CUDA tests" -namespace Kiln.Tests.Backends.Cuda -parallel none
echo "== all tests"
run_tests "all tests"

echo "== benchmarks"
if "$dn" "$here/cli/kiln.dll" bench gemm --help >/dev/null 2>&1 && "$dn" "$here/cli/kiln.dll" bench gemm; then
  summary+=("bench gemm: ran")
else
  summary+=("bench gemm: not available in this build")
fi

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
INNER
chmod +x "$stage/check.sh"

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
exec bash "$work/kiln-gpu/check.sh"
RUN
chmod +x "$out/run.sh"

size=$(stat -c %s "$out/kiln-gpu.tar.xz")
echo "bundle: $out/kiln-gpu.tar.xz ($((size / 1024 / 1024)) MiB); run: bash $out/run.sh"
if [ "$size" -gt $((64 * 1024 * 1024)) ]; then
  echo "bundle is larger than 64 MiB" >&2
  exit 1
fi
