"""Access to the data that ships with edgeres: the device catalog and the export recipes.

The folders live at the top of the repository (``devices/``, ``export/``) and are copied into the
wheel as ``edgeres/_data/``. An installed wheel finds them as package data. An editable install
(``pip install -e .``) has no copy; there the distribution's PEP 610 ``direct_url.json`` names the
source tree it was installed from, and the folders are read from there.
"""

from __future__ import annotations

import json
from importlib import metadata, resources
from pathlib import Path
from urllib.parse import unquote, urlparse

from edgeres.errors import EdgeresError

DATA_FOLDERS = ("devices", "export")


def data_dir(name: str) -> Path:
    """The folder of shipped data files called ``name`` (``"devices"`` or ``"export"``).

    Raises:
        ValueError: ``name`` is not a shipped folder.
        EdgeresError: The installation lacks the folder.
    """
    if name not in DATA_FOLDERS:
        raise ValueError(f"unknown data folder {name!r}; expected one of {DATA_FOLDERS}")
    packaged = resources.files("edgeres") / "_data" / name
    if packaged.is_dir():
        return Path(str(packaged))
    source = _editable_source_root()
    if source is not None and (source / name).is_dir():
        return source / name
    raise EdgeresError(
        f"edgeres's shipped data folder '{name}' is missing from this installation; "
        "reinstall edgeres (pip install edgeres, or pip install -e . from a checkout)"
    )


def data_files(name: str, suffix: str = ".yaml") -> list[Path]:
    """The files of a shipped data folder with the given suffix, sorted by name."""
    return sorted(p for p in data_dir(name).iterdir() if p.suffix == suffix)


def _editable_source_root() -> Path | None:
    try:
        text = metadata.distribution("edgeres").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    info = json.loads(text)
    if not info.get("dir_info", {}).get("editable"):
        return None
    url = urlparse(info.get("url", ""))
    if url.scheme != "file":
        return None
    return Path(unquote(url.path))
