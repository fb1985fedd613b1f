#!/usr/bin/env bash
# Builds the libheif of the processor's Lambda package (docs/adr/0012-packaging.md): sharp's
# prebuilt libvips decodes AVIF but not HEIC (its libheif has no HEVC decoder), so the pixel
# worker of that package decodes HEIC itself, with this libheif: Debian 12's own source (the
# version of the installed libheif1, with Debian's patches), built as a static library whose only
# codec is Debian's libde265 (a shared library the package carries): no encoder, no AV1, no
# plug-in loading. Installed into ${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/libheif-de265
# (include/, lib/libheif.a) once: skipped while the version and this script are those installed.
# A cold run fetches ~10 MB of Debian's source indexes and the 1.8 MB source, and compiles
# ~40 C++ files (about a minute of CPU). Prints that folder.
#
# The source comes through apt itself (`apt-get source`, Debian's signatures checked), with
# deb-src lines of its own in a private apt state under the build folder: the machine's apt
# configuration is neither read for them nor changed.
set -euo pipefail
cd "$(dirname "$0")/.."

dest="${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/libheif-de265"
version=$(dpkg-query -W -f='${Version}' libheif1 2>/dev/null) || version=""
[ -n "$version" ] || { echo "install-libheif: libheif1 is not installed (make deps)" >&2; exit 1; }
stamp="$version $(sha256sum "$0" | cut -d' ' -f1)"
if [ -f "$dest/lib/libheif.a" ] && [ "$(cat "$dest/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$dest"
  exit 0
fi
for tool in apt-get dpkg-source cmake ninja pkg-config; do
  command -v "$tool" >/dev/null || { echo "install-libheif: $tool not found (make deps)" >&2; exit 1; }
done
pkg-config --exists libde265 || { echo "install-libheif: libde265-dev not installed (make deps)" >&2; exit 1; }
echo "install-libheif: libheif $version (libde265 only) into $dest" >&2

mkdir -p "$(dirname "$dest")"
work=$(mktemp -d "$dest.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cat >"$work/apt/sources.list" <<EOF
deb-src [signed-by=$keyring] http://deb.debian.org/debian bookworm main
deb-src [signed-by=$keyring] http://deb.debian.org/debian bookworm-updates main
deb-src [signed-by=$keyring] http://deb.debian.org/debian-security bookworm-security main
EOF
apt_private=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache")
# apt drops to the _apt user to download where it can; that user cannot write into $work.
[ "$(id -u)" = 0 ] && apt_private+=(-o APT::Sandbox::User=root)
apt-get "${apt_private[@]}" -qq update >&2
(cd "$work/src" && apt-get "${apt_private[@]}" -qq source --download-only "libheif=$version" >&2)
# apt has checked each file's hash against Debian's signed index; the .dsc's own signature is
# its maintainer's, whose key (Debian's debian-keyring) this machine need not have.
dpkg-source -x "$work"/src/libheif_*.dsc "$work/libheif" >"$work/dpkg-source.log" 2>&1 ||
  { cat "$work/dpkg-source.log" >&2; exit 1; }

# Release, position-independent (the pixel worker is a PIE) and one section per function, so that
# the package's --gc-sections drops what the decoder never calls (the encoding API among it).
cmake -S "$work/libheif" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_CXX_FLAGS="-ffunction-sections -fdata-sections" \
  -DBUILD_SHARED_LIBS=OFF -DENABLE_PLUGIN_LOADING=OFF -DWITH_EXAMPLES=OFF \
  -DWITH_LIBDE265=ON -DWITH_LIBDE265_PLUGIN=OFF -DWITH_X265=OFF -DWITH_DAV1D=OFF \
  -DWITH_AOM_ENCODER=OFF -DWITH_AOM_DECODER=OFF -DWITH_SvtEnc=OFF -DWITH_RAV1E=OFF >"$work/cmake.log" 2>&1 ||
  { cat "$work/cmake.log" >&2; exit 1; }
grep -q "Compiling 'libde265' as built-in backend" "$work/cmake.log" ||
  { cat "$work/cmake.log" >&2; echo "install-libheif: libde265 not built in" >&2; exit 1; }
cmake --build "$work/build" --target heif -j "$(nproc)" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; exit 1; }

rm -rf "$dest.new"
mkdir -p "$dest.new/lib" "$dest.new/include/libheif"
cp "$work/build/libheif/libheif.a" "$dest.new/lib/"
cp "$work/libheif/libheif/heif.h" "$work/build/libheif/heif_version.h" "$dest.new/include/libheif/"
cp "$work/libheif/COPYING" "$dest.new/COPYING"
echo "$stamp" >"$dest.new/.stamp"
rm -rf "$dest"
mv "$dest.new" "$dest"
echo "$dest"
