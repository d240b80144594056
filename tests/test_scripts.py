from textgen import scripts
from textgen.vocab import Vocab

ENGLISH = Vocab.build("the gull turns over the harbour wall and the bell rings twice", "char")


def test_script_of_letters():
    assert [scripts.script(c) for c in "a明я1 "] == ["Latin letters", "Chinese characters", "Cyrillic letters",
                                                    None, None]


def test_a_chinese_draft_on_an_english_model_is_named_in_one_sentence():
    said = scripts.mismatch("床前明月光，疑是地上霜。举头望明月", ENGLISH)
    assert said == ("Your draft is mostly in Chinese characters, but this model learned Latin letters: it will not "
                    "understand your text. Choose a model trained on text like yours, or train one.")


def test_no_note_for_a_matching_or_too_short_draft():
    assert scripts.mismatch("The harbour bell rang twice at night.", ENGLISH) == ""
    assert scripts.mismatch("明月", ENGLISH) == ""                       # too few letters to say
    chinese = Vocab.build("床前明月光疑是地上霜举头望明月低头思故乡", "char")
    assert scripts.mismatch("床前明月光，疑是地上霜。举头望明月", chinese) == ""


def test_has_cjk_sees_ideographs_kana_and_cjk_punctuation():
    from textgen.scripts import has_cjk

    assert [has_cjk(t) for t in ("灯塔", "かな", "Hello，", "「", "Hello, world", "café", "")] == [
        True, True, True, True, False, False, False]
