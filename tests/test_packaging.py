"""The wheel holds the whole library: every module of fcdata/, cli/ (as fcdata.cli) and the schema files.

Guards the three silent packaging failures of a `package-dir` mapping: a wheel without the library, a
subpackage silently dropped from the `packages` list, and cli/ shipped as a top-level `cli` module.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def expected_files() -> set[str]:
    files = {f"fcdata/{p.relative_to(ROOT / 'fcdata').as_posix()}" for p in (ROOT / "fcdata").rglob("*.py")}
    files |= {f"fcdata/cli/{p.relative_to(ROOT / 'cli').as_posix()}" for p in (ROOT / "cli").rglob("*.py")}
    files |= {f"fcdata/schemas/{p.name}" for p in (ROOT / "schemas").glob("*")if p.suffix in (".py", ".json")}
    files.add("fcdata/py.typed")
    return files


def test_packages_list_names_every_subpackage() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {"fcdata." + ".".join(p.parent.relative_to(ROOT / "fcdata").parts) if p.parent != ROOT / "fcdata" else "fcdata" for p in (ROOT / "fcdata").rglob("__init__.py")}
    on_disk |= {"fcdata.cli", "fcdata.schemas"}
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    for d in (ROOT / "fcdata").rglob("*"):
        if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py")):
            assert (d / "__init__.py").exists(), f"{d} has modules but no __init__.py"


def test_wheel_contents(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("fcdata-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = expected_files() - names
    assert not missing, f"missing from the wheel: {sorted(missing)}"
    assert not any(n.startswith("cli/") for n in names), "cli/ must ship as fcdata.cli, not as a top-level package"
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "fcdata = fcdata.cli.main:cli" in zipfile.ZipFile(wheel).read(entry).decode()


def test_lazy_names_of_a_fresh_import() -> None:
    """After a plain `import fcdata` (nothing else imported first), `fcdata.score` and `fcdata.render`
    are the callable packages: docs/scoring.md's `fcdata.score.score_bfcl(...)` used to fail with
    AttributeError because the lazy loader cached the *function* under the package's name."""
    import subprocess
    import sys

    code = (
        "import fcdata, sys\n"
        "assert callable(fcdata.score) and fcdata.score.score_bfcl and fcdata.score.parse_reply\n"
        "assert callable(fcdata.render) and fcdata.render.render_prompt\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
