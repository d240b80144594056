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


ZH = open(__import__("pathlib").Path(__file__).parent.parent / "assets" / "sample_zh.txt", encoding="utf-8").read()


def test_chinese_passages_are_counted_in_characters_with_a_shorter_span():
    from textgen.originality import CJK_SPAN, span_for

    assert (span_for(ZH), span_for(CORPUS), CJK_SPAN) == (8, SPAN, 8)
    index = NgramIndex.build(ZH)
    assert index.n == 8
    line = "孤塔立寒岬，一灯照远波。"                                  # a whole line of a poem: 12 characters
    assert line in ZH
    copied = index.measure(line)
    assert (copied.spans, copied.copied_share, copied.longest_copied) == (12 - 8 + 1, 1.0, 12)
    assert copied.describe() == ("100% of 8-character passages appear in the training text; the longest copied "
                                 "passage is 12 characters.")
    assert NgramIndex.build(ZH, n=SPAN).measure(line).spans == 0      # 20 characters would never see it
    fresh = index.measure("灯塔看见了一只会唱歌的蓝色鲸鱼。")
    assert (fresh.copied_share, fresh.longest_copied) == (0.0, 0) and fresh.describe().startswith("Original: no 8-")
    assert index.measure("灯塔").describe() == "Too short to check (under 8 characters)."


def test_the_cached_index_of_a_chinese_text_keeps_its_own_span(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(ZH, encoding="utf-8")
    first = NgramIndex.cached(corpus, tmp_path / "ngrams.npy")
    assert (tmp_path / "ngrams-8.npy").exists() and not (tmp_path / "ngrams.npy").exists()
    again = NgramIndex.cached(corpus, tmp_path / "ngrams.npy")
    assert again.n == 8 and (again.hashes == first.hashes).all()
