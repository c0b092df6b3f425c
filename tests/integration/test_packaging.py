"""The SQL ships with the package: a wheel, installed into a fresh virtual environment, applies
its schema to a new DuckDB file and reads its analysis SQL, without the repository.

The fresh environment has only the wheel in its site-packages, plus a .pth line that appends this
environment's site-packages for the dependencies (dagster, duckdb, ...). A directory added by a
.pth line has its own .pth files ignored, so the editable install of this repository cannot
answer the import: the test checks where mkailin_assets came from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from mkailin_assets.settings import REPO_ROOT

pytestmark = pytest.mark.slow

SOURCES = ("mkailin_assets", "sql", "pyproject.toml", "README.md")

CHECK = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import mkailin_assets
    from mkailin_assets.db import apply_analysis_views, apply_schema, open_connection
    from mkailin_assets.sql_files import analysis_files, analysis_sql, schema_files

    site, repo, db = map(Path, sys.argv[1:4])
    origin = Path(mkailin_assets.__file__).resolve()
    assert origin.is_relative_to(site.resolve()), origin
    assert not origin.is_relative_to(repo.resolve()), origin
    print("schema", *[f.name for f in schema_files()])
    print("analysis", *[f.name for f in analysis_files()])
    print("demo_summary", len(analysis_sql("demo_summary.sql")))
    con = open_connection(db)
    version = apply_schema(con)
    views = apply_analysis_views(con)
    tables = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY 1"
    ).fetchall()
    print("version", version, "views", views)
    print("tables", *[t[0] for t in tables])
    """
)


def _run(python: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(
        [str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(python of a fresh venv holding only the wheel, its site-packages)."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"  # a copy, so the build leaves nothing in the repository
    source.mkdir()
    for name in SOURCES:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(
                REPO_ROOT / name,
                source / name,
                symlinks=True,  # mkailin_assets/sql stays the link it is in the repository
                ignore=shutil.ignore_patterns("__pycache__", "*.so"),
            )
        else:
            shutil.copy2(REPO_ROOT / name, source / name)
    wheels = root / "wheels"
    build = _run(
        Path(sys.executable),
        ["-m", "pip", "wheel", str(source), "--no-deps", "--quiet", "-w", str(wheels)],
        cwd=root,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("mkailin-*.whl")

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        _run(
            python, ["-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], root
        ).stdout.strip()
    )
    install = _run(
        Path(sys.executable),
        ["-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
        cwd=root,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    # The dependencies, after the wheel's directory (this environment's site-packages).
    (site / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python, site


def test_the_wheel_carries_the_schema_and_the_analysis_sql(installed, tmp_path) -> None:
    python, site = installed
    run = _run(
        python, ["-c", CHECK, str(site), str(REPO_ROOT), str(tmp_path / "fresh.duckdb")], tmp_path
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = {line.split()[0]: line.split()[1:] for line in run.stdout.splitlines()}
    repo_schema = sorted(p.name for p in (REPO_ROOT / "sql" / "schema").glob("*.sql"))
    repo_views = sorted(p.name for p in (REPO_ROOT / "sql" / "analysis").glob("[0-9]*.sql"))
    assert lines["schema"] == repo_schema
    assert lines["analysis"] == repo_views
    demo_summary = (REPO_ROOT / "sql" / "analysis" / "demo_summary.sql").read_text()
    assert lines["demo_summary"] == [str(len(demo_summary))]
    assert lines["version"] == [
        repo_schema[-1].split("_")[0].lstrip("0"),
        "views",
        str(len(repo_views)),
    ]
    tables = set(lines["tables"])
    for table in (
        "citations",
        "pubmed_files",
        "llm_calls",
        "raw_abstracts",
        "candidate_qa",
        "evaluated_qa",
        "training_set",
        "mesh_descriptors",
        "schema_version",
    ):
        assert table in tables, table


def test_apply_schema_fails_loudly_without_its_files(installed, tmp_path) -> None:
    python, site = installed
    broken = tmp_path / "site"  # a copy of the install with the schema files removed
    shutil.copytree(site, broken, symlinks=True)
    shutil.rmtree(broken / "mkailin_assets" / "sql" / "schema")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from mkailin_assets.db import apply_schema, open_connection; "
        "apply_schema(open_connection(sys.argv[2]))"
    )
    run = _run(python, ["-c", code, str(broken), str(tmp_path / "empty.duckdb")], tmp_path)
    assert run.returncode != 0
    assert "SQLFilesMissing: no schema files" in run.stderr
