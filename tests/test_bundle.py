"""The bundle: manifests it cannot read, atomic artifact writes, hash checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeres.bundle import MANIFEST, Bundle, create_bundle, sha256_file, write_atomic
from edgeres.errors import BundleError


def make_bundle(root: Path) -> Bundle:
    with create_bundle(root) as bundle:
        (bundle.root / "model.onnx").write_bytes(b"graph")
        bundle.manifest["artifacts"] = {"model.onnx": {"file": "model.onnx", "sha256": sha256_file(bundle.root / "model.onnx"), "format": "onnx"}}
    return Bundle.open(root)


def test_unreadable_manifests(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="is not a bundle directory"):
        Bundle.open(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="has no edgeres.json"):
        Bundle.open(tmp_path / "empty")
    bundle = make_bundle(tmp_path / "b")
    (bundle.root / MANIFEST).write_text("{ not json")
    with pytest.raises(BundleError, match="cannot read .*edgeres.json"):
        Bundle.open(bundle.root)
    (bundle.root / MANIFEST).write_text(json.dumps({"schema": "edgeres.bundle", "schema_version": 99}))
    with pytest.raises(BundleError, match="schema version 99; this edgeres reads up to 1. Upgrade edgeres"):
        Bundle.open(bundle.root)
    (bundle.root / MANIFEST).write_text(json.dumps({"name": "something else"}))
    with pytest.raises(BundleError, match="not an edgeres manifest"):
        Bundle.open(bundle.root)


def test_add_artifact_is_hashed_and_refuses_overwrite(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b")
    with bundle.workdir() as work:
        (work / "model.int8.onnx").write_bytes(b"quantized")
        record = bundle.add_artifact("model.int8.onnx", work / "model.int8.onnx", {"precision": "int8", "format": "onnx"})
    assert record["sha256"] == sha256_file(bundle.root / "model.int8.onnx")
    assert Bundle.open(bundle.root).artifact("model.int8.onnx")["precision"] == "int8"
    assert not [p for p in bundle.root.iterdir() if p.name.startswith(".")]  # workdir removed
    with bundle.workdir() as work:
        (work / "again").write_bytes(b"other")
        with pytest.raises(BundleError, match="already has model.int8.onnx; pass --force"):
            bundle.add_artifact("model.int8.onnx", work / "again", {})
    assert (bundle.root / "model.int8.onnx").read_bytes() == b"quantized"


def test_missing_artifact_file(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b")
    (bundle.root / "model.onnx").unlink()
    with pytest.raises(BundleError, match="listed in the manifest but missing"):
        bundle.verified_path("model.onnx")


def test_write_atomic_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two" and [p.name for p in tmp_path.iterdir()] == ["f.json"]
