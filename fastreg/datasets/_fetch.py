"""Where the IDX files of a data set are taken from, checked, or downloaded to.

**A folder named by the caller** (``data_dir``, the command line's ``--data-dir``) is the only
place looked at, as in torchvision and scikit-learn: the files are taken from that folder (or
from ``<data_dir>/<subdir>``, when that exists and ``data_dir`` itself holds none of them). A
file missing there is a :class:`DataNotFoundError` naming the folder and the file, or, with
``download=True``, is downloaded into that folder. ``FASTREG_DATA`` and the cache are not
consulted.

**No folder named**: the first complete folder of

1. the ``FASTREG_DATA`` environment variable: for MNIST the folder itself or
   ``<FASTREG_DATA>/mnist``; for Fashion-MNIST only ``<FASTREG_DATA>/fashion-mnist``, because its
   files carry the very same names as MNIST's and a flat folder cannot tell the two apart;
2. the per-user cache ``$XDG_CACHE_HOME/fastreg/<subdir>`` (``~/.cache/fastreg/<subdir>`` when
   XDG_CACHE_HOME is unset or not absolute, as the XDG spec says);
3. the copy shipped with the package (MNIST only: ``fastreg/datasets/data/mnist``), so MNIST
   loads with no network at all;

and only when none is complete and ``download=True``, the missing files are downloaded into the
cache (``_download``: verified, atomic, bounded in time).

A folder is complete when it holds all four files, each either uncompressed
(``train-images-idx3-ubyte``, memory-mapped) or gzip'd (``train-images-idx3-ubyte.gz``). Files
found on disk are verified against the registry's published digests (``_verify``, once per file)
unless ``verify=False``. Failures raise the exceptions of :mod:`fastreg.exceptions` with
``param="data_dir"`` and a ``hint`` listing the size and digest of every missing file:
:class:`DataNotFoundError` (a ``FileNotFoundError``; ``searched`` lists the folders),
:class:`DownloadError`, and :class:`DatasetError` for a file that is not what it is named.
"""

import os
from pathlib import Path

from ..exceptions import DataNotFoundError
from ._cache import default_cache_dir
from ._download import download_advice, download_file
from ._verify import remember, verify_files

ENV_DATA = "FASTREG_DATA"


def shipped_dir(spec):
    """The folder of package data holding ``spec``, or None when none ships."""
    if not spec.shipped:
        return None
    folder = Path(__file__).resolve().parent / spec.shipped
    return folder if folder.is_dir() else None


def search_places(spec):
    """The folders searched for ``spec`` when no folder is named, in order, as
    ``(where it came from, Path)`` pairs."""
    places = []
    env = os.environ.get(ENV_DATA, "").strip()
    if env:
        root = Path(env).expanduser()
        if spec.flat_env_folder:
            places.append((ENV_DATA, root))
        places.append((ENV_DATA, root / spec.subdir))
    places.append(("cache", default_cache_dir(spec.subdir)))
    shipped = shipped_dir(spec)
    if shipped is not None:
        places.append(("shipped with fastreg", shipped))
    return places


def files_in(folder, spec):
    """The path of each of ``spec.files`` in ``folder`` (uncompressed preferred), or None."""
    found = []
    for remote in spec.files:
        raw, packed = folder / remote.local_name, folder / remote.name
        found.append(raw if raw.is_file() else packed if packed.is_file() else None)
    return found


def named_folder(spec, data_dir):
    """The folder ``data_dir`` names for ``spec``: itself, or ``<data_dir>/<subdir>`` when that
    is a folder and ``data_dir`` holds none of the files."""
    root = Path(data_dir).expanduser()
    inner = root / spec.subdir
    if inner.is_dir() and not any(files_in(root, spec)):
        return inner
    return root


def locate(spec, data_dir=None, *, download=True, verify=True, download_deadline=None):
    """Paths of the four files of ``spec``, verified (unless ``verify`` is false): from the
    named folder, or from the places of :func:`search_places`, downloading what is missing
    when ``download`` is true (see the module docstring)."""
    if data_dir is not None:
        folder = named_folder(spec, data_dir)
        return _complete(
            spec,
            folder,
            files_in(folder, spec),
            "data_dir",
            download,
            verify,
            download_deadline,
            searched=[folder],
        )
    report, searched = [], []
    for origin, folder in search_places(spec):
        found = files_in(folder, spec)
        if all(found):
            if verify:
                verify_files(spec, spec.files, found)
            return found
        searched.append(folder)
        if not folder.is_dir():
            report.append(f"  {origin}: {folder} (no such folder)")
        else:
            missing = [r.name for r, p in zip(spec.files, found) if p is None]
            report.append(f"  {origin}: {folder} (missing {', '.join(missing)})")
    if not os.environ.get(ENV_DATA, "").strip():
        report.insert(0, f"  {ENV_DATA}: not set")
    cache = default_cache_dir(spec.subdir)
    return _complete(
        spec,
        cache,
        files_in(cache, spec),
        "\n".join(report),
        download,
        verify,
        download_deadline,
        searched=searched,
    )


def _complete(spec, folder, found, where, download, verify, download_deadline, searched):
    """``found`` in ``folder`` verified, the missing files downloaded into ``folder`` (or a
    DataNotFoundError: ``where`` is "data_dir" or the report of the places searched)."""
    missing = [remote for remote, path in zip(spec.files, found) if path is None]
    if missing and not download:
        names = ", ".join(remote.name for remote in missing)
        if where == "data_dir":
            message = (
                f"{spec.title} was not found in {folder} (the folder given by data_dir): "
                f"missing {names} (each .gz or uncompressed)"
            )
            more = "or call again with download=True to download them into that folder"
        else:
            message = (
                f"{spec.title} was not found. Looked for "
                f"{', '.join(r.name for r in spec.files)} (each .gz or uncompressed) "
                f"in:\n{where}"
            )
            more = (
                f"or pass data_dir=<folder holding the four files>, set {ENV_DATA}=<that "
                f"folder>, or call again with download=True to download them into {folder}"
            )
        raise DataNotFoundError(
            message,
            searched=searched,
            param="data_dir",
            hint=download_advice(spec, folder, missing) + f"\n{more}",
        )
    if verify:  # before any download: a foreign file is refused without touching the network
        verify_files(spec, spec.files, found)
    if missing:
        folder.mkdir(parents=True, exist_ok=True)
    paths = list(found)
    for index, remote in enumerate(spec.files):
        if paths[index] is None:
            still = [r for r, p in zip(spec.files[index:], paths[index:]) if p is None]
            paths[index] = download_file(
                remote, spec, folder, missing=still, download_deadline=download_deadline
            )
            remember(spec, [(remote, paths[index])])  # checked by its published digest
    return paths
