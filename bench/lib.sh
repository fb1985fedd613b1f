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
