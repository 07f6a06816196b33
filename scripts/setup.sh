#!/usr/bin/env bash
# Idempotent set-up shared by the README's two commands (main.sh and test.sh).
# Every step checks whether it is already done, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

as_root() {  # run a command as root when we are root or have passwordless sudo
  if [ "$(id -u)" = 0 ]; then "$@"; elif sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi
}

apt_install() {  # apt_install PACKAGE...: install Debian packages when we can; never fatal
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ ! -f /tmp/.cnn-course-apt-updated ]; then
    as_root apt-get update -qq >/dev/null 2>&1 && touch /tmp/.cnn-course-apt-updated || return 1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null 2>&1
}

# 1. Debian's Fashion-MNIST package (real data, offline), when root + apt are there.
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  if apt_install dataset-fashion-mnist; then say "installed Debian's dataset-fashion-mnist"
  else say "could not install dataset-fashion-mnist (not root or no apt): the Keras cache or COURSE_DATA_DIR will be used"; fi
fi

# 2. The virtual environment with the pinned packages; redone only when the pins change.
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "creating .venv with the pinned packages (first time: a few minutes)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt -c requirements.lock
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
else
  say ".venv is up to date"
fi

# 3. Fashion-MNIST verified and copied into the Keras cache (plain keras.datasets works offline).
.venv/bin/python -m course.data | sed 's/^/[setup] /'

# 4. A Jupyter kernel for the course, visible to any JupyterLab of this user.
kernel_dir=$(.venv/bin/python -c "import jupyter_core.paths as p; print(p.jupyter_data_dir())")/kernels/cnn-course
if ! grep -qs "$REPO/.venv/bin/python" "$kernel_dir/kernel.json"; then
  .venv/bin/python -m ipykernel install --user --name cnn-course --display-name "CNN course (.venv)" >/dev/null
  say "registered Jupyter kernel 'cnn-course'"
fi
# 5. Headless Chromium and its driver: the tests open feedback and the formgrader in a real browser.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if apt_install --no-install-recommends chromium chromium-driver; then say "installed Debian's chromium and chromium-driver"
  else say "could not install chromium (not root or no apt): the browser tests will be skipped"; fi
fi
# 6. Bubblewrap: the autograder's sandbox for student kernels (autograder/sandbox.py).
if ! command -v bwrap >/dev/null 2>&1; then
  if apt_install bubblewrap; then say "installed Debian's bubblewrap (the grading sandbox)"
  else say "could not install bubblewrap (not root or no apt): grading warns that student code is not isolated"; fi
fi
say "ready: $REPO/.venv"
