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
    from tools import nbsource

    assert nbsource.stale() == [], "run: python -m tools.nbsource"


# -- the course kernel -------------------------------------------------------------------------------

def _notebooks():
    from tools import nbsource

    return [source.with_suffix(".ipynb") for source in nbsource.sources()]


def test_every_notebook_names_the_course_kernel_and_setup_registers_it():
    import json

    from jupyter_client.kernelspec import KernelSpecManager

    from course.runtime import KERNEL_SPEC

    names = {path.name: json.loads(path.read_text())["metadata"]["kernelspec"] for path in _notebooks()}
    assert len(names) == 16 and all(spec == KERNEL_SPEC for spec in names.values()), names
    registered = KernelSpecManager().get_kernel_spec(KERNEL_SPEC["name"])  # by scripts/setup.sh, which test.sh runs
    assert registered.display_name == KERNEL_SPEC["display_name"]
    assert Path(registered.argv[0]).resolve() == (REPO / ".venv" / "bin" / "python").resolve()


def test_under_a_kernel_without_the_package_the_first_cell_says_how_to_get_it(tmp_path):
    """A real kernel whose Python cannot import `course` runs each notebook's first code cell."""
    import json
    import sys

    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    from course.runtime import KERNEL_HINT

    spec = tmp_path / "kernels" / "no-course"
    spec.mkdir(parents=True)
    blocked = "import sys; sys.modules['course'] = None; from ipykernel import kernelapp; kernelapp.launch_new_instance()"
    spec.joinpath("kernel.json").write_text(json.dumps(
        {"argv": [sys.executable, "-c", blocked, "-f", "{connection_file}"], "display_name": "no course",
         "language": "python"}))
    km = KernelManager(kernel_name="no-course",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]))
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        for path in _notebooks():
            first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
            errors = []
            reply = kc.execute_interactive(first.source, timeout=60, output_hook=lambda m: errors.append(
                m["content"]) if m["msg_type"] == "error" else None)
            assert reply["content"]["status"] == "error", path.name
            assert [(e["ename"], e["evalue"]) for e in errors] == [("ModuleNotFoundError", KERNEL_HINT)], path.name
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
