#!/usr/bin/env bash
# kvc's two commands, complete on a fresh Debian 12 machine:
#   tools/dev.sh demo    build and run the demo (examples/quickstart)
#   tools/dev.sh test    build every test (g++, -Werror; CUDA units by nvcc when it is found) and run them
#   tools/dev.sh deps    only install what is missing
# Each first installs the Debian packages kvc's build needs that are missing (apt-get as root,
# through sudo otherwise; nothing is installed when all are present), then runs the CMake
# workflow preset of the same name. KVC_NO_INSTALL=1 only lists what is missing.
# The CCCL headers come from the CUDA toolkit (/usr/local/cuda; not a Debian package): without it
# set KVC_CCCL_INCLUDE_DIR or CCCL_DIR (README.md, "Using kvc from CMake").
set -euo pipefail
cd "$(dirname "$0")/.."

# What each command needs from Debian, by package name.
demo_packages=(cmake ninja-build g++)
test_packages=(cmake ninja-build g++ doctest-dev libbenchmark-dev libomp-dev nlohmann-json3-dev libcli11-dev)

usage() {
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

install_missing() {
  local missing=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "kvc: installing missing Debian packages: ${missing[*]}" >&2
  if [ "${KVC_NO_INSTALL:-0}" = 1 ]; then
    echo "kvc: KVC_NO_INSTALL=1; install them with: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo=(sudo); else
      echo "kvc: not root and no sudo; run as root: apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

check_cccl() {
  if [ -z "${KVC_CCCL_INCLUDE_DIR:-}" ] && [ -z "${CCCL_DIR:-}" ] && [ ! -f /usr/local/cuda/include/cccl/cuda/std/mdspan ]; then
    echo "kvc: the CCCL headers were not found at /usr/local/cuda/include/cccl: install the CUDA toolkit," \
         "or set KVC_CCCL_INCLUDE_DIR (see README.md)" >&2
    exit 1
  fi
  # nvcc, when the toolkit has it, compiles the CUDA translation units.
  if [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
}

[ $# -eq 1 ] || usage
case "$1" in
  deps) install_missing "${test_packages[@]}" ;;
  demo) install_missing "${demo_packages[@]}"; check_cccl; exec cmake --workflow --preset demo ;;
  test) install_missing "${test_packages[@]}"; check_cccl; exec cmake --workflow --preset test ;;
  *) usage ;;
esac
