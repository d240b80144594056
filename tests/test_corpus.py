import dataclasses
import hashlib
import random

import pytest

from textgen.corpus import (
    ACCEPTED_SUFFIXES,
    CleanOptions,
    Corpus,
    compute_stats,
    count_chars,
    decode_bytes,
    load_corpus,
)
from textgen.errors import CorpusError

CHINESE = "我们在春天的早晨一起去公园散步，看到很多美丽的花朵和绿色的树木，心里感到非常快乐和平静，回家以后还写了一篇日记。"


# ------------------------------------------------------------------------------------- sources

def test_string_is_text_never_a_path(tmp_path):
    (tmp_path / "a.txt").write_text("file content")
    c = load_corpus(str(tmp_path / "a.txt"))
    assert c.text == str(tmp_path / "a.txt")
    assert c.sources == ("pasted text",)
    assert c.encoding == "utf-8"


def test_bytes_are_decoded():
    c = load_corpus("héllo wörld".encode("utf-8"))
    assert c.text == "héllo wörld"
    assert c.encoding == "utf-8"
    assert c.sources == ("uploaded file",)


def test_path(tmp_path):
    p = tmp_path / "story.md"
    p.write_bytes("# Title\nOnce upon a time.\n".encode("utf-8"))
    c = load_corpus(p)
    assert c.text == "# Title\nOnce upon a time.\n"
    assert c.sources == ("story.md",)


def test_several_files_join_with_blank_line(tmp_path):
    a = tmp_path / "a.txt"
    a.write_bytes(b"first")
    c = load_corpus([a, ("b.TXT", "caf\u00e9".encode("latin-1")), ("c.md", b"third")])
    assert c.text == "first\n\ncaf\u00e9\n\nthird"
    assert c.sources == ("a.txt", "b.TXT", "c.md")
    assert c.encoding == "utf-8,cp1252"


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(CorpusError, match=r"nope\.txt does not exist"):
        load_corpus(tmp_path / "nope.txt")
    with pytest.raises(CorpusError, match="is a folder, not a text file"):
        load_corpus(tmp_path)


def test_no_files():
    with pytest.raises(CorpusError, match="No text was given"):
        load_corpus([])


def test_digest():
    c = load_corpus("abc")
    assert c.digest == hashlib.sha256(b"abc").hexdigest()
    assert isinstance(c, Corpus)


# ------------------------------------------------------------------------------------- encodings

@pytest.mark.parametrize(
    "data, encoding",
    [
        ("naïve “quotes” 😀".encode("utf-8"), "utf-8"),
        ("naïve “quotes” 😀".encode("utf-8-sig"), "utf-8-sig"),
        (b"\xff\xfe" + "naïve “quotes” 😀".encode("utf-16-le"), "utf-16"),
        (b"\xfe\xff" + "naïve “quotes” 😀".encode("utf-16-be"), "utf-16"),
    ],
)
def test_unicode_encodings(data, encoding):
    assert decode_bytes(data) == ("naïve “quotes” 😀", encoding)


def test_latin1():
    c = load_corpus([("old.txt", "café naïve".encode("latin-1"))])
    assert c.text == "café naïve"
    # cp1252 is the superset Windows uses; for these bytes it decodes identically to latin-1.
    assert c.encoding == "cp1252"


def test_cp1252_curly_quotes():
    data = b"She said \x93hello\x94 and left."
    assert decode_bytes(data) == ("She said \u201chello\u201d and left.", "cp1252")


def test_gbk_chinese():
    assert len(CHINESE) > 40
    text, encoding = decode_bytes(CHINESE.encode("gbk"))
    assert text == CHINESE
    assert encoding == "gb18030"


def test_cyrillic_is_not_mistaken_for_cp1252():
    s = "Привет, как дела? Сегодня очень хорошая погода, и мы пойдём гулять в парк."
    assert decode_bytes(s.encode("cp1251")) == (s, "cp1251")


def test_bad_bom():
    with pytest.raises(CorpusError, match="x.txt starts with a utf-8-sig marker but is not valid"):
        decode_bytes(b"\xef\xbb\xbfok \xff\xfe", "x.txt")


# ------------------------------------------------------------------------------------- file kinds

def test_docx(tmp_path):
    docx = pytest.importorskip("docx")
    doc = docx.Document()
    doc.add_paragraph("First paragraph.")
    doc.add_paragraph("Second, with “quotes”.")
    p = tmp_path / "draft.docx"
    doc.save(p)
    c = load_corpus(p)
    assert c.text == "First paragraph.\nSecond, with “quotes”."
    assert c.sources == ("draft.docx",)


def test_fake_docx_refused():
    data = random.Random(0).randbytes(300)
    with pytest.raises(CorpusError, match=r"^fake\.docx is not a readable Word document\.$"):
        load_corpus([("fake.docx", data)])


