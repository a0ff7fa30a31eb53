"""`make test` does the set-up on a fresh machine (issue 34): it runs scripts/install_system_deps.sh first, and
the type checker; the script installs only what is missing, and without apt it stops with one line naming what
is missing and how to get it.

The script runs here against a PATH of stand-ins (fake dpkg / apt-get / sudo that record their calls), so no
system package is installed or removed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "install_system_deps.sh"
TOOLS = ("bash", "env", "id", "printf", "cat")  # what the script itself runs besides the package tools

pytestmark = pytest.mark.skipif(shutil.which("make") is None or shutil.which("bash") is None,
                                reason="needs make and bash")


def test_make_test_runs_the_system_deps_script_first_and_the_type_checker():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}  # under make test
    out = subprocess.run(["make", "-n", "--no-print-directory", "test"], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if "scripts/install_system_deps.sh" in line)
    assert first == 0, out  # before pip, ruff, mypy and pytest
    assert any("scripts/typecheck.py" in line for line in lines) and any("pytest" in line for line in lines), out
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _bin(tmp_path: Path, fakes: dict[str, str]) -> Path:
    """A folder to be the whole PATH: the few real tools the script uses, and fake ones that log their calls."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in TOOLS:
        os.symlink(shutil.which(tool), folder / tool)
    for name, body in fakes.items():
        fake = folder / name
        fake.write_text(f'#!{shutil.which("bash")}\necho "{name} $*" >> "{tmp_path}/calls"\n{body}\n')
        fake.chmod(0o755)
    return folder


INSTALLED = "Status: install ok installed"  # what dpkg -s says of an installed package


def _run(tmp_path: Path, fakes: dict[str, str]) -> subprocess.CompletedProcess:
    path = _bin(tmp_path, fakes)
    return subprocess.run([str(path / "bash"), str(SCRIPT)], env={"PATH": str(path)}, capture_output=True,
                          text=True, timeout=60)


def _calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls"
    return log.read_text().splitlines() if log.exists() else []


def test_without_apt_it_stops_with_one_line_naming_what_is_missing_and_how_to_get_it(tmp_path):
    done = _run(tmp_path, {})  # no apt-get, no dpkg, none of the tools
    assert done.returncode != 0
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    for needed in ("JACK", "FluidSynth", "liblo", "Node.js", "brew install", "winget install"):
        assert needed in lines[0], needed


def test_without_apt_but_with_every_tool_it_passes(tmp_path):
    done = _run(tmp_path, {tool: "exit 0" for tool in ("jackd", "fluidsynth", "oscsend", "node")})
    assert done.returncode == 0 and "present" in done.stdout


def test_with_apt_and_every_package_present_it_installs_nothing(tmp_path):
    done = _run(tmp_path, {"dpkg": f"echo '{INSTALLED}'", "apt-get": "exit 0", "sudo": '"$@"'})
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and "present" in done.stdout
    assert not any(c.startswith(("apt-get", "sudo")) for c in _calls(tmp_path))


def test_with_apt_it_installs_only_the_missing_packages_and_says_so_in_one_line(tmp_path):
    fakes = {"dpkg": f'[ "$2" != nodejs ] && [ "$2" != liblo-tools ] && echo "{INSTALLED}"', "apt-get": "exit 0",
             "sudo": '"$@"', "debconf-set-selections": "cat > /dev/null"}
    done = _run(tmp_path, fakes)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and "liblo-tools nodejs" in done.stdout and "Node.js" in done.stdout
    installs = [c for c in _calls(tmp_path) if c.startswith("apt-get") and "install" in c.split()]
    assert len(installs) == 1 and installs[0].endswith("liblo-tools nodejs"), installs
    assert any(c.startswith("sudo") for c in _calls(tmp_path)) == (os.getuid() != 0)  # sudo only when not root


def test_a_removed_package_that_kept_its_config_files_is_installed_again(tmp_path):
    """`apt-get remove` leaves "deinstall ok config-files": dpkg still knows the package, nothing is installed."""
    fakes = {"dpkg": f'if [ "$2" = jackd2 ]; then echo "Status: deinstall ok config-files"; else echo "{INSTALLED}"; fi',
             "apt-get": "exit 0", "sudo": '"$@"', "debconf-set-selections": "cat > /dev/null"}
    done = _run(tmp_path, fakes)
    assert done.returncode == 0, done.stderr
    installs = [c for c in _calls(tmp_path) if c.startswith("apt-get") and "install" in c.split()]
    assert len(installs) == 1 and installs[0].endswith("install -y -qq --no-install-recommends jackd2"), installs
