# Shell functions shared by the bench scripts (sourced, not run).

# listen_port STDERR_FILE PID: waits (up to 120 s: start-up fsck over 100 000 records takes a few
# seconds) for the server's "imgup: listening on http://127.0.0.1:PORT" line and prints PORT.
# Fails, showing the server's stderr, when it exits or does not start.
listen_port() {
  local err=$1 pid=$2 port=""
  for _ in $(seq 1200); do
    port=$(sed -n 's#^imgup: listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$err")
    if [ -n "$port" ]; then
      echo "$port"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: imgup did not start:" >&2
  cat "$err" >&2
  return 1
}

# settle: before a timed run of a server started on a fresh data dir, writes back the dirty page
# cache (else the previous run's few GB of fresh files are written back during this one and
# throttle its writes) and, when this shell may (root), drops the clean page cache too: with the
# RAM full of earlier runs' files every write first had to reclaim a page (kswapd on the same 2
# CPUs), and identical runs varied by ±30%. Not for a server with a warm database (run.sh).
settle() {
  sync
  if [ -w /proc/sys/vm/drop_caches ]; then echo 3 >/proc/sys/vm/drop_caches; fi
}