def test_pdf_refused():
    assert ACCEPTED_SUFFIXES == (".txt", ".md", ".docx")
    with pytest.raises(CorpusError, match=r"paper\.pdf cannot be used: Inkwell accepts \.txt, \.md or \.docx files"):
        load_corpus([("paper.pdf", b"%PDF-1.4")])


# ------------------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("source", ["", b"", [("e.txt", b"")]])
def test_empty(source):
    with pytest.raises(CorpusError, match="is empty"):
        load_corpus(source)


def test_empty_message_names_file():
    with pytest.raises(CorpusError, match=r"^e\.txt is empty\.$"):
        load_corpus([("e.txt", b"")])
    with pytest.raises(CorpusError, match=r"^The text is empty\.$"):
        load_corpus("")
    with pytest.raises(CorpusError, match=r"^The file is empty\.$"):
        load_corpus(b"\xef\xbb\xbf")


def test_whitespace_only():
    with pytest.raises(CorpusError, match=r"^The text contains only whitespace\.$"):
        load_corpus(" \n\t \r\n")
    with pytest.raises(CorpusError, match=r"^w\.txt contains only whitespace\.$"):
        load_corpus([("w.txt", b"   \n\n")])


def test_nul_bytes():
    with pytest.raises(CorpusError, match=r"^n\.txt looks like binary data \(an image or archive\?\), not text\.$"):
        load_corpus([("n.txt", b"hello\x00world")])


def test_random_binary():
    data = random.Random(0).randbytes(4096)
    with pytest.raises(CorpusError, match="The file looks like binary data"):
        load_corpus(data)
    without_nul = bytes(b for b in data if b)
    with pytest.raises(CorpusError, match="looks like binary data"):
        load_corpus([("pic.txt", without_nul)])


def test_utf16_with_nul_characters_is_binary():
    with pytest.raises(CorpusError, match="looks like binary data"):
        decode_bytes(b"\xff\xfe" + "a\x00b".encode("utf-16-le"))


def test_size_cap(tmp_path):
    with pytest.raises(CorpusError, match=r"^The text is 0\.00001 MB, over the 0\.000008 MB limit\.$"):
        load_corpus("0123456789", max_bytes=8)
    p = tmp_path / "big.txt"
    p.write_bytes(b"x" * 200_000)
    with pytest.raises(CorpusError, match=r"^big\.txt is 0\.2 MB, over the 0\.1 MB limit\.$"):
        load_corpus(p, max_bytes=150 * 1024)
    with pytest.raises(CorpusError, match=r"^The files together come to 0\.000011 MB, over the 0\.00001 MB limit\.$"):
        load_corpus([("a.txt", b"x" * 6), ("b.txt", b"y" * 6)], max_bytes=10)
    assert load_corpus("0123456789", max_bytes=10).text == "0123456789"


# ------------------------------------------------------------------------------------- normalising

def test_newlines_normalised():
    assert load_corpus(b"a\r\nb\rc\n").text == "a\nb\nc\n"


def test_nfc():
    c = load_corpus("cafe\u0301")
    assert c.text == "caf\u00e9"
    assert c.stats.chars == 4


def test_leading_bom_char_stripped():
    assert load_corpus("\ufeffhello").text == "hello"


# ------------------------------------------------------------------------------------- cleaning

def test_collapse_blank_lines():
    text = "a\n\n\n\nb\n\nc\n \n\t\nd"
    assert load_corpus(text).text == text
    assert load_corpus(text, clean=CleanOptions(collapse_blank_lines=True)).text == "a\n\nb\n\nc\n\nd"


def test_strip_gutenberg():
    book = (
        "The Project Gutenberg eBook of Tiny\n"
        "Licence blah.\n"
        "*** START OF THE PROJECT GUTENBERG EBOOK TINY ***\n"
        "\n"
        "Chapter 1\n"
        "It was dark.\n"
        "\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK TINY ***\n"
        "More licence.\n"
    )
    assert load_corpus(book, clean=CleanOptions(strip_gutenberg=True)).text == "Chapter 1\nIt was dark."
    assert load_corpus(book).text == book
    this = "*** START OF THIS PROJECT GUTENBERG EBOOK X ***\nBody.\n*** END OF THIS PROJECT GUTENBERG EBOOK X ***"
    assert load_corpus(this, clean=CleanOptions(strip_gutenberg=True)).text == "Body."


def test_gutenberg_strip_per_file():
    one = b"*** START OF THE PROJECT GUTENBERG EBOOK A ***\nAlpha\n*** END OF THE PROJECT GUTENBERG EBOOK A ***\n"
    two = b"*** START OF THE PROJECT GUTENBERG EBOOK B ***\nBeta\n*** END OF THE PROJECT GUTENBERG EBOOK B ***\n"
    c = load_corpus([("a.txt", one), ("b.txt", two)], clean=CleanOptions(strip_gutenberg=True))
    assert c.text == "Alpha\n\nBeta"


