"""The shared generation service: writers' rows of one model advance together, each text the one
Generator.stream writes for its seed, and no writer is held up or lost by another's stopping."""
import threading

import numpy as np
import pytest

from textgen import ModelConfig, Registry, TrainConfig
from textgen.artifacts import DEMO_ID, write_config
from textgen.atomic import write_npz
from textgen.batcher import Batcher, BatcherConfig
from textgen.generate import Generator
from textgen.vocab import Vocab

PROMPT = "The keeper climbed the tower and looked out over the harbor. "


@pytest.fixture(scope="module")
def demo():
    return Generator(DEMO_ID)


def random_run(text: str, cell: str) -> str:
    """A run with random weights of the shapes training writes (no TensorFlow)."""
    vocab = Vocab.build(text, "char")
    cfg = ModelConfig(vocab_size=len(vocab), cell=cell, layers=2, units=12, embedding=6).validate()
    gates = {"gru": 3, "lstm": 4, "rnn": 1}[cell] * cfg.units
    rng = np.random.default_rng(1)
    shapes = {"embedding": (cfg.vocab_size, 6), "logits/kernel": (12, cfg.vocab_size), "logits/bias": (cfg.vocab_size,)}
    for i, fan_in in enumerate((6, 12)):
        shapes |= {f"rnn_{i}/kernel": (fan_in, gates), f"rnn_{i}/recurrent": (12, gates),
                   f"rnn_{i}/bias": (2, gates) if cell == "gru" else (gates,)}
    reg = Registry()
    run_id = reg.create_run(f"random {cell}", status="done", cell=cell, layers=2, units=12)
    write_config(reg.run_dir(run_id), cfg, TrainConfig(), {"label": f"random {cell}"})
    vocab.save(reg.run_dir(run_id) / "vocab.json")
    write_npz(reg.run_dir(run_id) / "weights.npz",
              {k: rng.normal(0, 0.6, s).astype(np.float32) for k, s in shapes.items()})
    return run_id


def read_all(requests) -> list[list[str]]:
    """Each request's pieces, read on threads of their own as the page's script threads do."""
    out = [None] * len(requests)

    def read(i):
        out[i] = list(requests[i])

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return out


def test_rows_of_one_model_share_each_step_and_write_what_stream_writes(demo):
    settings = [dict(length=120, seed=s, temperature=t, top_k=k, top_p=p, stop=stop)
                for s, t, k, p, stop in [(1, 0.8, 0, 1.0, "length"), (2, 1.3, 0, 1.0, "length"),
                                         (3, 0.5, 10, 1.0, "length"), (4, 0.9, 0, 0.8, "sentence"),
                                         (5, 0.0, 0, 1.0, "length"), (6, 1.0, 0, 1.0, "line")]]
    settings.append(dict(length=80, seed=7, repetition_penalty=1.4, ban=("the",)))
    prompts = [PROMPT + f"Writer {i} began. " for i in range(len(settings))]
    batcher = Batcher()
    with batcher._lock:   # hold the service until every row is queued, so they all share the first step
        requests = [batcher.submit(demo, p, **kw) for p, kw in zip(prompts, settings)]
    pieces = read_all(requests)
    for p, kw, got in zip(prompts, settings, pieces):
        expected = list(demo.stream(p, **kw))
        assert "".join(got) == "".join(expected) and got == [x for x in got if x]
        assert len([x for x in got if x]) == len(expected)           # piece by piece, not in one lump
    assert batcher.steps == 120                                      # the longest row's steps, not the sum
    assert batcher.rows_stepped == sum(len(r.walk.begin.tokens[0]) for r in requests)


def test_models_are_stepped_apart_and_lstm_states_are_kept_per_row(workspace, demo, sample_text):
    lstm = Generator(random_run(sample_text, "lstm"))
    gru = Generator(random_run(sample_text, "gru"))
    jobs = [(g, seed) for g in (lstm, gru, demo) for seed in (11, 12)]
    batcher = Batcher()
    with batcher._lock:
        requests = [batcher.submit(g, "Nell ", length=40, seed=seed) for g, seed in jobs]
    for (g, seed), got in zip(jobs, read_all(requests)):
        assert "".join(got) == g.generate("Nell ", 40, seed=seed).text
    assert batcher.steps == 3 * 40                                   # one call per model per step


def test_a_reader_that_stops_frees_its_row_and_the_others_finish(demo):
    batcher = Batcher(BatcherConfig(max_rows=2))                     # three rows: two calls per step
    with batcher._lock:
        requests = [batcher.submit(demo, PROMPT, length=300, seed=s) for s in (1, 2, 3)]
    first = iter(requests[0])
    assert next(first)
    first.close()                                                    # the writer clicked mid-stream
    rest = read_all(requests[1:])
    assert ["".join(r) for r in rest] == [demo.generate(PROMPT, 300, seed=s).text for s in (2, 3)]
    assert requests[0].cancelled and batcher.rows_stepped < 3 * 300


def test_the_record_is_the_continuation_stream_records(demo):
    """Alone in its steps, a row's states are the single-row path's bits, so its end can be reused as
    read; rows that shared a step say they are not exact."""
    alone, record = Batcher(), []
    text = "".join(alone.stream(demo, PROMPT, length=50, seed=5, record=record))
    expected = []
    assert text == "".join(demo.stream(PROMPT, length=50, seed=5, record=expected))
    (got,), (want,) = record, expected
    assert got.tokens == want.tokens and got.pieces == want.pieces and got.exact
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(got.states, want.states))
    assert len(got.ends()) == 2

    shared = Batcher()
    with shared._lock:
        requests = [shared.submit(demo, PROMPT, length=50, seed=s, record=True) for s in (5, 6)]
    read_all(requests)
    (a,), (b,) = requests[0].records, requests[1].records
    assert a.tokens == want.tokens and not a.exact and not b.exact and a.ends() == ()
    assert len(a.states) == 51 and a.states[-1][0].shape == (1, demo.run.model.units)


def test_bad_settings_are_refused_on_the_callers_thread(demo):
    from textgen.errors import GenerationError

    with pytest.raises(GenerationError, match="Length"):
        Batcher().submit(demo, PROMPT, length=0)


def test_a_failed_step_tells_its_writers_in_one_sentence_and_the_service_goes_on(monkeypatch):
    from textgen.errors import GenerationError

    gen = Generator(DEMO_ID)
    step = gen.stepper.step
    calls = []

    def broken_once(ids, state):
        calls.append(len(ids))
        if len(calls) == 1:
            raise FloatingPointError("a bug")
        return step(ids, state)

    monkeypatch.setattr(gen.stepper, "step", broken_once)
    batcher = Batcher()
    with batcher._lock:
        requests = [batcher.submit(gen, PROMPT, length=20, seed=s) for s in (1, 2)]
    for r in requests:
        with pytest.raises(GenerationError, match="^Something went wrong while the model was writing"):
            list(r)
    assert "".join(batcher.stream(gen, PROMPT, length=20, seed=3)) == gen.generate(PROMPT, 20, seed=3).text
