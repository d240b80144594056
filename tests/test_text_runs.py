"""textgen.config.is_text_run: which registry rows are text models (every page's list of runs uses it)."""
from textgen import experiments as ex
from textgen import vanishing
from textgen.config import LEVELS, is_text_run


def test_every_text_level_and_an_imported_row_are_text_runs():
    assert [is_text_run({"level": lv}) for lv in LEVELS] == [True, True, True]
    assert is_text_run({"level": None}) and is_text_run({})   # a bundle's import records no level


def test_measurements_and_experiment_cells_are_not():
    assert (vanishing.LEVEL, ex.LEVEL) == ("vanishing", "memory")
    assert not is_text_run({"level": vanishing.LEVEL}) and not is_text_run({"level": ex.LEVEL})
    assert not is_text_run({"level": "some future job"})   # a new kind of job stays out until it is a model
