#!/usr/bin/env bash
# Packages one of imgup's Lambda functions as a zip for the provided.al2023 runtime, the way
# aws-lambda-cpp's packaging/packager does (docs/adr/0012-packaging.md):
#
#   bootstrap                 a shell script: runs bin/NAME through the bundled glibc loader
#   bin/NAME                  the function, stripped
#   lib/                      every shared library `ldd` names (glibc among them) and the loader
#   lib/D1/D2/MODULE.so       each MODULE given (a plug-in the function loads at run time, which
#                             ldd cannot see), under the names of the two folders it came from
#                             (x86_64-linux-gnu/vips-modules-8.14); what it links goes to lib/
#
# Debian's libvips looks for its modules (the HEIF, ImageMagick, poppler... loaders) in
# $VIPSHOME/x86_64-linux-gnu/vips-modules-X.Y: when libvips is in the package, bootstrap sets
# VIPSHOME to lib/, so that it loads the modules packaged (only those given), never the host's.
#
# Built on Debian 12 (glibc 2.36), it runs on Amazon Linux 2023 (glibc 2.34) because it brings
# its own glibc: the bundled loader, with lib/ as its only library path, loads nothing of the
# host's. tests/package proves it with the host's library folders hidden.
#
#   scripts/package-lambda.sh [--helper PROGRAM:VARIABLE]... [--notice FILE]... BINARY ZIP [MODULE...]
#   scripts/package-lambda.sh build/package/imgup-lambda-api build/lambda/api.zip
#   scripts/package-lambda.sh --helper build/package/imgup-pixel-worker:IMGUP_PIXEL_WORKER \
#     --notice scripts/sharp-libvips/NOTICE.md \
#     build/package/imgup-lambda-processor build/lambda/processor.zip
set -euo pipefail

helpers=()
notices=()
while [ $# -gt 0 ]; do
  case "$1" in
    --helper) helpers+=("$2"); shift 2 ;;
    --notice) notices+=("$2"); shift 2 ;;
    *) break ;;
  esac
