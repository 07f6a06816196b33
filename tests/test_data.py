"""course.data: offline Fashion-MNIST with verified content, subsets, pipelines, shipped photos."""
import gzip
import shutil

import numpy as np
import pytest

from course import data


@pytest.fixture(scope="module")
def real_folder():
    folder, _, _ = data._first_verified()
    assert folder is not None, "set-up should have installed Fashion-MNIST"
    return folder


@pytest.fixture
def isolated(real_folder, tmp_path, monkeypatch):
    """No configured folder, an empty Keras cache, no Debian package, no network."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setattr(data, "_network_available", lambda *a, **k: False)
    return tmp_path


def test_the_real_data_set(fashion):
    (x_train, y_train), (x_test, y_test) = fashion
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert list(y_train[:10]) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert len(data.CLASS_NAMES) == 10 and data.CLASS_NAMES[9] == "Ankle boot"


def test_plain_keras_load_data_works_offline_after_setup(fashion):
    import keras

    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    assert np.array_equal(x_train, fashion[0][0]) and np.array_equal(y_test, fashion[1][1])


def test_configured_folder_comes_first(real_folder, isolated, monkeypatch):
    folder = isolated / "mine"
    shutil.copytree(real_folder, folder)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(folder))
    assert data.search_dirs()[0] == folder
    assert data._first_verified()[0] == folder


def test_nothing_found_says_how_to_get_it(isolated):
    with pytest.raises(data.DataError) as err:
        data.fashion_mnist()
    message = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in message and data.DATA_DIR_ENV in message


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip_one_byte"])
def test_a_corrupt_file_is_never_used(real_folder, isolated, damage):
    folder = isolated / "keras" / "datasets" / "fashion-mnist"
    shutil.copytree(real_folder, folder)
    victim = folder / "t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress(victim.read_bytes())
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[: len(victim.read_bytes()) // 2])
    elif damage == "garbage":
        victim.write_bytes(b"not a gzip file at all")
    else:
        victim.write_bytes(gzip.compress(raw[:-1] + bytes([(raw[-1] + 1) % 10])))
    with pytest.raises(data.DataError) as err:
        data.fashion_mnist()
    assert str(victim) in str(err.value) and "delete it and fetch it again" in str(err.value)


def test_recompressed_files_are_accepted(real_folder, isolated, monkeypatch):
    """Debian re-compresses the files: only the decompressed content matters."""
    folder = isolated / "recompressed"
    folder.mkdir()
    for name in data.FASHION_FILES:
        raw = gzip.decompress((real_folder / name).read_bytes())
        (folder / name).write_bytes(gzip.compress(raw, compresslevel=1, mtime=0))
    monkeypatch.setenv(data.DATA_DIR_ENV, str(folder))
    (x_train, y_train), _ = data.fashion_mnist()
    assert list(y_train[:10]) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]


def test_install_keras_cache_copies_verified_files(real_folder, isolated, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(real_folder))
    target = data.install_keras_cache()
    assert sorted(p.name for p in target.iterdir()) == sorted(data.FASHION_FILES)
    assert data.main([]) == 0


def test_stratified_subset_is_balanced_and_reproducible(fashion):
    (x, y), _ = fashion
    xs, ys = data.stratified_subset(x, y, 1000, seed=3)
    assert np.bincount(ys).tolist() == [100] * 10
    xs2, ys2 = data.stratified_subset(x, y, 1000, seed=3)
    assert np.array_equal(xs, xs2) and np.array_equal(ys, ys2)
    _, y_odd = data.stratified_subset(x, y, 25, seed=0)
    assert sorted(np.bincount(y_odd, minlength=10).tolist()) == [2] * 5 + [3] * 5
    with pytest.raises(ValueError, match="between 1 and"):
        data.stratified_subset(x, y, 0)


def test_pipelines_follow_the_profile(fashion):
    from course.runtime import current_profile

    profile = current_profile("grading")
    train, val, test = data.fashion_mnist_pipelines(profile)
    images, labels = next(iter(train))
    assert images.shape == (profile.batch_size, 28, 28, 1) and images.dtype.name == "float32"
    assert 0.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1.0
    assert sum(int(b[1].shape[0]) for b in train) == profile.train_size
    assert sum(int(b[1].shape[0]) for b in test) == profile.test_size
    augmented = data.make_dataset(fashion[0][0][:8], fashion[0][1][:8], 8, training=True, augment=True)
    assert next(iter(augmented))[0].shape == (8, 28, 28, 1)


def test_digits_and_photos_ship_offline():
    x, y = data.digits()
    assert x.shape == (1797, 8, 8) and x.max() == 16 and sorted(set(y.tolist())) == list(range(10))
    for name in data.photo_names():
        image = data.photo(name)
        assert image.dtype == np.uint8 and image.ndim in (2, 3) and min(image.shape[:2]) >= 100, name
    small = data.photo("chelsea", size=64, gray=True)
    assert small.ndim == 2 and min(small.shape) == 64
    with pytest.raises(ValueError, match="choose one of"):
        data.photo("lena")


def test_fashion_classes_renumbers_in_the_order_given():
    x = np.arange(6)
    y = np.array([5, 9, 0, 7, 5, 3])
    xs, ys = data.fashion_classes(x, y, [5, 7, 9])
    np.testing.assert_array_equal(xs, [0, 1, 3, 4])
    np.testing.assert_array_equal(ys, [0, 2, 1, 0])


def test_digits_look_like_fashion_mnist_images():
    x, y = data.digits_28x28()
    assert x.shape == (1797, 28, 28) and x.dtype == np.uint8 and set(np.unique(y)) == set(range(10))
    assert x[:, :4].max() == 0 and x[:, -4:].max() == 0  # the 4-pixel margin
    assert x.max() > 200  # strokes as bright as Fashion-MNIST's
