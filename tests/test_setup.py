"""The environment is what the README promises: pinned, consistent, wired to CI."""
import re
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip().lstrip("- ").strip()
        if "==" in line:
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name.lower())] = version
    return pins


def requirement_pins():
    return _pins((REPO / "requirements.txt").read_text().splitlines())


def test_every_requirement_is_pinned_exactly():
    lines = [l.split("#", 1)[0].strip() for l in (REPO / "requirements.txt").read_text().splitlines()]
    unpinned = [l for l in lines if l and "==" not in l]
    assert not unpinned, f"pin these with ==: {unpinned}"


def test_environment_yml_lists_the_same_packages_and_versions():
    import yaml

    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == requirement_pins()
    assert "python=3.11" in env["dependencies"]


def test_lock_file_agrees_with_the_pins():
    lock = _pins((REPO / "requirements.lock").read_text().splitlines())
    for name, version in requirement_pins().items():
        assert lock.get(name) == version, f"{name}: requirements.txt {version}, lock {lock.get(name)}"


@pytest.mark.parametrize("name,version", sorted(requirement_pins().items()))
def test_installed_version_is_the_pinned_one(name, version):
    assert metadata.version(name) == version


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"^\s*(bash \S+\.sh)\s*$", readme, flags=re.M)
    assert commands[:2] == ["bash main.sh", "bash test.sh"], "README must open with the two commands"
    assert "bash test.sh" in (REPO / ".ci/run").read_text()


def test_generated_material_is_ignored_by_git():
    ignored = (REPO / ".gitignore").read_text().split()
    for entry in ("/.venv/", "/work/", "__pycache__/"):
        assert entry in ignored


def test_generated_notebooks_agree_with_their_sources():
    from course import nbsource

    assert nbsource.stale() == [], "run: python -m course.nbsource"
