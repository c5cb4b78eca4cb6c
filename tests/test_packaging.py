"""The package as a user installs it: every sub-package listed, the CLI cheap to start."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "edgekit").rglob("__init__.py")
    }
    missing = on_disk - listed
    assert not missing, f"add these packages to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def test_cli_does_not_import_tensorflow() -> None:
    code = (
        "import sys, edgekit.cli.main\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing the CLI pulled in: {out.stdout.strip()}"


def test_shipped_profiles_are_package_data() -> None:
    from importlib import resources

    names = {e.name for e in resources.files("edgekit.device_profiles").iterdir()}
    assert "host.toml" in names
    runner = resources.files("edgekit.android_bench")
    assert any(e.name.endswith(".py") and e.name != "__init__.py" for e in runner.iterdir())


def test_public_api_names_resolve() -> None:
    import edgekit

    for name in edgekit.__all__:
        if name == "__version__":
            continue
        assert getattr(edgekit, name) is not None, name

