"""The bundle: the one artifact every stage reads and writes, and the only code that touches manifests.

A bundle is a directory with a manifest, ``edgeres.json``, and the files it lists (``model.onnx``,
``model.int8.onnx``, engines, ``profiles/*.json``). Rules (DESIGN.md):

- Files are written under a temporary name and renamed into place; a new bundle is assembled in a
  temporary sibling directory and renamed as a whole, so a failed stage leaves the last good bundle.
- Nothing is overwritten without ``force``.
- Every artifact is recorded with its sha256, and the hash is checked before the file is loaded.
- Stages add to the manifest; ``history`` is append-only.

No torch here: the runtime reads bundles.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgeres.errors import BundleError

MANIFEST = "edgeres.json"
SCHEMA = "edgeres.bundle"
SCHEMA_VERSION = 1


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def now() -> str:
    """The current UTC time in ISO 8601, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publishable(path: Path, mode: int) -> None:
    # mkstemp and mkdtemp create private files (0600, 0700); a published bundle gets the usual
    # permissions under the user's umask, like any file the user writes.
    os.chmod(path, mode & ~_umask())


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        _publishable(Path(temp), 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


class Bundle:
    """An existing bundle directory and its manifest.

    Use :meth:`open` to read one, :func:`create_bundle` to make one. Changes to :attr:`manifest` are
    written by :meth:`save`; artifacts are added with :meth:`add_artifact`.
    """

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self.manifest = manifest

    @classmethod
    def open(cls, root: str | Path) -> Bundle:
        """Read a bundle.

        Raises:
            BundleError: No such directory, no manifest, an unreadable manifest, or a schema version
                this edgeres cannot read.
        """
        root = Path(root)
        path = root / MANIFEST
        if not root.is_dir():
            raise BundleError(f"{root} is not a bundle directory; create one with 'edgeres export MODEL -o {root}'")
        if not path.is_file():
            raise BundleError(f"{root} has no {MANIFEST}; it is not an edgeres bundle (make one with 'edgeres export')")
        try:
            manifest = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"cannot read {path}: {exc}; re-export the bundle") from exc
        if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
            raise BundleError(f"{path} is not an edgeres manifest (no \"schema\": \"{SCHEMA}\")")
        version = manifest.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise BundleError(
                f"{path} has manifest schema version {version!r}; this edgeres reads up to "
                f"{SCHEMA_VERSION}. Upgrade edgeres (pip install -U edgeres)"
            )
        return cls(root, manifest)

    # Reading -----------------------------------------------------------------------------------

    @property
    def artifacts(self) -> dict[str, dict[str, Any]]:
        """The artifact records, by file name."""
        return self.manifest.setdefault("artifacts", {})

    def artifact(self, name: str) -> dict[str, Any]:
        """One artifact record.

        Raises:
            BundleError: The bundle has no such artifact; the message lists those it has.
        """
        try:
            return self.artifacts[name]
        except KeyError:
            raise BundleError(
                f"bundle {self.root} has no artifact {name!r}; it has {', '.join(self.artifacts) or 'none'}"
            ) from None

    def verified_path(self, name: str) -> Path:
        """The path of an artifact after checking its sha256 against the manifest.

        Raises:
            BundleError: The artifact is unknown, missing, or its contents changed since it was recorded.
        """
        record = self.artifact(name)
        path = self.root / record["file"]
        if not path.is_file():
            raise BundleError(f"{path} is listed in the manifest but missing; re-run the stage that made it")
        actual = sha256_file(path)
        if actual != record["sha256"]:
            raise BundleError(
                f"{path} was modified after edgeres wrote it (sha256 {actual[:12]}..., manifest says "
                f"{record['sha256'][:12]}...); refusing to load it. Re-run the stage that made it"
            )
        return path

    # Writing -----------------------------------------------------------------------------------

    def save(self) -> None:
        """Write the manifest atomically."""
        write_atomic(self.root / MANIFEST, (json.dumps(self.manifest, indent=2, default=_json_default) + "\n").encode())

    def add_artifact(self, file: str, source: Path, record: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
        """Move a finished file into the bundle and record it, hashed.

        The file is moved into place by a rename, then the manifest is written; a crash in between
        leaves an unlisted file, never a listed file with the wrong contents.

        Args:
            file: The name inside the bundle, e.g. ``"model.int8.onnx"``.
            source: The finished file (on the same file system, e.g. made in :meth:`workdir`).
            record: What made it (precision, backend, settings, ...); ``file``, ``sha256``, ``bytes``
                and ``created`` are added.
            force: Replace an existing artifact of the same name.

        Raises:
            BundleError: The artifact exists and ``force`` is false.
        """
        if file in self.artifacts and not force:
            raise BundleError(f"bundle {self.root} already has {file}; pass --force to replace it")
        full = {**record, "file": file, "sha256": sha256_file(source), "bytes": source.stat().st_size, "created": now()}
        os.replace(source, self.root / file)
        self.artifacts[file] = full
        self.save()
        return full

    def append_history(self, stage: str, **details: Any) -> None:
        """Record a stage run (in memory; written by the next :meth:`save`)."""
        self.manifest.setdefault("history", []).append({"stage": stage, "time": now(), **details})

    @contextlib.contextmanager
    def workdir(self) -> Iterator[Path]:
        """A temporary directory inside the bundle for files that will be moved in; removed after."""
        path = Path(tempfile.mkdtemp(prefix=".work-", dir=self.root))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


def new_manifest(**sections: Any) -> dict[str, Any]:
    """A fresh manifest with the schema header and the given sections."""
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "created": now(), **copy.deepcopy(sections)}


