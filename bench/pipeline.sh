#!/usr/bin/env bash
# The image pipeline benchmark (issue 3; numbers in bench/README.md, "Image pipeline (issue 3)").
#
#   bench/pipeline.sh     # after: cmake --preset release &&
#                         #   cmake --build --preset release --target imgup_process_bench -j2
#
# Same run, concurrency 1 (one image at a time), on each input file:
#   imgup      build/release/imgup_process_bench FILE N: VipsImageProcessor::Process, the whole job
#              (full decode = validation, metadata, thumb 256 + medium 1024 WebP q80, BlurHash,
#              dominant colour, perceptual hash), plus the SHA-256 of the original, which imgup
#              computes at upload (OpenSSL EVP_Digest), timed here with OpenSSL through hashlib.
#   sharp      node bench/sharp_resize.mjs FILE N: rotate().resize(E,E,{fit:'inside'})
#              .webp({quality:80}).toBuffer() for E = 1024 then 256, in one node process
#              (and, for reference, both started at once: 3 jobs).
#   ImageMagick  convert FILE -auto-orient -thumbnail ExE -quality 80 out.webp, E = 1024 and 256,
#              timed as whole commands (bench/time_cmds.py: fork/exec + wait4).
#   vipsthumbnail  vipsthumbnail FILE -s E -o out.webp[Q=80], E = 1024 and 256 (reference).
# Inputs, made here: the noisy 4000x3000 q90 JPEG (11 MB), a 4032x3024 camera-like JPEG (3.6 MB,
# from ../shared/corpora/exif-orientation/Landscape_1.jpg), and both re-written as progressive
# JPEGs by `jpegtran -progressive -copy all` (lossless: the same pixels).
#
# Tools only this benchmark needs are installed here, not by scripts/install-deps.sh, so that
# `make test` does not pay for them: Debian's imagemagick, libvips-tools, libjpeg-turbo-progs,
# and sharp into bench/node_modules (`npm ci --prefix bench`, bench/package-lock.json).
# Knobs [defaults]: PIPELINE_ITERATIONS [8] jobs per file for imgup and sharp (sharp after
# PIPELINE_WARMUP [1] warm-up jobs; imgup's first job is cold and counted), PIPELINE_CMD_ITERATIONS
# [3] jobs per file for ImageMagick and vipsthumbnail (after 1 warm-up job), PIPELINE_FILES
# [noise camera noise-prog camera-prog]. Prints a table and whether each target is met; exits 0
# whether or not they are (a failing tool still stops it with an error).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${IMGUP_BENCH_BUILD:-$ROOT/build/release}
PROCESS_BENCH=$BUILD/imgup_process_bench
ITERATIONS=${PIPELINE_ITERATIONS:-8}
WARMUP=${PIPELINE_WARMUP:-1}
CMD_ITERATIONS=${PIPELINE_CMD_ITERATIONS:-3}
FILES=${PIPELINE_FILES:-noise camera noise-prog camera-prog}
CAMERA_SOURCE=${PIPELINE_CAMERA_SOURCE:-$ROOT/../shared/corpora/exif-orientation/Landscape_1.jpg}
# /usr/local/bin/convert may be a stand-in on these machines: always the Debian binary, by path.
CONVERT=/usr/bin/convert

[ -x "$PROCESS_BENCH" ] || {
  echo "pipeline: $PROCESS_BENCH is missing: cmake --preset release &&" \
    "cmake --build --preset release --target imgup_process_bench" >&2
  exit 1
}

