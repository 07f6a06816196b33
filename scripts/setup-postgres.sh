#!/usr/bin/env bash
# The tests start their own throw-away PostgreSQL server; this only makes sure
# Debian's server binaries are installed (root + apt). Never fatal.
set -uo pipefail
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && exit 0
command -v apt-get >/dev/null 2>&1 || exit 1
run() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
[ -f /tmp/.cnn-course-apt-updated ] || { run apt-get update -qq >/dev/null 2>&1 && touch /tmp/.cnn-course-apt-updated; }
DEBIAN_FRONTEND=noninteractive run apt-get install -y -qq postgresql >/dev/null 2>&1 && echo "[setup] installed PostgreSQL server binaries"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
