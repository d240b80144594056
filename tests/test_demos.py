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
