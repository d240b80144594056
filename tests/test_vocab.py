import json

import numpy as np
import pytest

from textgen.errors import ConfigError
from textgen.vocab import UNK, Vocab, tokenize

TRICKY = [
    "",
    " ",
    "  leading and trailing  ",
    "\ttabs\tand\nnewlines\n\n",
    "don't stop—now!!! ...?!",
    "emoji 😀👍🏽 and a family 👨‍👩‍👧 too",
    "我爱你中国。日本語のテキスト、カタカナ！",
    "mixed中文words and numbers 42.5%",
    "\r\n\x0c odd whitespace \u00a0 nbsp",
    "a\u0301 combining",
    "l’apostrophe ’quoted’ 'single'",
]


def test_char_build_is_deterministic():
    v = Vocab.build("abracadabra")
    # a:5, b:2, r:2, c:1, d:1 -> frequency descending, ties by character.
    assert v.tokens == [UNK, "a", "b", "r", "c", "d"]
    assert v.level == "char"
    assert len(v) == 6
    assert Vocab.build("abracadabra").tokens == v.tokens


def test_char_encode_decode_round_trip():
    v = Vocab.build("abracadabra")
    ids, unknown = v.encode("cab")
    assert ids.dtype == np.int32
    assert ids.tolist() == [4, 1, 2]
    assert unknown == []
    assert v.decode(ids) == "cab"
    assert v.decode([1, 2]) == "ab"


def test_unicode_char_round_trip():
    text = "猫が好き 😀 café"
    v = Vocab.build(text)
    ids, unknown = v.encode(text)
    assert unknown == []
    assert v.decode(ids) == text


def test_unknown_chars_map_to_zero_and_are_reported():
    v = Vocab.build("abc")
    ids, unknown = v.encode("azbyz😀")
    assert ids.tolist() == [1, 0, 2, 0, 0, 0]
    assert unknown == ["y", "z", "😀"]
    assert v.missing("azbyz😀") == ["y", "z", "😀"]
    assert v.decode(ids) == "a\ufffdb\ufffd\ufffd\ufffd"
    assert v.token_text(0) == "\ufffd"
    assert v.token_text(2) == "b"


def test_empty_text_encodes_to_nothing():
    v = Vocab.build("abc")
    ids, unknown = v.encode("")
    assert ids.shape == (0,) and unknown == []
    assert v.decode(ids) == ""


@pytest.mark.parametrize("text", TRICKY)
def test_word_tokenize_round_trip(text):
    assert "".join(tokenize(text, "word")) == text
    v = Vocab.build(text, level="word")
    ids, unknown = v.encode(text)
    assert unknown == []
    assert v.decode(ids) == text


def test_word_tokens():
    assert tokenize("  Don't panic,\tDave!\n\n", "word") == ["  ", "Don't", " ", "panic", ",", "\t", "Dave", "!", "\n\n"]
    assert tokenize("我爱你 ok", "word") == ["我", "爱", "你", " ", "ok"]
    assert tokenize("ab", "char") == ["a", "b"]
    assert Vocab.build("x", level="word").tokenize("a b") == ["a", " ", "b"]


def test_tokenize_rejects_unknown_level():
    with pytest.raises(ConfigError, match="level must be 'char', 'word' or 'subword', not 'byte'"):
        tokenize("x", "byte")


def test_word_max_size_maps_rare_words_to_unk():
    text = "the cat the dog the cat bird"
    v = Vocab.build(text, level="word", max_size=4)
    # " ":6, "the":3, "cat":2, then bird/dog (1 each) fall off.
    assert v.tokens == [UNK, " ", "the", "cat"]
    ids, unknown = v.encode("the dog")
    assert ids.tolist() == [2, 1, 0]
    assert unknown == ["dog"]
    assert v.decode(ids) == "the \ufffd"


def test_max_size_too_small():
    with pytest.raises(ConfigError, match="at least one token besides <unk>, not 1"):
        Vocab.build("abc", max_size=1)


def test_json_round_trip():
    v = Vocab.build("hello world", level="word")
    d = v.to_json()
    assert d == {"level": "word", "tokens": [UNK, " ", "hello", "world"]}
    assert Vocab.from_json(json.loads(json.dumps(d))) == v
    assert Vocab.build("ab") != Vocab.build("ab", level="word")


