"""scripts/device_kit.py: the GPU kits' wheels, from pyproject.toml and the wheels' METADATA, less the image.

The hand-written lists it replaces missed importlib_resources (pretty_midi's), mir_eval, pyloudnorm,
python-osc and mido, and the device's corpus build died on `import pretty_midi`. No network here: downloads
are copies from a folder of tiny fake wheels.
"""

import importlib.util
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def kit():
    spec = importlib.util.spec_from_file_location("device_kit", ROOT / "scripts" / "device_kit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_wheel(folder: Path, name: str, version: str, requires=()) -> Path:
    """A .whl holding only its METADATA."""
    dist = f"{name.replace('-', '_')}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    meta = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{dist}.dist-info/METADATA", "\n".join(meta) + "\n\nA fake.\n")
        z.writestr(f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return path


@pytest.fixture
def index(tmp_path):
    """A fake package index (one wheel per package) and a download that copies from it, recording the pins."""
    idx = tmp_path / "index"
    idx.mkdir()
    fake_wheel(idx, "app-lib", "1.0", ["Helper_Pkg>=2", "numpy", "py2only; python_version < '3'"])
    fake_wheel(idx, "helper-pkg", "2.1", ["leaf", "win; sys_platform == 'win32'", "doc; extra == 'docs'"])
    fake_wheel(idx, "leaf", "0.3", ["backport; python_version < '3.13'", "new-std; python_version >= '3.13'"])
    fake_wheel(idx, "backport", "1.1")
    fake_wheel(idx, "python_osc", "1.10.2")
    calls = []

    def download(pins, dest):
        calls.append(sorted(pins))
        for pin in pins:
            name = Requirement(pin).name.lower().replace("_", "-")
            (match,) = [w for w in idx.iterdir() if w.name.split("-")[0].lower().replace("_", "-") == name]
            shutil.copy(match, dest)

    return download, calls


def test_names_are_normalised_and_the_image_list_is_read(kit, tmp_path):
    assert {kit.normalize(n) for n in ("python-osc", "python_osc", "Python.OSC")} == {"python-osc"}
    f = tmp_path / "image.txt"
    f.write_text("# from KINDS.md\nPython_OSC\n\ntyping-extensions  # a comment\n")
    assert kit.read_image_packages(f) == {"python-osc", "typing-extensions"}
    image = kit.read_image_packages()  # the checked-in list
    assert {"torch", "numpy", "scipy", "lazy-loader", "typing-extensions"} <= image
    assert not {"importlib-resources", "pretty-midi", "mir-eval", "mido"} & image


def test_markers_are_evaluated_for_cpython_312_on_linux(kit):
    def applies(line):
        return kit.applies(Requirement(line))

    assert applies("a") and applies("a; python_version >= '3.10'") and applies("a; sys_platform == 'linux'")
    assert applies("zipp>=3.1; python_version < '3.13'") and applies("a; platform_machine == 'x86_64'")
    assert not applies("standard-aifc; python_version >= '3.13'")
    assert not applies("importlib-metadata; python_version < '3.8'")
    assert not applies("pywin32; sys_platform == 'win32'")
    assert not applies('pytest; extra == "tests"')
    assert not applies('pytest-ruff; sys_platform != "cygwin" and extra == "check"')


def test_requirements_from_pyproject_with_extras(kit, tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text(
        '[project]\nname = "my-app"\ndependencies = ["torch>=2", "python-osc>=1.8"]\n'
        '[project.optional-dependencies]\ndata = ["pretty_midi>=0.2"]\ntext = ["enc"]\n'
        'dev = ["my_app[data]", "pytest"]\n'
    )
    names = lambda reqs: [r.name for r in reqs]  # noqa: E731
    assert names(kit.project_requirements(p)) == ["torch", "python-osc"]
    assert names(kit.project_requirements(p, ["data"])) == ["torch", "python-osc", "pretty_midi"]
    assert names(kit.project_requirements(p, ["dev"])) == ["torch", "python-osc", "pytest", "pretty_midi"]
    with pytest.raises(SystemExit, match="no extra 'gpu2'"):
        kit.project_requirements(p, ["gpu2"])


def test_the_closure_follows_the_wheels_requirements_less_the_image(kit, tmp_path, index):
    download, calls = index
    dest = tmp_path / "kit"
    dest.mkdir()
    reqs = [Requirement("app-lib>=1"), Requirement("Python-OSC"), Requirement("torch>=2")]
    image = frozenset({"torch", "numpy"})
    packages, missing = kit.close(reqs, image, dest, download)
    assert missing == []
    assert {n: v for n, (v, _, _) in packages.items()} == {
        "app-lib": "1.0", "helper-pkg": "2.1", "leaf": "0.3", "backport": "1.1", "python-osc": "1.10.2",
    }  # fmt: skip
    # one wheel each; nothing of the image, nothing for another platform or an extra
    wheels = sorted(p.name.split("-")[0] for p in dest.iterdir())
    assert wheels == ["app_lib", "backport", "helper_pkg", "leaf", "python_osc"]
    assert len(calls) == 4  # one download per round: the requirements, then each new level
    # the check finds the same closure in the kit without downloading, and names what a kit lacks
    assert kit.close(reqs, image, dest, None) == (packages, [])
    next(dest.glob("leaf-*")).unlink()
    assert kit.close(reqs, image, dest, None)[1] == ["leaf"]


def test_pins_are_the_versions_installed_here(kit):
    import importlib.metadata

    assert kit.pin(Requirement("packaging>=1")) == f"packaging=={importlib.metadata.version('packaging')}"
    assert kit.pin(Requirement("surely-not-installed-pkg>=1.2")) == "surely-not-installed-pkg>=1.2"


def test_a_package_carried_as_an_installed_tree_counts(kit, tmp_path):
    """train_gpu.sh replaces music21's wheel by a trimmed install in a .tar.xz; its dist-info counts."""
    site = tmp_path / "site"
    (site / "big-1.0.dist-info").mkdir(parents=True)
    (site / "big-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: Big\nVersion: 1.0\n")
    (tmp_path / "kit" / "wheels").mkdir(parents=True)
    with tarfile.open(tmp_path / "kit" / "big-site.tar.xz", "w:xz") as tar:
        tar.add(site / "big-1.0.dist-info", arcname="big-1.0.dist-info")
    fake_wheel(tmp_path / "kit" / "wheels", "big", "2.0")
    with pytest.raises(SystemExit, match="two versions of big"):
        kit.kit_packages(tmp_path / "kit")
    next((tmp_path / "kit" / "wheels").glob("big-*")).unlink()
    assert kit.close([Requirement("big")], frozenset(), tmp_path / "kit", None)[1] == []


def test_the_project_needs_what_the_old_hand_lists_missed(kit, tmp_path):
    """The closure of pyproject.toml's run-time requirements over the wheels installed here (their METADATA,
    as the device's wheels carry it), less the image: the old lists lacked importlib_resources, mir_eval,
    pyloudnorm, python-osc and mido."""
    import importlib.metadata

    def installed_wheel(pins, dest):  # a "download" of what is installed here, with its real Requires-Dist
        for pin in pins:
            dist = importlib.metadata.distribution(Requirement(pin).name)
            fake_wheel(dest, dist.metadata["Name"], dist.version, dist.requires or [])

    image = kit.read_image_packages()
    data = {"pretty-midi", "importlib-resources", "music21", "pyfluidsynth"}
    for extras, also in (((), set()), (("data",), data)):
        dest = tmp_path / "-".join(extras or ["core"])
        dest.mkdir()
        reqs = kit.project_requirements(ROOT / "pyproject.toml", extras)
        packages, missing = kit.close(reqs, image, dest, installed_wheel)
        assert missing == []
        core = {"mir-eval", "pyloudnorm", "python-osc", "mido", "librosa", "soundfile", "soxr"}
        assert core | also <= set(packages)
        assert not {"torch", "numpy", "scipy", "ditto-live"} & set(packages)
        assert not image & set(packages)
