"""Markdown escaping: on screen every mark is escaped; in a .md file only what Markdown would misread.

The file's promise is checked by rendering it: markdown-it-py (CommonMark with GFM's tables and
strikethrough) must give back exactly the draft's text, with no tag but paragraphs, breaks and emphasis.
"""
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from textgen import drafts
from textgen.drafts import Draft
from textgen.markup import NBSP, WORD_JOINER, StreamEscaper, draft_markdown, escape_file, escape_markdown

W, M = "writer", "model"
J = WORD_JOINER
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.tags, self.italic = [], [], None
        self.italics: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "p" and self.parts:
            self.parts.append("\n")      # with the newline markdown-it writes after </p>: a blank line
        if tag == "em":
            self.italic = []

    def handle_endtag(self, tag):
        if tag == "em":
            self.italics.append("".join(self.italic))
            self.italic = None

    def handle_data(self, data):
        self.parts.append(data)
        if self.italic is not None:
            self.italic.append(data)


def rendered(markdown: str) -> tuple[str, list[str], list[str]]:
    """(the text a reader sees, the tags it is in, the italic runs) of Markdown as CommonMark/GFM shows it."""
    parser = _Text()
    parser.feed(MD.render(markdown))
    parser.close()
    return "".join(parser.parts).rstrip("\n"), parser.tags, parser.italics


def seg(author, text):
    return {"author": author, "text": text}


# -- on screen ---------------------------------------------------------------------------------------
def test_escape_markdown_escapes_every_mark():
    assert escape_markdown("<b>[x](javascript:alert(1))</b>") == (
        r"\<b\>\[x\]\(javascript\:alert\(1\)\)\<\/b\>")
    assert escape_markdown("*a* _b_ #c `d` $e$ ~f~ |g| &h; \\") == (
        r"\*a\* \_b\_ \#c \`d\` \$e\$ \~f\~ \|g\| \&h\; \\")
    assert escape_markdown("plain words, 123 é") == r"plain words\, 123 é"


def test_the_old_import_path_is_the_same_function():
    assert drafts.escape_markdown is escape_markdown


def test_break_links_stops_bare_urls_with_invisible_joiners():
    assert escape_markdown("see https://x.io, WWW.y.org or a@b.co", break_links=True) == (
        f"see https{J}\\:\\/\\/x\\.io\\, WWW{J}\\.y\\.org or a{J}\\@b\\.co")
    d = Draft.from_text("go to www.x.com")
    assert d.to_markdown() == "go to www.x.com"                        # downloads keep the text exact
    assert d.to_markdown(screen=True) == f"go to www{J}\\.x\\.com"


def test_screen_view_escapes_all_and_wraps_the_model_text():
    d = Draft([seg(W, "Hello"), seg(M, ", world"), seg(W, "!\n  next")])
    assert d.to_markdown(":violet[*{}*]", screen=True) == (
        f"Hello:violet[*\\, world*]\\!\\\n{NBSP}{NBSP}next")


def test_the_stream_escape_keeps_line_starts_across_pieces():
    escape = StreamEscaper()
    pieces = ["see a.b", "\n", "  x*y ", " z"]
    assert [escape(p) for p in pieces] == [f"see a{J}\\.b", "  \n", f"{NBSP}{NBSP}x\\*y ", " z"]
    assert StreamEscaper()("[a](u)\n\tq") == f"\\[a\\]\\(u\\)  \n{NBSP}q"


# -- in a file ---------------------------------------------------------------------------------------
PLAIN = ("The wall. The gulls slowly, quietly; (not) \"quite\" 'so'! Why? 50% of $3 = a+b - c: 1.5 #2 "
         "> 1 @noon {x} ^ / = a.b@c.d https://x.io & &&")

TRICKY = [
    "*not emphasis*, _nor this_, **nor this**, `nor code`, ~~nor struck~~, ~nor this~",
    "[a link](http://x.io) ![an image](x.png) [ref] [^1]\n\n[ref]: http://x.io \"t\"",
    "<b>bold?</b> <script>alert(1)</script> <http://x.io> a<b <!-- no -->",
    "&amp; &#42; &#x2A; &copy; stay as typed; so do & and && and a&b;",
    "# not a heading\n## nor this\n> not a quote\n- not a list\n+ nor this\n* nor this\n1. not numbered\n2) nor this",
    "Title\n===\nSub\n---\n***\n___\n- - -\n= = =",
    "a | b\n--- | ---\n1 | 2",
    "```\nnot code\n```\n~~~\nnor this\n~~~",
    "back\\slash \\*, \\[, \\\\ and a last one \\",
    "snake_case_word 2*3*4 a_b* [x]: y",
    "- [ ] not a task\n1986. A great year.\n123456789) and 1234567890. too",
    "Line one\nline two\n\nA new paragraph\n\u00a0\u00a0after two no-break spaces",
]


