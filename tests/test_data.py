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


def test_stream_batches_continue_each_row_from_batch_to_batch():
    ids = np.arange(1000)
    x, y = data.stream_batches(ids, seq_len=10, batch_size=4, seed=1, epoch=0)
    assert x.shape == y.shape == (data.stream_steps(1000, 10, 4), 4, 10) == (24, 4, 10)
    np.testing.assert_array_equal(y, x + 1)                                    # targets: the next id
    np.testing.assert_array_equal(x[1:, :, 0], x[:-1, :, -1] + 1)              # row r goes on where it stopped
    starts = x[0, :, 0]
    assert starts[0] <= 39 and np.all(np.diff(starts) == 240)                  # 4 streams of 24 windows of 10
    again, _ = data.stream_batches(ids, 10, 4, seed=1, epoch=0)
    np.testing.assert_array_equal(again, x)                                    # seeded
    offsets = {int(data.stream_batches(ids, 10, 4, seed=1, epoch=e)[0][0, 0, 0]) for e in range(40)}
    assert len(offsets) > 10 and max(offsets) <= 39                            # the cuts move between epochs
    # over the epochs the whole text is read: the 39 tokens left over are not always the same ones
    seen = set()
    for e in range(40):
        seen.update(data.stream_batches(ids, 10, 4, seed=1, epoch=e)[1].ravel().tolist())
    assert seen == set(range(1, 1000))


def test_stream_batches_with_no_tokens_to_spare_start_at_zero():
    x, y = data.stream_batches(np.arange(41), seq_len=10, batch_size=4, seed=5, epoch=3)
    assert x[:, :, 0].tolist() == [[0, 10, 20, 30]] and y[0, 3, -1] == 40


def test_stream_dataset_skips_whole_batches():
    ids = np.arange(1000, dtype=np.int32)
    x, _ = data.stream_batches(ids, 10, 4, seed=2, epoch=1)
    skipped = list(data.stream_dataset(ids, 10, 4, seed=2, epoch=1, skip_batches=20))
    assert len(skipped) == 4
    np.testing.assert_array_equal(skipped[0][0].numpy(), x[20])
