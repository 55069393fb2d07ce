#!/usr/bin/env bash
# Installs the build into a clean prefix (cmake --install) and, when the Debian tools are there,
# builds the .deb with CPack and unpacks it into a throwaway root (dpkg -x, the files a dpkg -i
# would lay down, without touching this machine). In each tree: `ndk --version` and `ndk info`
# run from the tree itself (install RPATH), man pages are installed, and a tiny C consumer builds
# with pkg-config and with CMake find_package(OpenNDK) and runs.
set -euo pipefail
build=$(realpath "${1:?build dir}"); src=$(realpath "${2:?source dir}")
work=$(mktemp -d /tmp/openndk-install-test-XXXXXX)
trap 'rm -rf "$work"' EXIT
export OPENNDK_RUNTIME_DIR=$work/run  # the consumers and the tool keep to themselves

check_tree() {  # $1: the installed prefix (P or root/usr)
  local p=$1 name=$2 pcdir
  echo "== $name: $p"
  "$p/bin/ndk" --version
  "$p/bin/ndk" info >"$work/info.txt"
  grep -q '^interface .* (lo)' "$work/info.txt" || { echo "ndk info shows no lo"; cat "$work/info.txt"; exit 1; }
  "$p/bin/ndk" info --json | grep -q '"openndk_version"'
  test -f "$p/share/man/man1/ndk.1" && test -f "$p/share/man/man7/openndk-provider.7"
  test -f "$p/share/doc/openndk/copyright"
  pcdir=$(dirname "$(find "$p" -name openndk.pc | head -1)")
  # pkg-config: the .pc file finds its prefix from its own place.
  local flags
  flags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs openndk)
  local libdir
  libdir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=libdir openndk)
  cc -std=c11 -o "$work/consumer-pc" "$src/tests/install/consumer/consumer.c" $flags -Wl,-rpath,"$libdir"
  "$work/consumer-pc"
  # CMake: find_package(OpenNDK) with the prefix on CMAKE_PREFIX_PATH.
  rm -rf "$work/cm"
  cmake -S "$src/tests/install/consumer" -B "$work/cm" -DCMAKE_PREFIX_PATH="$p" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$work/cm" >/dev/null
  "$work/cm/consumer"
}

cmake --install "$build" --prefix "$work/prefix" >/dev/null
check_tree "$work/prefix" "cmake --install"

if command -v cpack >/dev/null && command -v dpkg-deb >/dev/null && command -v dpkg-shlibdeps >/dev/null; then
  (cd "$work" && cpack -G DEB -B "$work/pkg" --config "$build/CPackConfig.cmake" >/dev/null)
  deb=$(ls "$work"/pkg/*.deb)
  echo "== package: $(basename "$deb")"
  dpkg-deb -f "$deb" Package Version Depends
  dpkg -x "$deb" "$work/root"
  check_tree "$work/root/usr" "dpkg -x"
else
  echo "cpack/dpkg-deb/dpkg-shlibdeps missing: the .deb part is skipped"
fi
echo "install test: ok"
