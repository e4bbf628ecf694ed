"""The benchmarks' Node-server locator (issue 16): right package, right entry point, honest skips.

An earlier version installed the wrong npm name (a 404, so Node rows were silently absent) and
would have started the first file in ``node_modules/.bin`` (a dependency's CLI). These tests use a
fake install in a temp dir; they never run npm or touch the network.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.bench import bench_mcp_startup as bench


def fake_install(root: Path, *, version: str = "1.9.0", source: str = "") -> Path:
    """A minimal installed package with a decoy CLI that sorts before the real bin."""
    pkg = root / "node_modules" / "@stabgan" / "openrouter-mcp-multimodal"
    (pkg / "dist").mkdir(parents=True)
    (pkg / "dist" / "index.js").write_text(source or "const k = process.env.OPENROUTER_API_KEY;\n")
    (pkg / "package.json").write_text(
        json.dumps(
            {
                "name": bench.NODE_PKG,
                "version": version,
                "bin": {"openrouter-multimodal": "dist/index.js"},
            }
        )
    )
    (root / "node_modules" / ".bin").mkdir()
    (root / "node_modules" / ".bin" / "node-which").write_text("decoy")
    return pkg


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "node_cache_dir", lambda: tmp_path)
    monkeypatch.setattr(bench.shutil, "which", lambda name: f"/usr/bin/{name}")
    return tmp_path


def no_npm(*args, **kwargs):
    raise AssertionError("npm must not run when the install is cached")


def test_a_cached_install_starts_the_packages_own_bin_with_node(cache, monkeypatch):
    pkg = fake_install(cache)
    monkeypatch.setattr(bench.subprocess, "run", no_npm)
    node = bench.node_server()
    assert node is not None
    assert node.cmd == ["/usr/bin/node", str(pkg / "dist" / "index.js")]
    assert node.version == "1.9.0"
    assert node.base_url_env is None  # 1.9.0 hard-codes the upstream URL
    assert "1.9.0" in node.label() and bench.NODE_REPO_VERSION in node.label()


def test_a_version_that_reads_a_base_url_env_var_is_recognised(cache, monkeypatch):
    fake_install(cache, version="5.0.1", source="const u = process.env.OPENROUTER_BASE_URL;\n")
    monkeypatch.setattr(bench.subprocess, "run", no_npm)
    node = bench.node_server()
    assert node is not None and node.base_url_env == "OPENROUTER_BASE_URL"


def test_the_scoped_package_is_what_npm_installs(cache, monkeypatch):
    seen: list[list[str]] = []

    def npm(cmd, **kwargs):
        seen.append(cmd)
        fake_install(cache)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(bench.subprocess, "run", npm)
    assert bench.node_server() is not None
    assert len(seen) == 1 and seen[0][-1] == "@stabgan/openrouter-mcp-multimodal"
    assert seen[0][seen[0].index("--prefix") + 1] == str(cache)


def test_a_failed_install_skips_with_a_message(cache, monkeypatch, capsys):
    def npm(cmd, **kwargs):
        raise subprocess.CalledProcessError(1, cmd)

    monkeypatch.setattr(bench.subprocess, "run", npm)
    assert bench.node_server("startup") is None
    assert "Node comparison skipped" in capsys.readouterr().out


def test_no_npm_skips_with_a_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "node_cache_dir", lambda: tmp_path)
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    assert bench.node_server() is None
    assert "node/npm not installed" in capsys.readouterr().out


def test_a_package_without_an_entry_point_skips(cache, monkeypatch, capsys):
    pkg = fake_install(cache)
    (pkg / "package.json").write_text(json.dumps({"name": bench.NODE_PKG, "version": "9"}))
    monkeypatch.setattr(bench.subprocess, "run", no_npm)
    assert bench.node_server() is None
    assert "names no entry point" in capsys.readouterr().out


def test_the_cache_is_outside_the_repo():
    assert bench.REPO not in bench.node_cache_dir().parents
