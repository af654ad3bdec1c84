#!/usr/bin/env bash
# Installs the system packages Kiln's tests need on Debian 12 (idempotent; run as root or with sudo).
#   libnvrtc11.2: NVRTC, to compile Kernels/*.cu in CI without a GPU (Debian non-free).
#   g++: the kernel-emulation tests compile Kernels/*.cu for the host against a small CUDA stand-in.
#   fonts-dejavu-core: a font file for plot labels (SkiaSharp's bundled build has no fontconfig).
#   libturbojpeg0: the SIMD libjpeg-turbo's TurboJPEG API, Kiln's fast JPEG decoder (SkiaSharp is the fallback).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
command -v g++ >/dev/null 2>&1 || need+=(g++)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
ldconfig -p 2>/dev/null | grep -q 'libturbojpeg.so.0' || need+=(libturbojpeg0)
nvrtc=0
ldconfig -p 2>/dev/null | grep -q 'libnvrtc.so.11.2' || { need+=(libnvrtc11.2 libnvrtc-builtins11.8); nvrtc=1; }
if [ ${#need[@]} -gt 0 ]; then
  # NVRTC lives in Debian's non-free component; add it if the sources lack it.
  if [ "$nvrtc" -eq 1 ] && ! grep -rqs 'non-free\b' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      $SUDO sed -i 's/^Components: main.*$/Components: main contrib non-free non-free-firmware/' /etc/apt/sources.list.d/debian.sources
    else
      echo "deb http://deb.debian.org/debian bookworm main contrib non-free non-free-firmware" | $SUDO tee /etc/apt/sources.list.d/kiln-non-free.list >/dev/null
    fi
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
