"""Safe defaults: exports sit beside the instance's DuckDB file unless MKAILIN_EXPORT_DIR says
otherwise, and ./scripts/dev.sh reads NLM's live servers only when asked to (--nlm)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from mkailin_assets import settings
from mkailin_assets.settings import REPO_ROOT


def test_exports_default_to_the_instance_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MKAILIN_DUCKDB_PATH", str(tmp_path / "instance" / "mkailin.duckdb"))
    monkeypatch.delenv("MKAILIN_EXPORT_DIR", raising=False)
    expected = (tmp_path / "instance" / "exports").resolve()
    assert settings.get_settings().export_dir == expected
    monkeypatch.setenv("MKAILIN_EXPORT_DIR", str(tmp_path / "elsewhere"))
    assert settings.get_settings().export_dir == tmp_path / "elsewhere"


def _fake_venv(root: Path) -> Path:
    """A venv whose python is this one and whose dagster prints the sources it was given."""
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "dagster").write_text(
        '#!/bin/sh\necho "PUBMED=$MKAILIN_PUBMED_SOURCE"\necho "MESH=$MKAILIN_MESH_SOURCE"\n'
    )
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    sources = (REPO_ROOT / "pyproject.toml").read_bytes() + b"".join(
        path.read_bytes() for path in sorted((REPO_ROOT / "mkailin_assets" / "ingest").glob("*.c"))
    )
    (root / f".mkailin-install-{hashlib.sha256(sources).hexdigest()[:16]}-").touch()
    return root


def _dev_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MKAILIN_")}
    env.update(MKAILIN_VENV=str(_fake_venv(tmp_path / "venv")), DAGSTER_HOME=str(tmp_path / "h"))
    return subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "dev.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _dev(tmp_path: Path, *args: str) -> str:
    done = _dev_run(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_dev_script_uses_the_sample_unless_nlm_is_asked_for(tmp_path):
    sample = _dev(tmp_path / "a")
    assert f"PUBMED={settings.SAMPLE_PUBMED_SOURCE}" in sample
    assert f"MESH={settings.SAMPLE_MESH_SOURCE}" in sample
    live = _dev_run(tmp_path / "b", "--nlm")
    assert "NLM's live" in live.stdout
    if live.returncode == 0:  # NLM reachable: dagster gets no source, the defaults are NLM's
        assert "PUBMED=\n" in live.stdout
    else:  # offline (CI): the settings check says so before anything starts, naming the URL
        assert live.returncode == 2, live.stderr
        said = live.stdout + live.stderr
        assert "MKAILIN_PUBMED_SOURCE='https://ftp.ncbi.nlm.nih.gov/pubmed/'" in said
        assert "cannot reach it" in said and "PUBMED=" not in live.stdout
