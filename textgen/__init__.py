"""Inkwell's engine: corpora, vocabularies, models, training, generation and runs.

`import textgen` never imports TensorFlow: `train` prepares a run without it and imports
the Keras loop (textgen.fit) once the run is ready; generation, evaluation and the registry
use NumPy and SQLite only.
"""
from .artifacts import Run, load_run
from .config import ModelConfig, TrainConfig
from .corpus import CleanOptions, Corpus, CorpusError, load_corpus
from .drafts import Draft
from .errors import ConfigError, GenerationError, InkwellError, RunError
from .evaluate import Evaluation, evaluate
from .generate import Generation, Generator
from .runs import Registry


def train(*args, **kwargs):
    """See textgen.train.train; imported lazily so TensorFlow loads only in processes that train."""
    from .train import train as _train

    return _train(*args, **kwargs)


def list_runs(workspace=None, owner=None) -> list[dict]:
    """Every run (owner None: the command line), or those a writer's Identity may see."""
    return Registry(workspace).list_runs(owner, shared=True)


__all__ = ["load_corpus", "train", "load_run", "Generator", "evaluate", "list_runs", "Corpus", "CleanOptions",
           "Draft", "ModelConfig", "TrainConfig", "Run", "Generation", "Evaluation", "Registry", "InkwellError",
           "CorpusError", "ConfigError", "RunError", "GenerationError"]
