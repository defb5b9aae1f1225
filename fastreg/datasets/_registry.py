"""The registry of the data sets fastreg knows: the one place their facts are written.

Per data set: its title and the names of its classes (what the command line and the pictures
print), where it lives (cache folder name, mirrors), and its four published files with their
sizes and digests (what a download is verified against). ``_fetch`` finds and downloads by it,
``_load`` checks the arrays against it, the command line takes its choices, titles and class
names from it; nothing else spells a data set's name.

Digests: a download of MNIST is verified by size and SHA-256 of the canonical .gz files, one of
Fashion-MNIST by size and MD5, the digest its authors publish (and torchvision checks). Both list
the size and SHA-256 of each uncompressed file (``raw_size``, ``raw_sha256``), which hold whatever
the compression: files found on disk pass when they are the published .gz or when their contents
are (a copy recompressed by someone else, or gunzipped; ``_verify``), and the uncompressed copies
``mmap=True`` makes are checked by them (``_unpack``). ``raw_size`` also caps how much a file under
that name may ever inflate to. MNIST ships with the package (``shipped``: a folder of package
data, the four .gz files, recompressed, so they pass by their uncompressed digests).

``DATASETS`` is looked up at call time, so a test can swap in its own mirrors and checksums
(``monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(MNIST, mirrors=...))``).
"""

import dataclasses

from ..exceptions import InvalidParameterError


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One published file: its name, size in bytes and hex digest (SHA-256, else MD5), and,
    where published, the size and SHA-256 of its uncompressed contents."""

    name: str
    size: int
    sha256: str = ""
    md5: str = ""
    raw_size: int = 0
    raw_sha256: str = ""

    @property
    def local_name(self):
        """The uncompressed file's name (the published name without ``.gz``)."""
        return self.name[:-3] if self.name.endswith(".gz") else self.name

    def digest_kind(self):
        """``(algorithm, hex digest)``: SHA-256 where published, else MD5."""
        return ("sha256", self.sha256) if self.sha256 else ("md5", self.md5)

    def describe(self):
        """The file as advice for placing it by hand: its size and digests."""
        kind, digest = self.digest_kind()
        text = f"{self.name} ({self.size} bytes, {kind} {digest}"
        if self.raw_sha256:
            text += (
                f"; or any .gz of, or the uncompressed, {self.local_name}: "
                f"{self.raw_size} bytes, sha256 {self.raw_sha256}"
            )
        return text + ")"


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What defines a registered IDX data set.

    ``name`` is the key users type (``--dataset``, ``load_dataset``) and the cache folder's
    name; ``class_names[k]`` names label ``k``; ``files`` are, in order: train images, train
    labels, test images, test labels.
    """

    name: str
    title: str
    class_names: tuple
    mirrors: tuple
    files: tuple
    flat_env_folder: bool  # may FASTREG_DATA itself (not only <FASTREG_DATA>/<name>) hold it?
    image_shape: tuple = (28, 28)
    shipped: str = ""  # folder of package data under fastreg/datasets/ holding it, if any

    @property
    def subdir(self):
        """The folder name under the cache and under ``$FASTREG_DATA``."""
        return self.name

    @property
    def n_classes(self):
        return len(self.class_names)

    @property
    def download_bytes(self):
        """Bytes a download of the four files fetches."""
        return sum(remote.size for remote in self.files)


MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    class_names=tuple(str(k) for k in range(10)),
    # torchvision's order; CVDF's bucket serves the same .gz bytes
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    files=(
        RemoteFile(
            "train-images-idx3-ubyte.gz",
            9912422,
            sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            raw_size=47040016,
            raw_sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            28881,
            sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            raw_size=60008,
            raw_sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            1648877,
            sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            raw_size=7840016,
            raw_sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            4542,
            sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            raw_size=10008,
            raw_sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    ),
    flat_env_folder=True,
    shipped="data/mnist",
)

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    # the authors' bucket (torchvision's source), then the copy Keras downloads
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ),
    files=(
        RemoteFile(
            "train-images-idx3-ubyte.gz",
            26421880,
            md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            raw_size=47040016,
            raw_sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            29515,
            md5="25c81989df183df01b3e8a0aad5dffbe",
            raw_size=60008,
            raw_sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            4422102,
            md5="bef4ecab320f06d8554ea6380940ec79",
            raw_size=7840016,
            raw_sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            5148,
            md5="bb300cfdad3c16e7a12a480ee83cd310",
            raw_size=10008,
            raw_sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    ),
    flat_env_folder=False,
)

DATASETS = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}

#: The data set a caller gets when it names none (``--dataset`` left out).
DEFAULT_DATASET = MNIST.name


def get_spec(name):
    """The registered :class:`DatasetSpec` called ``name``; InvalidParameterError if none is."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise InvalidParameterError(
            f"unknown data set {name!r}", param="dataset", hint=f"choose one of {sorted(DATASETS)}"
        ) from None