def test_gutenberg_header_only_leaves_nothing():
    with pytest.raises(CorpusError, match="The text is empty"):
        load_corpus("*** START OF THE PROJECT GUTENBERG EBOOK X ***\n", clean=CleanOptions(strip_gutenberg=True))


def test_lowercase():
    assert load_corpus("Hello ÉCOLE", clean=CleanOptions(lowercase=True)).text == "hello école"


# ------------------------------------------------------------------------------------- stats

def test_stats_exact():
    s = compute_stats("abca b\nc")
    assert (s.chars, s.distinct, s.words, s.lines) == (8, 5, 3, 2)
    assert s.top_chars == (("a", 2), ("b", 2), ("c", 2), ("\n", 1), (" ", 1))


def test_stats_empty():
    s = compute_stats("")
    assert (s.chars, s.distinct, s.words, s.lines, s.top_chars) == (0, 0, 0, 0, ())


def test_top_chars_capped_at_30():
    text = "".join(chr(0x41 + i) * (i + 1) for i in range(40))
    top = compute_stats(text).top_chars
    assert len(top) == 30
    assert top[0] == (chr(0x41 + 39), 40)
    assert top[-1] == (chr(0x41 + 10), 11)


def test_japanese_and_emoji():
    text = "猫が好き 😀👍🏽 cats!"
    c = load_corpus(text.encode("utf-8"))
    assert c.text == text
    # 猫 が 好 き = 4 words, then 😀👍🏽 and cats! split by spaces.
    assert (c.stats.chars, c.stats.words, c.stats.lines) == (14, 6, 1)
    assert c.stats.distinct == 13
    assert count_chars("😀a😀") == [("😀", 2), ("a", 1)]


def test_chinese_words_counted_per_ideograph():
    s = compute_stats("我爱你 hello world")
    assert s.words == 5


def test_docx_tables_are_read_in_document_order(tmp_path):
    docx = pytest.importorskip("docx")
    doc = docx.Document()
    doc.add_paragraph("Before the table.")
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Keeper"
    table.cell(0, 1).text = "Lamp lit at dusk."
    table.cell(1, 0).merge(table.cell(1, 1)).text = "A merged row, read once."
    inner = table.cell(0, 1).add_table(rows=1, cols=1)
    inner.cell(0, 0).text = "Nested cell."
    doc.add_paragraph("After the table.")
    p = tmp_path / "log.docx"
    doc.save(p)
    # Word ends a cell with a paragraph, so the cell holding the nested table has an empty one after it.
    assert load_corpus(p).text == ("Before the table.\nKeeper\nLamp lit at dusk.\nNested cell.\n\n"
                                   "A merged row, read once.\nAfter the table.")


@pytest.mark.parametrize("encoding, label", [
    ("utf-8", "utf-8"),
    ("utf-8,gb18030", "utf-8 + gb18030"),
    ("utf-8,cp1252,gb18030", "3 encodings"),
])
def test_encoding_label_is_short(encoding, label):
    c = load_corpus("x")
    assert dataclasses.replace(c, encoding=encoding).encoding_label == label


def test_encoding_label_of_two_files():
    c = load_corpus([("a.txt", "naïve".encode("utf-8")), ("b.txt", "café".encode("cp1252"))])
    assert (c.encoding, c.encoding_label) == ("utf-8,cp1252", "utf-8 + cp1252")


def test_chinese_stats_count_rare_characters_and_no_words():
    from chinese import poems
    from textgen.corpus import compute_stats

    from collections import Counter

    text = poems(40_000, 3_000)
    zh = compute_stats(text)
    assert zh.has_words is False and zh.rare == sum(1 for n in Counter(text).values() if n == 1) > 0
    en = compute_stats("The keeper climbs the stair.\n" * 10)
    assert (en.has_words, en.rare, en.words) == (True, 0, 50)
    mixed = compute_stats("灯塔 lighthouse keeper climbs")     # 2 CJK letters of 26: a text with words
    assert mixed.has_words is True


def test_char_label_gives_every_character_a_visible_distinct_label():
    from textgen.corpus import char_label

    chars = [" ", "\n", "\t", "\u3000", "\u00a0", "\f", "\x0b", "\u200b", "，", "。", "灯", "a"]
    labels = [char_label(c) for c in chars]
    assert labels[:6] == ["␣", "↵", "⇥", "␣␣", "⍽", "↡"]
    assert labels[6:8] == ["U+000B", "U+200B"] and labels[8:] == ["，", "。", "灯", "a"]
    assert len(set(labels)) == len(labels) and all(lbl.strip() for lbl in labels)