@pytest.mark.parametrize(
    "data, message",
    [
        ([UNK, "a"], "must be a JSON object with 'level' and 'tokens'"),
        ({"tokens": [UNK]}, "must be a JSON object with 'level' and 'tokens'"),
        ({"level": "byte", "tokens": [UNK]}, "level must be 'char', 'word' or 'subword', not 'byte'"),
        ({"level": "char", "tokens": "abc"}, "tokens must be a list of strings"),
        ({"level": "char", "tokens": [UNK, 3]}, "tokens must be a list of strings"),
        ({"level": "char", "tokens": ["a", UNK]}, "must start with the unknown token <unk>"),
        ({"level": "char", "tokens": []}, "must start with the unknown token <unk>"),
        ({"level": "char", "tokens": [UNK, "a", "a"]}, "lists the same token twice"),
        ({"level": "char", "tokens": [UNK, "ab"]}, "must hold single characters"),
    ],
)
def test_from_json_rejects_bad_data(data, message):
    with pytest.raises(ConfigError, match=message):
        Vocab.from_json(data)


def test_decode_rejects_out_of_range_ids():
    v = Vocab.build("ab")
    with pytest.raises(ConfigError, match="outside this vocabulary of 3 tokens"):
        v.decode([1, 7])
    with pytest.raises(ConfigError, match="Token id 3 is outside this vocabulary of 3 tokens"):
        v.token_text(3)


def test_save_and_load(tmp_path):
    v = Vocab.build("naïve 猫 😀")
    path = tmp_path / "vocab.json"
    v.save(path)
    assert Vocab.load(path) == v
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]  # no temp file left behind
    v2 = Vocab.build("xyz")
    v2.save(path)  # overwrite in place
    assert Vocab.load(path) == v2


def test_load_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        Vocab.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="is not readable JSON"):
        Vocab.load(bad)


def test_characters_and_words_decode_token_by_token_and_are_never_healed():
    v = Vocab.build("abracadabra")
    ids, _ = v.encode("cab")
    decoder = v.decoder()
    assert [decoder.decode(i) for i in ids.tolist()] == ["c", "a", "b"]
    kept, healed = v.heal(ids)
    assert kept.tolist() == ids.tolist() and healed == b""
    assert v.starting_with(b"").all() and len(v.starting_with(b"")) == len(v)
    with pytest.raises(ConfigError, match="Only word pieces are healed"):
        v.decoder(skip=1)
    words = Vocab.build("the cat sat", level="word")
    assert "".join(words.decoder().decode(i) for i in words.encode("cat sat")[0].tolist()) == "cat sat"


def test_a_large_alphabet_maps_characters_seen_once_to_unk():
    from chinese import poems
    from textgen.vocab import LARGE_ALPHABET, kept_chars
    from textgen.corpus import count_chars

    text = poems(40_000, 3_000)
    counts = dict(count_chars(text))
    assert len(counts) > LARGE_ALPHABET
    v = Vocab.build(text, "char")
    once = sorted(c for c, n in counts.items() if n == 1)
    assert len(v) == len(counts) - len(once) + 1 and once
    ids, unknown = v.encode(text)
    assert unknown == once and int((ids == 0).sum()) == len(once)
    assert all(v.encode(c)[0][0] != 0 for c, n in counts.items() if n >= 2)
    small = "the lamp turns 灯塔" * 3 + "x"                        # a small alphabet keeps even a character seen once
    assert "x" in Vocab.build(small, "char").tokens
    assert kept_chars([("a", 1)]) == [("a", 1)]


def test_chinese_word_pieces_round_trip_and_count_about_one_a_character():
    from pathlib import Path

    from textgen import data

    zh = (Path(__file__).parent.parent / "assets" / "sample_zh.txt").read_text("utf-8")
    train, val = data.split(zh, 0.1)
    v = Vocab.build(train, "subword", 2048)
    ids = v.encode(val)[0]
    assert v.decode(ids) == val and "".join(v.tokenize(val)) == val
    # Each character is 3 bytes: 2,048 pieces hold the common characters whole and spell the rest in bytes,
    # so a piece is only a little more than a character (English pieces are about three).
    assert 0.8 < len(ids) / len(val) < 1.0
    stream = v.decoder()
    assert "".join(stream.decode(int(i)) for i in ids) == val
