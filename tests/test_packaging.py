"""Installed, alertflow is one namespace: nothing generic lands at the top of site-packages."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = out.glob("alertflow-*.whl")
    return built


def test_the_wheel_holds_only_the_alertflow_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"alertflow"}
    for package in ("schemas", "operators", "operators/anomaly", "dataflows"):
        assert f"alertflow/{package}/__init__.py" in names
    assert "alertflow/schemas/jsonschema/incidents.schema.json" in names
    assert "alertflow/schemas/jsonschema/predictions.schema.json" in names
    assert "alertflow/operators/prediction/catalogue.yaml" in names  # package data
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "alertflow = alertflow.dataflows.cli:main" in text


def test_every_package_folder_is_in_the_wheel(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for init in REPO.glob("*/**/__init__.py"):
        folder = init.parent.relative_to(REPO)
        if folder.parts[0] in ("schemas", "operators", "dataflows", "store", "api"):
            assert f"alertflow/{folder.as_posix()}/__init__.py" in names, folder


def test_it_works_beside_another_distributions_schemas_package(wheel, tmp_path):
    """The collision the old layout had: a site with its own top-level ``schemas``."""
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    other = tmp_path / "other"
    (other / "schemas").mkdir(parents=True)
    (other / "schemas" / "__init__.py").write_text("OTHER = True\n")
    code = ("import schemas; assert schemas.OTHER\n"
            "import alertflow.schemas.config, alertflow.dataflows.cli as cli\n"
            "assert 'site' in cli.__file__, cli.__file__\n"
            "raise SystemExit(cli.main(['--version']))\n")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": f"{unpacked}:{other}", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("alertflow ")
