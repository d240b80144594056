import pytest

from textgen.originality import SPAN, NgramIndex, _hashes

CORPUS = "The lamp turned over the harbor all night, and the boats came home one by one. " * 3


def test_hashes_equal_for_equal_windows():
    h = _hashes("abcdefghijklmnopqrstuvwxyz" * 2)
    assert len(h) == 52 - SPAN + 1
    assert h[0] == h[26] and h[0] != h[1]


def test_fully_copied_passage():
    index = NgramIndex.build(CORPUS)
    copied = "the boats came home one by one. The lamp"
    result = index.measure(copied)
    assert result.spans == len(copied) - SPAN + 1
    assert result.copied_share == 1.0
    assert result.longest_copied == len(copied)


def test_original_text():
    result = NgramIndex.build(CORPUS).measure("Zebras argue quietly about quantum marmalade forever.")
    assert (result.copied_share, result.longest_copied) == (0.0, 0)
    assert result.describe().startswith("Original")


def test_partly_copied_reports_share_and_longest_run():
    piece = "and the boats came home"                                              # 23 chars, in the corpus
    text = "Xq" + piece + "zz unknown words qq"
    result = NgramIndex.build(CORPUS).measure(text)
    assert result.longest_copied == len(piece)
    assert result.copied_share == pytest.approx((len(piece) - SPAN + 1) / result.spans)


def test_short_text_and_cjk():
    assert NgramIndex.build(CORPUS).measure("short").spans == 0
    cjk = "灯塔的光在海面上慢慢转动，渔船一只一只地回到港口，面包店的窗户亮了起来。"
    assert NgramIndex.build(cjk * 2).measure(cjk[:25]).copied_share == 1.0


def test_cached_index_round_trip(tmp_path):
    src = tmp_path / "corpus.txt"
    src.write_text(CORPUS)
    a = NgramIndex.cached(src, tmp_path / "ngrams.npy")
    b = NgramIndex.cached(src, tmp_path / "ngrams.npy")
    assert (a.hashes == b.hashes).all() and (tmp_path / "ngrams.npy").exists()
