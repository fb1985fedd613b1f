#!/usr/bin/env bash
# Installs the libvips of the processor's Lambda package (docs/adr/0012-packaging.md): sharp's
# prebuilt libvips, `@img/sharp-libvips-linux-x64` (one libvips-cpp.so with its loaders' libraries
# built in; glibc >= 2.26; LGPL-3.0-or-later) and `@img/sharp-libvips-dev` (its headers), from
# npm at the versions and hashes of scripts/sharp-libvips/package-lock.json, into
# ${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/sharp-libvips (a ~10 MB download, a few seconds,
# once; skipped while the lock file is the one installed). Prints that folder.
#
# Only the `package` preset links it (the pixel worker in processor.zip); every other build uses
# Debian's libvips.
set -euo pipefail
cd "$(dirname "$0")/.."

dest="${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/sharp-libvips"
lock=scripts/sharp-libvips/package-lock.json
if [ -d "$dest/node_modules/@img/sharp-libvips-linux-x64/lib" ] && cmp -s "$lock" "$dest/package-lock.json"; then
  echo "$dest"
  exit 0
fi
command -v npm >/dev/null || { echo "install-sharp-libvips: npm not found (Node.js 20 with npm)" >&2; exit 1; }
echo "install-sharp-libvips: sharp's libvips into $dest" >&2
# Installed in a temporary folder and moved in place: an interrupted install leaves nothing half.
mkdir -p "$(dirname "$dest")"
tmp=$(mktemp -d "$dest.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp scripts/sharp-libvips/package.json "$lock" "$tmp/"
(cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >&2)
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "$dest"
