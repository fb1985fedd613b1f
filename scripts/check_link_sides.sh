#!/usr/bin/env bash
# The two sides of a Lambda deployment link apart (issue R, item 12): the API side (router,
# handlers, services) must not load libvips or SQLite, and the processing side (the image
# pipeline and its pixel workers) must not carry the router or the embedded web page.
#   scripts/check_link_sides.sh API_BINARY PROCESSING_BINARY
set -euo pipefail
api=$1
processing=$2
status=0
libs=$(ldd "$api")
for lib in libvips libsqlite3 libheif libjpeg libpng libwebp; do
  if grep -q "$lib" <<<"$libs"; then
    echo "API side ($api) loads $lib" >&2
    status=1
  fi
done
symbols=$(nm -C "$processing")
for symbol in 'imgup::Router::' 'imgup::FindEmbeddedFile' 'imgup::RegisterApiRoutes'; do
  if grep -qF "$symbol" <<<"$symbols"; then
    echo "processing side ($processing) carries $symbol" >&2
    status=1
  fi
done
echo "API side: $(wc -l <<<"$libs") shared libraries; processing side: $(ldd "$processing" | wc -l)"
exit $status
