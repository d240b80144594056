import numpy as np
import pytest

from textgen import data
from textgen.errors import CorpusError


def test_split_is_contiguous_with_validation_last():
    ids = np.arange(100)
    train, val = data.split(ids, 0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))


def test_windows_and_targets_shifted_by_one():
    ids = np.arange(11)
    w = data.windows(ids, 3)                                                   # stride 3, width 4
    assert w.tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    x, y = data.inputs_targets(w)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert y.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])


def test_epoch_order_depends_only_on_seed_and_epoch():
    a = data.epoch_order(50, seed=7, epoch=3)
    assert a.tolist() == data.epoch_order(50, seed=7, epoch=3).tolist()
    assert a.tolist() != data.epoch_order(50, seed=7, epoch=4).tolist()
    assert sorted(a.tolist()) == list(range(50))


def test_epoch_dataset_batches_in_seeded_order_and_skips():
    ids = np.arange(41, dtype=np.int32)
    w = data.windows(ids, 4)                                                   # 10 windows
    order = data.epoch_order(10, 1, 0)
    batches = list(data.epoch_dataset(w, 3, seed=1, epoch=0))
    assert len(batches) == 3                                                   # full batches only
    x0, y0 = (b.numpy() for b in batches[0])
    np.testing.assert_array_equal(x0, w[order[:3], :-1])
    np.testing.assert_array_equal(y0, w[order[:3], 1:])
    skipped = list(data.epoch_dataset(w, 3, seed=1, epoch=0, skip_batches=2))
    assert len(skipped) == 1
    np.testing.assert_array_equal(skipped[0][0].numpy(), batches[2][0].numpy())


def test_too_short_says_how_much_more():
    need = data.min_tokens(100, 0.1)
    assert need == 1011
    with pytest.raises(CorpusError, match=r"has 500 characters, training needs at least 1,011 \(add about 511 more"):
        data.check_length(500, 100, 0.1)
    data.check_length(need, 100, 0.1)
