#!/usr/bin/env python3
"""The wheels a run on the lent GPU machine needs and its image lacks: the one home of the device kits' lists.

    scripts/device_kit.py DIR [--extra data]        HERE, with network: download them into DIR
    scripts/device_kit.py --check DIR [--extra data]  every package the run needs is in DIR (no network)

What a run needs: pyproject.toml's [project] dependencies and the extras asked for, then, read from each
wheel's METADATA, the requirements that apply on the device (CPython 3.12, Linux x86_64), until closed;
less the packages the device image has (scripts/device_image_packages.txt) and the project itself (installed
from the working tree). A package installed here is pinned to the version installed here, so the device runs
what CI tests. A package may also travel as an installed tree in a DIR/*.tar.xz (its *.dist-info/METADATA
there counts, as train_gpu.sh does for music21, whose corpus it trims).
"""

from __future__ import annotations

import argparse
import email.parser
import importlib.metadata
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
IMAGE_PACKAGES = Path(__file__).resolve().parent / "device_image_packages.txt"

# The device's interpreter and platform, for the requirements' environment markers (`extra` empty: a
# requirement that only an extra asks for does not apply).
DEVICE_ENV = {
    "implementation_name": "cpython",
    "implementation_version": "3.12.0",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": "3.12.0",
    "python_version": "3.12",
    "sys_platform": "linux",
    "extra": "",
}

PIP_DOWNLOAD = [
    *("-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"),
    *("--python-version", "3.12", "--implementation", "cp"),
    *("--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_27_x86_64"),
    *("--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64"),
    *("--platform", "manylinux1_x86_64"),
]


def normalize(name: str) -> str:
    """PEP 503 name: python-osc, python_osc and Python.OSC are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_image_packages(path: Path = IMAGE_PACKAGES) -> frozenset[str]:
    """The normalised names in the image's list (one a line, # comments)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(normalize(line) for line in lines if line)


def applies(req: Requirement, env: dict[str, str] = DEVICE_ENV) -> bool:
    """Whether a requirement holds on the device (its marker, if any, true there with no extra asked)."""
    return req.marker is None or req.marker.evaluate(env)


def project_requirements(pyproject: Path, extras: Iterable[str] = ()) -> list[Requirement]:
    """[project] dependencies plus those of the extras (an extra naming the project itself is expanded)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    self_name, optional = normalize(project["name"]), project.get("optional-dependencies", {})
    out: list[Requirement] = []
    todo, seen = [None, *extras], set()
    while todo:
        extra = todo.pop(0)
        if extra in seen:
            continue
        seen.add(extra)
        if extra is not None and extra not in optional:
            raise SystemExit(f"{pyproject}: no extra {extra!r} (known: {', '.join(optional)})")
        for line in project["dependencies"] if extra is None else optional[extra]:
            req = Requirement(line)
            if normalize(req.name) == self_name:
                todo.extend(sorted(req.extras))
            else:
                out.append(req)
    return out


def kit_packages(folder: Path) -> dict[str, tuple[str, Path, list[Requirement]]]:
    """What the kit holds: normalised name -> (version, file, Requires-Dist), from each wheel's METADATA and
    each *.tar.xz's *.dist-info/METADATA. Two versions of one package are an error."""
    found: dict[str, tuple[str, Path, list[Requirement]]] = {}

    def add(text: str, path: Path) -> None:
        meta = email.parser.HeaderParser().parsestr(text)
        name, version = normalize(meta["Name"]), meta["Version"]
        if name in found and found[name][0] != version:
            raise SystemExit(f"{folder}: two versions of {name}: {found[name][1].name} and {path.name}")
        found[name] = (version, path, [Requirement(r) for r in meta.get_all("Requires-Dist") or []])

    for path in sorted(folder.rglob("*.whl")):
        with zipfile.ZipFile(path) as whl:
            metas = [n for n in whl.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
            if len(metas) != 1:
                raise SystemExit(f"{path}: not one *.dist-info/METADATA in the wheel")
            add(whl.read(metas[0]).decode("utf-8"), path)
    for path in sorted(folder.rglob("*.tar.xz")):
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                if re.fullmatch(r"(.*/)?[^/]+\.dist-info/METADATA", member.name):
                    add(tar.extractfile(member).read().decode("utf-8"), path)
    return found


def pin(req: Requirement) -> str:
    """What to download: the version installed here where there is one, else the requirement's own range."""
    try:
        version = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        return f"{req.name}{req.specifier}"
    if req.specifier and not req.specifier.contains(version, prereleases=True):
        print(f"device_kit: note: {req.name} {version} installed here is outside {req}", file=sys.stderr)
    return f"{req.name}=={version}"


def pip_download(pins: list[str], folder: Path) -> None:
    """The device's wheels for pins into folder (network)."""
    subprocess.run([sys.executable, *PIP_DOWNLOAD, "-d", str(folder), *pins], check=True)


def close(
    reqs: Iterable[Requirement],
    image: frozenset[str],
    folder: Path,
    download: Callable[[list[str], Path], None] | None = pip_download,
) -> tuple[dict[str, tuple[str, Path, list[Requirement]]], list[str]]:
    """The kit in folder closed over the requirements that apply on the device, less the image's packages:
    what is needed and not in folder is downloaded (with `download`; None: nothing is, as for --check),
    then the new wheels' requirements are followed, until nothing is missing.

    Returns the kit's packages that the closure needs and the names still missing (a package in the kit
    that nothing needs is left out of the first and reported by the caller).
    """
    todo = [r for r in reqs if applies(r)]
    needed: dict[str, Requirement] = {}
    kit = kit_packages(folder)  # read again only after a download changed the folder
    while True:
        new = {}
        for req in todo:
            name = normalize(req.name)
            if name not in image and name not in needed:
                new.setdefault(name, req)
        if not new:
            break
        needed.update(new)
        missing = [name for name in new if name not in kit]
        if missing and download is not None:
            download([pin(new[n]) for n in missing], folder)
            kit = kit_packages(folder)
        todo = [r for name in new if name in kit for r in kit[name][2] if applies(r)]
    return {n: kit[n] for n in sorted(needed) if n in kit}, sorted(n for n in needed if n not in kit)


def summary(packages: dict[str, tuple[str, Path, list[Requirement]]], folder: Path) -> str:
    files = {p for _, p, _ in packages.values()} | set(folder.rglob("*.whl")) | set(folder.rglob("*.tar.xz"))
    mb = sum(f.stat().st_size for f in files) / 1e6
    names = ", ".join(f"{n} {v}" for n, (v, _, _) in sorted(packages.items()))
    return f"{len(packages)} packages, {len(files)} files, {mb:.1f} MB in {folder}: {names}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", type=Path, help="the kit's folder")
    ap.add_argument("--extra", action="append", default=[], help="an extra of pyproject.toml the run needs")
    ap.add_argument("--check", action="store_true", help="download nothing; fail when a package is missing")
    args = ap.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    reqs = project_requirements(ROOT / "pyproject.toml", args.extra)
    image = read_image_packages()
    packages, missing = close(reqs, image, args.dir, None if args.check else pip_download)
    extra = sorted(set(kit_packages(args.dir)) - set(packages))
    print(summary(packages, args.dir))
    if extra:
        print(f"device_kit: in {args.dir} but needed by nothing: {', '.join(extra)}", file=sys.stderr)
    if missing:
        print(f"device_kit: {args.dir} lacks {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
