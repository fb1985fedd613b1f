#!/usr/bin/env python3
"""Runs a command with none of the host's shared libraries in sight, to show that a Lambda
package brings all it needs (tests/package).

  unshare -m python3 hide_libs.py BUSYBOX COMMAND [ARGS...]      # unshare -rm when not root

In the new mount namespace that `unshare` made, it mounts an empty tmpfs over every library
folder (/lib, /lib64, /usr/lib, /usr/lib64, /usr/local/lib, ... resolved, so Debian's merged /usr
is covered once), binds /dev/null over /etc/ld.so.cache, and replaces /usr/bin and /usr/sbin by
a tmpfs holding one static shell (BUSYBOX as /usr/bin/sh): what a provided.al2023 Lambda's
/bin/sh is to a bootstrap script, without a single Debian library. Then it execs COMMAND; when
that fails it prints why and exits 127.

Everything this process needs is loaded before the first mount: after them, nothing of the
host's Python or C libraries can be opened.
"""

import ctypes
import os
import sys

MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

LIBRARY_FOLDERS = ["/lib", "/lib64", "/lib32", "/libx32", "/usr/lib", "/usr/lib64", "/usr/lib32",
                   "/usr/libx32", "/usr/local/lib", "/usr/local/lib64"]
PROGRAM_FOLDERS = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]


def main() -> None:
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        os._exit(2)
    busybox_path, command = sys.argv[1], sys.argv[2:]
    with open(busybox_path, "rb") as f:
        busybox = f.read()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def mount(source, target, fstype, flags):
        args = [None if v is None else v.encode() for v in (source, target, fstype)]
        if libc.mount(args[0], args[1], args[2], ctypes.c_ulong(flags), None) != 0:
            err = ctypes.get_errno()
            sys.stderr.write(f"hide_libs: mount {target}: {os.strerror(err)}\n")
            os._exit(126)

    # Nothing mounted here reaches the host's namespace.
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    done = set()
    for folder in LIBRARY_FOLDERS + PROGRAM_FOLDERS:
        real = os.path.realpath(folder)
        if real in done or not os.path.isdir(real):
            continue
        done.add(real)
        mount("tmpfs", real, "tmpfs", 0)
    if os.path.exists("/etc/ld.so.cache"):
        mount("/dev/null", "/etc/ld.so.cache", None, MS_BIND)
    sh = os.path.realpath("/usr/bin") + "/sh"
    with open(sh, "wb") as f:
        f.write(busybox)
    os.chmod(sh, 0o755)
    try:
        os.execv(command[0], command)
    except OSError as e:
        sys.stderr.write(f"hide_libs: cannot run {command[0]}: {e.strerror}\n")
        sys.stderr.flush()
        os._exit(127)


if __name__ == "__main__":
    main()