# ---- benchmark-only tools ---------------------------------------------------------------------
debs=()
"$CONVERT" -version 2>/dev/null | grep -q '^Version: ImageMagick' || debs+=(imagemagick)
command -v vipsthumbnail >/dev/null || debs+=(libvips-tools)
command -v jpegtran >/dev/null || debs+=(libjpeg-turbo-progs)
command -v node >/dev/null || debs+=(nodejs npm)
if ((${#debs[@]})); then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "pipeline: installing Debian packages: ${debs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${debs[@]}" >/dev/null
fi
# sharp loads (its prebuilt libvips included) and is the version that package-lock.json pins.
if ! (cd "$ROOT/bench" && node -e '
  const pinned = require("./package-lock.json").packages["node_modules/sharp"].version;
  process.exit(require("sharp").versions.sharp === pinned ? 0 : 1)' 2>/dev/null); then
  echo "pipeline: npm ci --prefix bench (sharp)"
  npm ci --prefix "$ROOT/bench" --no-audit --no-fund --loglevel=error >/dev/null
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/imgup-pipeline.XXXXXX")
CHILD=""
cleanup() {
  [ -n "$CHILD" ] && kill "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RESULTS=$WORK/results.txt
: >"$RESULTS"

# run CMD...: in the background and waited for, so that Ctrl-C stops it (cleanup) and set -e
# sees its status; its stdout goes to $WORK/last.txt and is echoed.
run() {
  "$@" >"$WORK/last.txt" &
  CHILD=$!
  wait "$CHILD"
  CHILD=""
  cat "$WORK/last.txt"
}

echo "== image pipeline benchmark (issue 3), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), kernel $(uname -r)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
SHARP_VERSIONS=$(cd "$ROOT/bench" && node -e 'const s = require("sharp"); console.log(`sharp ${s.versions.sharp} (libvips ${s.versions.vips}, mozjpeg, libwebp ${s.versions.webp})`)')
echo "tools: imgup $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet -- src 2>/dev/null || echo '+local changes'), $(vipsthumbnail --vips-version) (Debian);" \
  "node $(node --version), $SHARP_VERSIONS;" \
  "$("$CONVERT" -version | sed -n 's/^Version: \(ImageMagick [^ ]*\).*/\1/p') ($("$CONVERT" -list format | sed -n 's/.*WebP Image Format (\(libwebp [0-9.]*\).*/\1/p'))"
echo

# ---- inputs -----------------------------------------------------------------------------------
make_input() {  # make_input NAME: writes $WORK/NAME.jpg
  case $1 in
    noise) "$PROCESS_BENCH" --make-noise "$WORK/noise.jpg" ;;
    camera) "$PROCESS_BENCH" --make-camera "$CAMERA_SOURCE" "$WORK/camera.jpg" ;;
    *-prog)
      [ -f "$WORK/${1%-prog}.jpg" ] || make_input "${1%-prog}"
      jpegtran -progressive -copy all "$WORK/${1%-prog}.jpg" >"$WORK/$1.jpg"
      ;;
    *) echo "pipeline: unknown input $1" >&2 && exit 1 ;;
  esac
}
for name in $FILES; do
  [ -f "$WORK/$name.jpg" ] || make_input "$name"
done

# ---- measurements, file by file (each tool on a file right after the others) ------------------
for name in $FILES; do
  file=$WORK/$name.jpg
  echo "== $name.jpg: $(stat -c %s "$file") bytes"
  run "$PROCESS_BENCH" "$file" "$ITERATIONS"
  sed -n 's/^iterations [0-9]*: mean \([0-9.]*\) ms, median \([0-9.]*\) ms, min \([0-9.]*\) ms; CPU \([0-9.]*\) ms\/job; peak RSS \([0-9.]*\) MB$/imgup mean_ms=\1 median_ms=\2 min_ms=\3 cpu_ms=\4 rss_mb=\5/p' \
    "$WORK/last.txt" | sed "s/^/$name /" >>"$RESULTS"
  # The SHA-256 of the original, with the OpenSSL that imgup's Sha256Hex uses (EVP_Digest).
  python3 - "$file" >"$WORK/last.txt" <<'EOF'
import hashlib, sys, time
data = open(sys.argv[1], "rb").read()
times = []
for _ in range(21):
    start = time.perf_counter()
    hashlib.sha256(data).hexdigest()
    times.append((time.perf_counter() - start) * 1e3)
times.sort()
print(f"SHA_RESULT median_ms={times[len(times) // 2]:.2f} min_ms={times[0]:.2f}")
EOF
  cat "$WORK/last.txt"
  sed -n 's/^SHA_RESULT /sha256 /p' "$WORK/last.txt" | sed "s/^/$name /" >>"$RESULTS"
  run node "$ROOT/bench/sharp_resize.mjs" "$file" "$ITERATIONS" "$WARMUP" 3
  sed -n 's/^SHARP_RESULT /sharp /p' "$WORK/last.txt" | sed "s/^/$name /" >>"$RESULTS"
  run python3 "$ROOT/bench/time_cmds.py" imagemagick "$CMD_ITERATIONS" 1 -- \
    "$CONVERT" "$file" -auto-orient -thumbnail 1024x1024 -quality 80 "$WORK/im-1024.webp" ::: \
    "$CONVERT" "$file" -auto-orient -thumbnail 256x256 -quality 80 "$WORK/im-256.webp"
  sed -n 's/^CMD_RESULT label=imagemagick /imagemagick /p' "$WORK/last.txt" | sed "s/^/$name /" >>"$RESULTS"
  run python3 "$ROOT/bench/time_cmds.py" vipsthumbnail "$CMD_ITERATIONS" 1 -- \
    vipsthumbnail "$file" -s 1024 -o "$WORK/vt-1024.webp[Q=80]" ::: \
    vipsthumbnail "$file" -s 256 -o "$WORK/vt-256.webp[Q=80]"
  sed -n 's/^CMD_RESULT label=vipsthumbnail /vipsthumbnail /p' "$WORK/last.txt" | sed "s/^/$name /" >>"$RESULTS"
  # The peers' outputs must be what imgup makes: 1024 and 256 on the long edge.
  for out in im-1024 im-256 vt-1024 vt-256; do
    size=$("$CONVERT" -ping "$WORK/$out.webp" -format '%wx%h' info:)
    echo "  $out.webp: $size, $(stat -c %s "$WORK/$out.webp") bytes"
    rm -f "$WORK/$out.webp"
  done
  echo
done

# ---- summary ----------------------------------------------------------------------------------
echo "== summary ($(date -u '+%Y-%m-%d %H:%M UTC'), load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
python3 - "$RESULTS" "$ITERATIONS" "$CMD_ITERATIONS" <<'EOF'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, tool, *fields = line.split()
    rows.setdefault(name, {})[tool] = {
        k: (float(v) if k.endswith(("_ms", "_mb")) else v)
        for k, v in (f.split("=", 1) for f in fields)
    }
iterations, cmd_iterations = sys.argv[2], sys.argv[3]
print(f"wall ms per job: median and min of {iterations} jobs (imgup, sharp) or {cmd_iterations} "
      "jobs (convert, vipsthumbnail); CPU ms per job: user + system of the process(es); "
      "peak RSS of the whole process (largest of the two commands for convert / vipsthumbnail)")
head = f"{'file':<12} {'tool':<28} {'median ms':>10} {'min ms':>8} {'CPU ms':>8} {'peak RSS MB':>12}"
print(head)
print("-" * len(head))
for name, tools in rows.items():
    imgup, sha = tools["imgup"], tools["sha256"]
    job = {k: imgup[k] + sha["median_ms"] for k in ("median_ms", "min_ms", "cpu_ms")}
    show = [
        ("imgup Process (whole job)", imgup),
        ("  + SHA-256 of the original", {"median_ms": sha["median_ms"], "min_ms": sha["min_ms"],
                                         "cpu_ms": sha["median_ms"]}),
        ("imgup job incl. SHA-256", {**job, "rss_mb": imgup["rss_mb"]}),
        ("sharp, 2 pipelines in turn", tools["sharp"]),
        ("sharp, both at once (ref.)", {"median_ms": tools["sharp"]["par_median_ms"],
                                        "min_ms": tools["sharp"]["par_min_ms"],
                                        "cpu_ms": tools["sharp"]["par_cpu_ms"],
                                        "rss_mb": None}),
        ("ImageMagick convert x2", tools["imagemagick"]),
        ("vipsthumbnail x2", tools["vipsthumbnail"]),
    ]
    for label, r in show:
        rss = f"{r['rss_mb']:.1f}" if r.get("rss_mb") is not None else "-"
        print(f"{name:<12} {label:<28} {r['median_ms']:>10.1f} {r['min_ms']:>8.1f} "
              f"{r['cpu_ms']:>8.1f} {rss:>12}")
    print(f"{'':<12} {'  (sharp: node + sharp loaded, before any image: '}"
          f"{tools['sharp']['rss_base_mb']:.1f} MB)")

print("\ntargets (imgup job incl. SHA-256; met/NOT MET by median, min and CPU time):")
def verdict(ok): return "met" if ok else "NOT MET"
for name, tools in rows.items():
    imgup, sha, sharp, im = tools["imgup"], tools["sha256"], tools["sharp"], tools["imagemagick"]
    ratios = []
    speedups = []
    for k in ("median_ms", "min_ms", "cpu_ms"):
        job = imgup[k] + sha["median_ms"]
        ratios.append(job / sharp[k])
        speedups.append(im[k] / job)
    print(f"  {name}: imgup/sharp = {ratios[0]:.3f} / {ratios[1]:.3f} / {ratios[2]:.3f} "
          f"(<= 0.75: {verdict(ratios[0] <= 0.75)} / {verdict(ratios[1] <= 0.75)} / "
          f"{verdict(ratios[2] <= 0.75)})")
    print(f"  {name}: ImageMagick/imgup = {speedups[0]:.1f}x / {speedups[1]:.1f}x / "
          f"{speedups[2]:.1f}x (>= 4x: {verdict(speedups[0] >= 4)} / {verdict(speedups[1] >= 4)} / "
          f"{verdict(speedups[2] >= 4)})")
    print(f"  {name}: imgup peak RSS = {imgup['rss_mb']:.1f} MB (<= 64 MB: "
          f"{verdict(imgup['rss_mb'] <= 64)}; sharp {sharp['rss_mb']:.1f} MB, vipsthumbnail "
          f"{tools['vipsthumbnail']['rss_mb']:.1f} MB, ImageMagick {im['rss_mb']:.1f} MB)")
EOF
exit 0
