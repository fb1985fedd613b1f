#!/usr/bin/env bash
# The API function stays small (issue D, items 1-2): no image pipeline (libvips, its codecs, or
# imgup's own imaging code linked in statically) and no libcurl, whose 32 shared libraries would
# come with every cold start. SQLite is there while the function runs on the local stores; it
# goes when the DynamoDB store replaces them.
#   scripts/check_lambda_api_links.sh imgup-lambda-api
set -euo pipefail
binary=$1
status=0
libs=$(ldd "$binary")
for lib in libvips libheif libjpeg libpng libwebp libtiff libgif libexif libMagick libpoppler \
  libcurl; do
  if grep -q "$lib" <<<"$libs"; then
    echo "$binary loads $lib" >&2
    status=1
  fi
done
symbols=$(nm -C "$binary")
for symbol in 'imgup::VipsImageProcessor' 'imgup::SandboxedImageProcessor' 'vips_init'; do
  if grep -qF "$symbol" <<<"$symbols"; then
    echo "$binary carries $symbol" >&2
    status=1
  fi
done
echo "$binary: $(wc -l <<<"$libs") lines of ldd:"
sed 's/^/  /' <<<"$libs"
exit $status
