"""A writer's whole path in a real browser: paste a text, train a tiny model, watch the loss chart
change, then continue a draft on the Write page and see it grow. Screenshots of every page."""
import re
import time

from playwright.sync_api import expect

from .conftest import SHOTS

WORDS = ("harbor lamp tide gull bread rope fog keeper boat quay stone bell salt wind rain light "
         "night morning step tower window net shell sail").split()


def _text(n_sentences: int = 80) -> str:
    # A deterministic made-up text: no one else's words.
    out = []
    for i in range(n_sentences):
        w = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(6)]
        out.append(f"The {w[0]} and the {w[1]} met the {w[2]} by the {w[3]}, {w[4]} after {w[5]}.")
    return "\n".join(out)


# Streamlit draws grey skeletons while a script runs and a status widget in the corner; a screenshot taken then
# shows placeholders. Settled: the script is not running, none of those is on screen, and it stays so a moment.
SETTLED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') !== 'running'
        && document.querySelectorAll('[data-testid="stSkeleton"], [data-testid="stStatusWidget"]').length === 0;
}"""


def _settle(page):
    page.wait_for_timeout(300)
    for _ in range(2):   # twice: a rerun can start just after the first check passes
        page.wait_for_function(SETTLED, timeout=60_000)
        page.wait_for_timeout(500)


def _element_shot(page, locator, tries: int = 10):
    """A screenshot of the element, or None. The live panel redraws every second, and an element
    replaced between finding it and taking its picture is "not attached to the DOM": try again."""
    from playwright.sync_api import Error

    for _ in range(tries):
        try:
            if locator.is_visible():
                return locator.screenshot(timeout=10_000)
        except Error:
            pass
        page.wait_for_timeout(200)
    return None


def _shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _open(page, url, path, heading, shot=None):
    """Go to a page by its address, as a writer following their own link: the writer token (?w=) comes along,
    since a writer's corpora and runs belong to it."""
    from urllib.parse import parse_qs, urlparse

    token = parse_qs(urlparse(page.url).query).get("w")
    page.goto(url + path + (f"?w={token[0]}" if token else ""))
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    _settle(page)
    if shot:
        _shot(page, shot)


def test_paste_train_watch_and_write(server, browser):
    url, home = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)

    # First visit: Write with the demo model (the default page).
    _open(page, url, "", "Write", "1-write-first-visit")

    # Corpus: paste, check, save.
    _open(page, url, "/corpus", "Corpus")
    page.get_by_role("textbox", name="Your text").fill(_text())
    page.get_by_role("button", name="Check text").click()
    expect(page.get_by_text("What the model will see")).to_be_visible()
    page.get_by_role("textbox", name="Name").fill("Harbor words")
    page.get_by_role("button", name="Save corpus").click()
    expect(page.get_by_text("Saved. It is ready on the Train page.")).to_be_visible()
    _settle(page)
    _shot(page, "2-corpus")

    # Train: the Quick preset, cut to 20 s by the host limit (tracing the GRU kernel takes 5-10 s of it);
    # the chart appears and changes.
    _open(page, url, "/train", "Train", "3-train-form")
    page.get_by_role("button", name="Start training").click()
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    expect(chart).to_be_visible(timeout=180_000)
    first = _element_shot(page, chart)
    assert first is not None, "the loss chart kept being redrawn: no screenshot of it could be taken"
    _shot(page, "4-train-live")
    changed = False
    for _ in range(120):
        page.wait_for_timeout(1000)
        now = _element_shot(page, chart)
        if now is not None and now != first:
            changed = True
            break
    assert changed, "the loss chart never changed while training"
    expect(page.get_by_role("button", name=re.compile("Write with this model"))).to_be_visible(timeout=240_000)
    _settle(page)
    _shot(page, "5-train-done")

    # Write with the new model: the draft grows.
    page.get_by_role("button", name=re.compile("Write with this model")).click()
    expect(page.get_by_role("heading", name="Write")).to_be_visible()
    box = page.get_by_role("textbox", name="Your draft")
    box.fill("The harbor lamp")
    box.press("Tab")   # commit the edit, as a writer moving to the button would
    _settle(page)
    page.get_by_role("button", name="Continue", exact=True).click()
    deadline = time.time() + 60
    while time.time() < deadline and len(box.input_value()) <= len("The harbor lamp"):
        page.wait_for_timeout(500)
    grown = box.input_value()
    assert grown.startswith("The harbor lamp") and len(grown) > len("The harbor lamp")
    _settle(page)
    _shot(page, "6-write-continued")

    # Runs: the trained run is listed.
    _open(page, url, "/runs", "Runs", "7-runs")
    page.close()


