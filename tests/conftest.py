"""Shared set-up: quiet, deterministic TensorFlow in the grading profile; one
TensorFlow import per test process, data loaded once per session."""
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("COURSE_PROFILE", "grading")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests prove the CPU path, identical everywhere

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def fashion():
    from course import data

    return data.fashion_mnist()


def pytest_addoption(parser):
    parser.addoption("--mistakes", action="store_true",
                     help="also grade every typical mistake of every course assignment (long)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--mistakes"):
        return
    skip = pytest.mark.skip(reason="typical-mistake grading of the course assignments: run with --mistakes")
    for item in items:
        if "mistakes" in item.keywords:
            item.add_marker(skip)


# -- a real browser and a real JupyterLab, for what users see ---------------------------------------

@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Chromium as root can run it: no sandbox, no GPU, no network of its own."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/setup.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=Service(driver))
    browser.set_page_load_timeout(60)
    yield browser
    browser.quit()



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Run as another Unix user: this machine's Python lives under root's home (mode 700), so the user gets a
# private mount namespace in which that one folder is seen through an empty, traversable /root.
_AS_USER = """set -e
hidden=$1 prefix=$2 user=$3; shift 3
stash=$(mktemp -d); mount --bind "$prefix" "$stash"
mount -t tmpfs -o mode=755 tmpfs "$hidden"; mkdir -p "$prefix"; mount --bind "$stash" "$prefix"
umount -l "$stash"; rmdir "$stash"
exec setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
"""


def as_user(user: str) -> list[str]:
    """The command prefix that runs a command as `user` (root only), with this machine's Python reachable."""
    prefix = Path(sys.base_prefix)
    closed = next((p for p in reversed(prefix.parents) if not os.stat(p).st_mode & 0o001), None)
    if closed is None:
        return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _AS_USER, "sh",
            str(closed), str(prefix), user]


def user_env(home: Path, user: str) -> dict[str, str]:
    """A login's environment for `user`: nothing of the test runner's (root's) own."""
    return {"HOME": str(home), "USER": user, "LOGNAME": user, "LANG": "C.UTF-8",
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}


@contextlib.contextmanager
def jupyterlab(root: Path, runtime_dir: Path, *arguments: str, user: str | None = None):
    """A JupyterLab server on `root` (loopback, a fresh token), as a user starts it; yields (url, token).

    ``user``: started as that Unix user (the test runs as root), with that user's environment.
    """
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               *arguments]
    env = {**(user_env(root, user) if user else os.environ), "JUPYTER_RUNTIME_DIR": str(runtime_dir)}
    server = subprocess.Popen(as_user(user) + command if user else command + ["--allow-root"],
                              cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise AssertionError("JupyterLab did not start: " + server.stderr.read().decode()[-2000:])
            time.sleep(1)
    try:
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def lecture_record(name: str):
    """A notebooks/data recipe script (imported, not run) and the JSON record it wrote: (script, record)."""
    import importlib.util

    from course import data

    spec = importlib.util.spec_from_file_location(name, data.LECTURE_DATA / f"{name}.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script, data.lecture_record(name)
