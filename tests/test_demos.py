from textgen import demos
from textgen.artifacts import DEMO_DIR, DEMO_ID


def test_the_demo_follows_the_interface_language():
    assert demos.demo_for("zh").id == "demo-zh" and demos.demo_for("zh").dir.name == "demo_zh"
    assert [demos.demo_for(x).id for x in ("zh-CN", "zh_Hans", "ZH-tw", "en", "en-GB", "fr", "", None)] == [
        "demo-zh", "demo-zh", "demo-zh", "demo", "demo", "demo", "demo", "demo"]
    en = demos.demo_for("en")
    assert (en.id, en.dir) == (DEMO_ID, DEMO_DIR)   # the English demo is the one the app has always shipped
    assert demos.demo_for("zh").sample.name == "sample_zh.txt"


def test_demos_are_found_by_id_and_the_shipped_ones_are_complete():
    assert demos.by_id("demo-zh") is demos.DEMOS["zh"] and demos.by_id("20261202-000000-abcdef") is None
    for demo in demos.DEMOS.values():
        assert demos.available(demo), demo.dir
        assert demo.sample.is_file()


def test_the_chinese_demo_opens_and_writes_chinese_with_its_own_sample(tmp_path):
    from textgen.artifacts import load_run
    from textgen.generate import Generator, weights_version

    run = load_run("demo-zh", tmp_path)
    assert run.id == "demo-zh" and run.dir == demos.DEMOS["zh"].dir
    assert run.corpus_path == demos.DEMOS["zh"].sample
    assert weights_version("demo-zh", tmp_path) == (run.dir / "weights.npz").stat().st_mtime_ns
    gen = Generator("demo-zh", workspace=tmp_path)
    text = gen.generate("海", 30, temperature=0.8, seed=3).text
    assert text == Generator("demo-zh", workspace=tmp_path).generate("海", 30, temperature=0.8, seed=3).text
    assert sum("\u4e00" <= ch <= "\u9fff" for ch in text) >= 10   # mostly Chinese characters
    assert gen.name()[0] == "the demo model"
