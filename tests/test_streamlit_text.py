"""Streamlit's own words in Chinese: the stylesheet that redraws them, built from the catalogue; none for English."""
import re

import pytest

from pages import i18n, streamlit_text


@pytest.fixture()
def zh(monkeypatch):
    monkeypatch.setattr(i18n, "current", lambda: "zh")
    monkeypatch.setattr(streamlit_text, "current", lambda: "zh")


def drawn(sheet: str) -> dict[str, str]:
    """selector -> the text its ::after draws."""
    return dict(re.findall(r'(.+)::after \{content: "([^"]*)"', sheet))


def test_english_gets_no_stylesheet():
    assert streamlit_text.css(60) == "" and streamlit_text.uploader_types("k", ["txt"], 60) == ""


def test_the_uploader_the_input_hints_and_the_lists_read_in_chinese(zh):
    said = drawn(streamlit_text.css(60))
    assert said == {
        '[data-testid="stFileUploaderDropzone"] [data-testid="stBaseButton-secondary"] '
        '[data-testid="stMarkdownContainer"] p': "选择文件",
        '[data-testid="stFileUploaderDropzoneInstructions"] span': "每个文件不超过 60 MB",
        '[data-testid="stFileUploaderDropzoneInput"] + div > span': "把文件拖到这里",
        '[data-testid="stFileChip"][aria-invalid="true"] [data-testid="stFileChipName"] + div': "未上传：类型不支持或文件太大",
        '[data-testid="stTextInput"] [data-testid="InputInstructions"] > span:first-child': "按 Enter 键确认",
        '[data-testid="stNumberInput"] [data-testid="InputInstructions"] > span:first-child': "按 Enter 键确认",
        '[data-testid="stTextArea"] [data-testid="InputInstructions"] > span:first-child': "按 Ctrl+Enter 确认",
        '[role="listbox"][data-empty="true"] [role="option"] > span': "没有可选项",
        '[data-key="__select_all__"] [data-item-hl]': "全选",
        '[data-key="__select_matches__"] [data-item-hl]': "全选匹配项",
        '[data-testid="stStatusWidget"] button:enabled': "停止",
        '[data-testid="stStatusWidget"] button:disabled': "正在停止……",
    }
    # Each replaced element's own (English) text is hidden, or both would show.
    hidden = set(re.findall(r"^(.+) \{font-size: 0 !important;\}$", streamlit_text.css(60), re.M))
    assert hidden == set(said)


def test_a_mac_names_its_command_key(zh):
    said = drawn(streamlit_text.css(60, mac=True))
    assert said['[data-testid="stTextArea"] [data-testid="InputInstructions"] > span:first-child'] == "按 ⌘+Enter 确认"


def test_an_uploader_lists_its_types_after_the_size(zh):
    assert drawn(streamlit_text.uploader_types("corpus_files", [".txt", "md", "docx"], 60)) == {
        '.st-key-corpus_files [data-testid="stFileUploaderDropzoneInstructions"] span':
            "每个文件不超过 60 MB · TXT / MD / DOCX"}


def test_a_quote_in_a_translation_cannot_end_the_css_string():
    assert streamlit_text._quoted('a "b" \\ c') == '"a \\"b\\" \\\\ c"'