done
if [ $# -lt 2 ]; then
  echo "usage: $0 [--helper PROGRAM:VARIABLE]... [--notice FILE]... BINARY ZIP [MODULE...]" >&2
  exit 2
fi
binary=$1
zip_path=$2
shift 2
modules=("$@")
helper_programs=()
for helper in "${helpers[@]}"; do
  program=${helper%:*}
  if [ "$program" = "$helper" ] || [ ! -x "$program" ]; then
    echo "package-lambda: --helper $helper: want PROGRAM:VARIABLE, PROGRAM an executable" >&2
    exit 1
  fi
  helper_programs+=("$program")
done
name=$(basename "$binary")
[ -x "$binary" ] || { echo "package-lambda: $binary is not an executable" >&2; exit 1; }
command -v zip >/dev/null || { echo "package-lambda: zip not found (make deps)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"

# `ldd` lines are "libfoo.so.1 => /path/libfoo.so.1 (0x...)", the loader's "/lib64/ld-linux... (0x...)",
# and the vDSO, which the kernel provides. A library ldd cannot find would fail on Lambda too.
loader=""
for elf in "$binary" "${helper_programs[@]}" "${modules[@]}"; do
  ldd_out=$(ldd "$elf")
  if grep -q 'not found' <<<"$ldd_out"; then
    echo "package-lambda: $elf: libraries not found:" >&2
    grep 'not found' <<<"$ldd_out" >&2
    exit 1
  fi
  while read -r first arrow path _; do
    if [ "$arrow" = "=>" ] && [ -n "$path" ]; then
      [ -e "$stage/lib/$first" ] || cp -L "$path" "$stage/lib/$first"
    elif [[ "$first" == /*ld-linux* ]]; then
      loader=$first
    fi
  done <<<"$ldd_out"
done
for module in "${modules[@]}"; do
  folder="$stage/lib/$(basename "$(dirname "$(dirname "$module")")")/$(basename "$(dirname "$module")")"
  mkdir -p "$folder"
  cp -L "$module" "$folder/"
done
[ -n "$loader" ] || { echo "package-lambda: $binary: no ELF loader in ldd's answer" >&2; exit 1; }
cp -L "$loader" "$stage/lib/ld-linux-x86-64.so.2"
chmod 0755 "$stage/lib/ld-linux-x86-64.so.2"

cp "$binary" "$stage/bin/$name"
strip --strip-all "$stage/bin/$name"

# Each helper: bin/HELPER, and a launcher beside bootstrap that runs it through the loader. The
# function starts it with posix_spawn; the launcher's exec keeps the pid, so the function's watch
# on its child and the child's on its parent hold.
helper_exports=""
for helper in "${helpers[@]}"; do
  program=${helper%:*}
  variable=${helper##*:}
  helper_name=$(basename "$program")
  cp "$program" "$stage/bin/$helper_name"
  strip --strip-all "$stage/bin/$helper_name"
  cat >"$stage/$helper_name" <<EOF
#!/bin/sh
# Made by imgup's scripts/package-lambda.sh: runs bin/$helper_name with the bundled glibc and lib/.
case "\$0" in */*) here=\${0%/*} ;; *) here=. ;; esac
exec "\$here/lib/ld-linux-x86-64.so.2" --library-path "\$here/lib" "\$here/bin/$helper_name" "\$@"
EOF
  chmod 0755 "$stage/$helper_name" "$stage/bin/$helper_name"
  helper_exports+="
# $name starts $helper_name: the launcher beside this script, unless the configuration names one.
[ -n \"\${$variable-}\" ] || export $variable=\"\$here/$helper_name\""
done
if [ ${#notices[@]} -gt 0 ]; then
  mkdir -p "$stage/licenses"
  cp "${notices[@]}" "$stage/licenses/"
fi

vips_home=""
if compgen -G "$stage/lib/libvips.so*" >/dev/null; then
  vips_home='
# libvips loads its modules from $VIPSHOME/x86_64-linux-gnu/vips-modules-X.Y: the packaged ones.
export VIPSHOME="$here/lib"'
fi

# No external command runs before the function: each would be one more process start in every
# cold start. `${0%/*}` is the package's folder (/var/task on Lambda, wherever it was unzipped
# elsewhere).
cat >"$stage/bootstrap" <<EOF
#!/bin/sh
# Made by imgup's scripts/package-lambda.sh: runs bin/$name with the glibc and the libraries
# bundled in lib/ (built on Debian 12, glibc 2.36; Amazon Linux 2023 has glibc 2.34).
case "\$0" in */*) here=\${0%/*} ;; *) here=. ;; esac
# Absolute, for the paths handed to the function (\$PWD: no command runs).
case "\$here" in /*) ;; *) here=\$PWD/\$here ;; esac
# The bundled libssl (Debian's) looks for CA certificates under /usr/lib/ssl, which Amazon Linux
# does not have: use Amazon Linux 2023's trust store unless the function's configuration names
# one. A hashed directory first (OpenSSL then reads only the CAs a server's chain needs), else
# the bundle.
if [ -z "\${SSL_CERT_FILE-}\${SSL_CERT_DIR-}" ]; then
  if [ -d /etc/pki/ca-trust/extracted/pem/directory-hash ]; then
    export SSL_CERT_DIR=/etc/pki/ca-trust/extracted/pem/directory-hash
  elif [ -f /etc/pki/tls/certs/ca-bundle.crt ]; then
    export SSL_CERT_FILE=/etc/pki/tls/certs/ca-bundle.crt
  fi
fi$vips_home$helper_exports
exec "\$here/lib/ld-linux-x86-64.so.2" --library-path "\$here/lib" "\$here/bin/$name" "\$@"
EOF
chmod 0755 "$stage/bootstrap" "$stage/bin/$name"

mkdir -p "$(dirname "$zip_path")"
zip_abs=$(cd "$(dirname "$zip_path")" && pwd)/$(basename "$zip_path")
rm -f "$zip_abs"
# -X: no extra attributes (uid, times) beyond the Unix modes Lambda needs for bootstrap.
(cd "$stage" && zip -q -9 -X -r "$zip_abs" -- *)
echo "package-lambda: $zip_path: $(stat -c %s "$zip_abs") bytes, $(du -sk "$stage" | cut -f1) KB" \
  "unzipped, $(find "$stage/lib" -name '*.so*' | wc -l) libraries and modules"