def test_plain_punctuation_is_not_escaped_in_a_file():
    assert Draft.from_text(PLAIN).to_markdown() == PLAIN
    assert escape_file("wall. The gulls slowly,") == "wall. The gulls slowly,"
    assert rendered(PLAIN) == (PLAIN, ["p"], [])


def test_a_file_escapes_only_what_markdown_would_misread():
    assert escape_file(r"*a* _b_ `c` [d] <e> ~f~ |g| \h &amp; & &x") == (
        r"\*a\* \_b\_ \`c\` \[d\] \<e> \~f\~ \|g\| \\h \&amp; & &x")
    md = Draft.from_text("# a\n> b\n- c\n+ d\n= e\n12. f\n3) g\n#no space\nmid # > - + = 1. line").to_markdown()
    assert md == ("\\# a\\\n\\> b\\\n\\- c\\\n\\+ d\\\n\\= e\\\n12\\. f\\\n3\\) g\\\n\\#no space\\\n"
                  "mid # > - + = 1. line")


@pytest.mark.parametrize("text", TRICKY)
def test_a_file_renders_as_exactly_the_drafts_text(text):
    text_seen, tags, _ = rendered(Draft.from_text(text).to_markdown())
    assert text_seen == text
    assert set(tags) <= {"p", "br"}


@pytest.mark.parametrize("segments, italic", [
    ([seg(W, "Hello"), seg(M, ", world"), seg(W, "!")], ["world"]),
    ([seg(W, "She said"), seg(M, ' "no,"'), seg(W, "then left.")], ['"no']),
    ([seg(W, "The lantern kee"), seg(M, "per said *hi*.")], ["per said *hi*."]),
    ([seg(M, "# Heading?\n- item? "), seg(W, "yes")], ["# Heading?", "- item?"]),
    ([seg(W, "1"), seg(M, ". Not a list")], ["Not a list"]),
    ([seg(W, "Wait"), seg(M, "...")], []),
    ([seg(W, "a "), seg(M, "<b> & [x]"), seg(W, " c")], ["<b> & [x]"]),
])
def test_the_models_text_is_emphasis_and_the_text_stays_exact(segments, italic):
    text_seen, tags, italics = rendered(Draft(segments).to_markdown())
    assert text_seen == Draft(segments).text
    assert set(tags) <= {"p", "br", "em"}
    assert italics == italic


def test_the_model_format_wraps_each_line_and_leaves_spaces_outside():
    assert draft_markdown([seg(W, "A"), seg(M, " b \n c")]) == f"A *b*\\\n{NBSP}*c*"
    assert draft_markdown([seg(M, "x")], "**{}**") == "**x**"


def test_chinese_model_text_is_never_italic():
    from textgen.markup import cjk_format

    assert draft_markdown([seg(W, "灯塔"), seg(M, "照着海。")]) == "灯塔**照着海。**"
    assert draft_markdown([seg(W, "灯塔"), seg(M, "照着海。")], ":violet[*{}*]", screen=True) == (
        "灯塔:violet-background[照着海。]")
    assert draft_markdown([seg(W, "The "), seg(M, "lamp")], ":violet[*{}*]", screen=True) == "The :violet[*lamp*]"
    # Per line: an English line stays italic beside a Chinese one.
    assert draft_markdown([seg(M, "lamp\n灯")]) == "*lamp*\\\n**灯**"
    assert [cjk_format(f) for f in ("*{}*", "_{}_", ":violet[*{}*]", "**{}**", ":blue[{}]")] == [
        "**{}**", "**{}**", ":violet-background[{}]", "**{}**", ":blue[{}]"]
    html = MD.render(draft_markdown([seg(W, "灯塔"), seg(M, "照着海。"), seg(W, "好")]))
    assert html == "<p>灯塔<strong>照着海</strong>。好</p>\n"   # the stop stays outside, so the ** closes
