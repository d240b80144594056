"""The app in Chinese in a real browser: a browser set to zh-CN opens in 中文; paste a Chinese text, check and
save it, then a screenshot of every page (tests/e2e/screenshots/zh-*.png; fonts-noto-cjk draws the characters).
Streamlit's own words (the uploader, the Enter hints) are drawn in Chinese by pages/streamlit_text.py."""
import re

from playwright.sync_api import expect

from .test_browser import _settle, _shot

# Lines of our own, in the manner of a classical quatrain (the team wrote them; free to use).
LINES = ("山前细雨落青苔", "灯下孤舟夜未回", "风过小桥人不见", "一声渔笛月中来",
         "江边柳色映春潮", "远寺钟声过石桥", "莫问归期何处是", "白云深处有渔樵")


def _poems(n: int = 60) -> str:
    out = []
    for i in range(n):
        a, b = LINES[i % len(LINES)], LINES[(i * 3 + 1) % len(LINES)]
        out.append(f"{a}，{b}。")
    return "\n".join(out)


def _token(page) -> str:
    return page.url.split("w=")[1].split("&")[0]


def _go(page, url, path, heading, shot):
    """A page by its address with the writer's own link (?w=); its title, exactly, is the Chinese one."""
    page.goto(f"{url}{path}?w={_token(page)}")
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=60_000)
    _settle(page)
    _shot(page, shot)


def _drawn(locator) -> tuple[str, str]:
    """(the element's own font size, the text its ::after draws): the English is hidden, the Chinese drawn."""
    return tuple(locator.evaluate("e => [getComputedStyle(e).fontSize, getComputedStyle(e, '::after').content]"))


def test_every_page_in_chinese(server, browser):
    url, _home = server
    context = browser.new_context(viewport={"width": 1280, "height": 1800}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(url + "/corpus")
        expect(page.get_by_role("heading", name="语料", exact=True)).to_be_visible(timeout=60_000)   # the browser's language
        _settle(page)
        _shot(page, "zh-corpus-empty")
        page.get_by_label("你的文本").fill(_poems())
        hint = page.locator('[data-testid="stTextArea"] [data-testid="InputInstructions"] > span').first
        assert _drawn(hint) == ("0px", '"按 Ctrl+Enter 确认"')
        _shot(page, "zh-corpus-typed")
        page.get_by_role("radio", name="上传文件").click()   # the uploader: its button, size and types
        box = page.locator('[data-testid="stFileUploaderDropzone"]')
        expect(box).to_be_visible(timeout=30_000)
        assert _drawn(box.locator('[data-testid="stMarkdownContainer"] p')) == ("0px", '"选择文件"')
        assert _drawn(box.locator('[data-testid="stFileUploaderDropzoneInstructions"] span')) == (
            "0px", '"每个文件不超过 60 MB · TXT / MD / DOCX"')
        _shot(page, "zh-corpus-upload")
        page.get_by_role("radio", name="粘贴文本").click()
        expect(page.get_by_label("你的文本")).to_have_value(_poems(), timeout=30_000)
        page.get_by_role("button", name="检查文本").click()
        expect(page.get_by_text("模型将会看到的内容")).to_be_visible(timeout=60_000)
        _settle(page)
        _shot(page, "zh-corpus-checked")
        page.get_by_role("button", name="保存语料").click()
        expect(page.get_by_text("已保存，可以在“训练”页使用了。")).to_be_visible(timeout=30_000)
        _go(page, url, "/train", "训练", "zh-train")
        page.get_by_text("显示超参数").click()
        _settle(page)
        _shot(page, "zh-train-hyperparameters")
        # Switching language and back keeps the preset chosen (Streamlit keeps a choice by its label on screen).
        page.get_by_role("radio", name=re.compile("^短时")).check(force=True)
        _settle(page)
        for lang, heading, short in (("English", "Train", "^Short"), ("中文", "训练", "^短时"), ("English", "Train", "^Short")):
            page.get_by_text(lang, exact=True).click()
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=30_000)
            _settle(page)
            assert page.get_by_role("radio", name=re.compile(short)).is_checked(), lang
        expect(page.get_by_text("This app has encountered an error")).to_have_count(0)
        page.get_by_text("中文", exact=True).click()
        expect(page.get_by_role("heading", name="训练", exact=True)).to_be_visible(timeout=30_000)
        _go(page, url, "/runs", "训练记录", "zh-runs")
        _go(page, url, "/", "写作", "zh-write")
        _go(page, url, "/inside", "模型内部", "zh-inside")
        # The choice is the writer's: switching to English there and back is remembered on a reload.
        _go(page, url, "/corpus", "语料", "zh-corpus-saved")
        page.get_by_text("English", exact=True).click()
        expect(page.get_by_role("heading", name="Corpus", exact=True)).to_be_visible(timeout=30_000)
        page.reload()
        expect(page.get_by_role("heading", name="Corpus", exact=True)).to_be_visible(timeout=60_000)
        page.get_by_text("中文", exact=True).click()
        expect(page.get_by_role("heading", name="语料", exact=True)).to_be_visible(timeout=30_000)
    finally:
        context.close()
