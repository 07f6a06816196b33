"""Real data, offline first: Fashion-MNIST, scikit-learn's digits, sample photos.

Fashion-MNIST is looked for, in order, in

1. the folder given by ``data_dir=`` or the environment variable ``COURSE_DATA_DIR``,
2. the Keras cache (``$KERAS_HOME/datasets/fashion-mnist``, default ``~/.keras``),
3. Debian's package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``),

and the *decompressed* bytes of every file are checked against known SHA-256
sums before use (Debian re-compresses the files, so checksums of the ``.gz``
files would reject good data). Only when no folder holds the data does it ask
Keras to download, and only if the network answers. A corrupt or truncated
file is never used: it is named, and the next place is tried.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
import zlib
from pathlib import Path

import numpy as np

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

DATA_DIR_ENV = "COURSE_DATA_DIR"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

# file name -> (size, SHA-256) of the decompressed IDX bytes. The sizes follow
# from the IDX format (16-byte header + 28*28 bytes per image, 8-byte header +
# 1 byte per label); the sums are the published data set's content.
FASHION_FILES = {
    "train-images-idx3-ubyte.gz": (47_040_016, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels-idx1-ubyte.gz": (60_008, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "t10k-images-idx3-ubyte.gz": (7_840_016, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "t10k-labels-idx1-ubyte.gz": (10_008, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}

HOW_TO_GET = (
    "Fashion-MNIST was not found. Get it in one of these ways, then try again:\n"
    "  * Debian/Ubuntu (root):  apt-get install dataset-fashion-mnist\n"
    "  * any machine with internet:  python -c \"import keras; keras.datasets.fashion_mnist.load_data()\"\n"
    "  * copy the four files {files} into a folder and set {env}=/that/folder\n"
    "The README's set-up command (bash test.sh or bash main.sh) does the first two for you."
)


class DataError(RuntimeError):
    """Data missing or corrupt; the message says how to fix it."""


def keras_cache_dir() -> Path:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "fashion-mnist"


def search_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for Fashion-MNIST, in order."""
    configured = data_dir or os.environ.get(DATA_DIR_ENV)
    dirs = [Path(configured)] if configured else []
    return dirs + [keras_cache_dir(), DEBIAN_DIR]


def _read_verified(path: Path) -> bytes:
    """Decompress one file and check its size and checksum; raise DataError if wrong."""
    size, sha = FASHION_FILES[path.name]
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is not a readable gzip file ({exc}); delete it and fetch it again") from exc
    if len(raw) != size:
        raise DataError(f"{path} decompresses to {len(raw):,} bytes, expected {size:,}: the file is "
                        "truncated or not Fashion-MNIST; delete it and fetch it again")
    if hashlib.sha256(raw).hexdigest() != sha:
        raise DataError(f"{path} has the right size but the wrong content (SHA-256 mismatch); "
                        "delete it and fetch it again")
    return raw