def check_output_dir(root: Path, *, force: bool) -> None:
    """Refuse to write a bundle where it would destroy something.

    Raises:
        BundleError: ``root`` is an existing bundle and ``force`` is false, or an existing non-empty
            directory that is not a bundle, or a file, or its parent cannot be written.
    """
    if root.exists() and not root.is_dir():
        raise BundleError(f"{root} exists and is not a directory; choose another output path")
    if root.is_dir() and any(root.iterdir()):
        if not (root / MANIFEST).is_file():
            raise BundleError(
                f"{root} exists, is not empty and is not an edgeres bundle; refusing to write into it. "
                "Choose a new directory"
            )
        if not force:
            raise BundleError(f"{root} already holds a bundle; pass --force to replace it")
    probe = root.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise BundleError(f"cannot create {root}: {probe} is a file, not a directory; choose another output path")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BundleError(f"cannot write to {probe} (permission denied); choose an output directory you can write")


@contextlib.contextmanager
def create_bundle(root: str | Path, *, force: bool = False) -> Iterator[Bundle]:
    """Assemble a new bundle in a temporary sibling directory; publish it only if the block succeeds.

    The caller fills ``bundle.manifest`` and writes files under ``bundle.root``. On success the
    directory is renamed to ``root`` (an existing bundle there is replaced when ``force``, and kept
    until the new one is in place). On failure everything written is removed and ``root`` is untouched.

    Raises:
        BundleError: See :func:`check_output_dir`.
    """
    root = Path(root)
    check_output_dir(root, force=force)
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".partial", dir=root.parent))
        _publishable(staging, 0o777)
    except OSError as exc:
        raise BundleError(f"cannot write a bundle at {root}: {exc.strerror or exc}; choose an output directory you can write") from exc
    bundle = Bundle(staging, new_manifest())
    try:
        yield bundle
        bundle.save()
        if root.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".old", dir=root.parent))
            os.rmdir(retired)
            os.replace(root, retired)
            try:
                os.replace(staging, root)
            except BaseException:
                os.replace(retired, root)
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, root)
        bundle.root = root
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _json_default(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"cannot store {type(value).__name__} in a manifest")