def test_inside_runs_the_quick_memory_experiment(server, browser):
    """Inside: start the quick memory experiment through the job runner and find its chart drawn."""
    url, home = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(url + "/inside")   # the first view of a fresh server: slower than _open's 5 s on a busy machine
    expect(page.get_by_role("heading", name="Inside")).to_be_visible(timeout=90_000)
    _settle(page)
    page.get_by_text(re.compile("^Quick: gaps")).click()
    _settle(page)
    page.get_by_role("button", name="Run the experiment").click()
    # Three workers in turn (one per cell), each starting TensorFlow: the first result draws the chart.
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    expect(chart).to_be_visible(timeout=300_000)
    expect(page.get_by_text(re.compile(r"chance is 25%"))).to_be_visible()
    expect(page.get_by_text(re.compile("6 of 6 trainings measured"))).to_be_visible(timeout=400_000)
    _settle(page)
    _shot(page, "8-inside-experiment")
    # The chart alone, as the README shows the full experiment's (benchmarks/memory_chart.py takes that one).
    from benchmarks.memory_chart import save_chart

    png = save_chart(page, SHOTS / "8-inside-memory-chart.png")
    head = png.read_bytes()[:24]
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and width > 400 and 250 < height < width, (width, height)
    page.close()


def test_write_odds_branch_and_surprise(server, browser):
    """Write with the demo model: the odds chart is drawn, one branch rewrites the model's piece, and the
    Surprise view shades the draft."""
    url, home = server
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.set_default_timeout(60_000)
    page.goto(url)   # Write is the default page: its address is the root, not /write
    expect(page.get_by_role("heading", name="Write")).to_be_visible(timeout=90_000)
    _settle(page)
    _shot(page, "8-write-open")
    box = page.get_by_role("textbox", name="Your draft")
    box.fill("The keeper climbed the tower")
    box.press("Tab")
    _settle(page)
    odds = page.locator(".st-key-w_odds [data-testid='stVegaLiteChart'], [data-testid='stVegaLiteChart']").first
    expect(page.get_by_text("What the model expects next")).to_be_visible()
    expect(odds).to_be_visible()
    page.get_by_role("button", name="Continue", exact=True).click()
    deadline = time.time() + 60
    while time.time() < deadline and len(box.input_value()) <= len("The keeper climbed the tower"):
        page.wait_for_timeout(500)
    _settle(page)
    continued = box.input_value()
    assert continued.startswith("The keeper climbed the tower") and len(continued) > len("The keeper climbed the tower")
    expect(page.get_by_text("Branch the model's last piece")).to_be_visible()
    _shot(page, "9-write-odds")

    # Branch: the first alternative the model weighed that is not the token it wrote.
    choice = page.locator(".st-key-w_branch_row button:not([disabled])").first
    expect(choice).to_be_visible()
    choice.click()
    _settle(page)
    branched = box.input_value()
    assert branched.startswith("The keeper climbed the tower") and branched != continued
    _shot(page, "10-write-branched")

    # Surprise: the view is shaded, with the two averages beside it.
    page.get_by_text("Surprise", exact=True).click()
    _settle(page)
    expect(page.get_by_text("Your text", exact=True)).to_be_visible()
    expect(page.get_by_text("The model's text", exact=True)).to_be_visible()
    _shot(page, "11-write-surprise")
    page.close()