def _arrays_from(raw: dict[str, bytes]):
    def images(name):
        return np.frombuffer(raw[name], np.uint8, offset=16).reshape(-1, 28, 28)

    def labels(name):
        return np.frombuffer(raw[name], np.uint8, offset=8)

    return ((images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz")),
            (images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz")))


def _first_verified(data_dir=None) -> tuple[Path | None, dict[str, bytes], list[str]]:
    """First folder holding all four files with verified content, their bytes, and
    why earlier folders were passed over."""
    problems = []
    for folder in search_dirs(data_dir):
        missing = [n for n in FASHION_FILES if not (folder / n).is_file()]
        if missing:
            if len(missing) < len(FASHION_FILES):
                problems.append(f"{folder}: missing {', '.join(missing)}")
            continue
        try:
            return folder, {n: _read_verified(folder / n) for n in FASHION_FILES}, problems
        except DataError as exc:
            problems.append(str(exc))
    return None, {}, problems


def _network_available(host: str = "storage.googleapis.com", timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def fashion_mnist(data_dir: str | os.PathLike | None = None):
    """``(x_train, y_train), (x_test, y_test)`` as uint8 arrays, like Keras returns them."""
    folder, raw, problems = _first_verified(data_dir)
    if folder is not None:
        return _arrays_from(raw)
    if _network_available():
        import keras

        keras.datasets.fashion_mnist.load_data()  # downloads into the Keras cache
        return _arrays_from({n: _read_verified(keras_cache_dir() / n) for n in FASHION_FILES})
    detail = ("\nPassed over:\n  " + "\n  ".join(problems)) if problems else ""
    raise DataError(HOW_TO_GET.format(files=", ".join(FASHION_FILES), env=DATA_DIR_ENV) + detail)


def install_keras_cache(data_dir=None) -> Path:
    """Copy verified files into the Keras cache so plain ``keras.datasets`` works offline."""
    target = keras_cache_dir()
    source, _, _ = _first_verified(data_dir)
    if source is None:
        fashion_mnist(data_dir)  # downloads if it can, otherwise raises the how-to error
        return target
    if source.resolve() != target.resolve():
        target.mkdir(parents=True, exist_ok=True)
        for name in FASHION_FILES:
            tmp = target / (name + ".part")
            shutil.copyfile(source / name, tmp)
            tmp.replace(target / name)  # atomic: never a half-written file in the cache
    return target


# --------------------------------------------------------------------------- subsets and pipelines

def stratified_subset(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0):
    """``n`` examples with every class equally represented (as far as n allows), reproducibly."""
    if not 0 < n <= len(y):
        raise ValueError(f"n must be between 1 and {len(y)}, got {n}")
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per_class = np.full(len(classes), n // len(classes))
    per_class[: n % len(classes)] += 1
    picked = []
    for c, k in zip(classes, per_class):
        members = np.flatnonzero(y == c)
        if k > len(members):
            raise ValueError(f"class {c} has only {len(members)} examples, {k} were asked for")
        picked.append(rng.choice(members, size=k, replace=False))
    order = rng.permutation(np.concatenate(picked))
    return x[order], y[order]


def normalise(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1] with a channel axis (N, H, W, 1)."""
    images = np.asarray(images, dtype=np.float32) / 255.0
    return images[..., None] if images.ndim == 3 else images


def _augment(image, label):
    import tensorflow as tf

    image = tf.image.random_flip_left_right(image)
    padded = tf.image.pad_to_bounding_box(image, 2, 2, tf.shape(image)[0] + 4, tf.shape(image)[1] + 4)
    image = tf.image.random_crop(padded, tf.shape(image))
    return image, label


def make_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, training: bool,
                 augment: bool = False, seed: int = 0):
    """A ``tf.data`` pipeline: normalise, cache, (shuffle, augment), batch, prefetch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((normalise(x), np.asarray(y, np.int64))).cache()
    if training:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
        if augment:
            ds = ds.map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def fashion_mnist_pipelines(profile=None, validation_size: int = 5000, augment: bool = False,
                            seed: int = 0, data_dir=None):
    """Train / validation / test ``tf.data`` pipelines sized by the profile.

    The grading profile uses small stratified subsets so a notebook runs in
    seconds; the full profile uses all 60,000 training images (minus the
    validation split) and the 10,000 test images.
    """
    from course.runtime import current_profile

    profile = profile if profile is not None and not isinstance(profile, str) else current_profile(profile)
    (x_train, y_train), (x_test, y_test) = fashion_mnist(data_dir)
    x_train, y_train = stratified_subset(x_train, y_train, len(y_train), seed)  # shuffle, stratified
    x_val, y_val = x_train[:validation_size], y_train[:validation_size]
    x_train, y_train = x_train[validation_size:], y_train[validation_size:]
    if profile.train_size:
        x_train, y_train = stratified_subset(x_train, y_train, profile.train_size, seed)
        x_val, y_val = stratified_subset(x_val, y_val, max(len(CLASS_NAMES), profile.train_size // 5), seed)
    if profile.test_size:
        x_test, y_test = stratified_subset(x_test, y_test, profile.test_size, seed)
    return (make_dataset(x_train, y_train, profile.batch_size, True, augment, seed),
            make_dataset(x_val, y_val, profile.batch_size, False),
            make_dataset(x_test, y_test, profile.batch_size, False))


# --------------------------------------------------------------------------- other shipped data

def digits():
    """scikit-learn's 1,797 handwritten digits: uint8 images (N, 8, 8) in 0..16 and labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.uint8), bunch.target.astype(np.uint8)


SKIMAGE_PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "horse")
SKLEARN_PHOTOS = ("china", "flower")


def photo_names() -> list[str]:
    return list(SKLEARN_PHOTOS + SKIMAGE_PHOTOS)


def photo(name: str, size: int | None = None, gray: bool = False) -> np.ndarray:
    """A real photo that ships inside scikit-learn or scikit-image, as uint8 (H, W[, 3]).

    ``size`` resizes the shorter side (keeping the aspect ratio); ``gray``
    converts to one channel (ITU-R 601 luma).
    """
    if name in SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_image

        image = load_sample_image(f"{name}.jpg")
    elif name in SKIMAGE_PHOTOS:
        from skimage import data as skdata

        image = getattr(skdata, name)()
    else:
        raise ValueError(f"unknown photo {name!r}; choose one of {photo_names()}")
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., :3]
    if gray and image.ndim == 3:
        image = (image @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)
    if size is not None:
        from skimage.transform import resize

        h, w = image.shape[:2]
        scale = size / min(h, w)
        shape = (max(1, round(h * scale)), max(1, round(w * scale))) + image.shape[2:]
        image = (resize(image, shape, anti_aliasing=True, preserve_range=True)).round().astype(np.uint8)
    return image


def main(argv=None) -> int:
    """``python -m course.data``: find, verify and install Fashion-MNIST into the Keras cache."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data-dir", help="extra folder to search first")
    args = parser.parse_args(argv)
    try:
        target = install_keras_cache(args.data_dir)
    except DataError as exc:
        print(exc)
        return 1
    print(f"Fashion-MNIST verified and available in the Keras cache: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


LECTURE_DATA = Path(__file__).resolve().parent.parent / "notebooks" / "data"


def lecture_record(name: str) -> dict:
    """A lecture notebook's precomputed record (``notebooks/data/NAME.json``), wherever the kernel started."""
    import json

    path = LECTURE_DATA / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python notebooks/data/{name}.py` once (its docstring "
                                "says how long it takes), or use the full profile, which computes it live")
    return json.loads(path.read_text(encoding="utf-8"))


def digits_28x28() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as 28x28 uint8 images like Fashion-MNIST's: a 20x20 digit, 4 pixels margin."""
    from skimage.transform import resize

    images, labels = digits()
    big = np.stack([resize(image / 16.0, (20, 20), order=1, anti_aliasing=False) for image in images])
    return np.pad((big * 255).round().astype(np.uint8), ((0, 0), (4, 4), (4, 4))), labels.astype(np.int64)


def fashion_classes(x: np.ndarray, y: np.ndarray, classes) -> tuple[np.ndarray, np.ndarray]:
    """The images of ``classes``, labels renumbered 0..len(classes)-1 in the order given."""
    classes = np.asarray(classes)
    keep = np.isin(y, classes)
    return x[keep], np.argmax(y[keep, None] == classes[None, :], axis=1).astype(np.int64)
