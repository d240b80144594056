"""Which GRU implementation a run trains with: decided without TensorFlow, from the run and the machine."""
from textgen import fastgru, kernels


def test_resolve_uses_the_kernel_only_where_it_applies(monkeypatch):
    monkeypatch.setattr(kernels, "cpu_has_bf16_matmul", lambda: True)
    monkeypatch.setattr(kernels, "_gpu_here", lambda: False)   # a GPU keeps Keras' GRU (cuDNN)
    assert kernels.resolve("auto", "gru", 100) == "bfloat16"
    assert kernels.resolve("float32", "gru", 100) == "float32"
    assert kernels.resolve("keras", "gru", 100) == "keras"
    assert kernels.resolve("auto", "lstm", 100) == "keras"
    assert kernels.resolve("bfloat16", "rnn", 100) == "keras"
    assert kernels.resolve("auto", "gru", 100, stateful=True) == "keras"
    assert kernels.resolve("auto", "gru", 100, jit_compile=True) == "keras"
    assert kernels.resolve("auto", "gru", kernels.MAX_UNROLL + 1) == "keras"
    assert kernels.resolve("auto", "gru", 100, layers=3) == "bfloat16"   # 300 steps x layers is the most
    assert kernels.resolve("auto", "gru", 101, layers=3) == "keras"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")                       # no oneDNN, no AMX products
    assert kernels.resolve("auto", "gru", 100) == "keras"
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    monkeypatch.setattr(kernels, "cpu_has_bf16_matmul", lambda: False)
    assert kernels.resolve("auto", "gru", 100) == "keras"
    assert kernels.resolve("bfloat16", "gru", 100) == "bfloat16"   # asked for by name: honoured


def test_cpu_flag_detection(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f amx_bf16 amx_tile\n")
    assert kernels.cpu_has_bf16_matmul(info)
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n")
    assert not kernels.cpu_has_bf16_matmul(info)
    assert not kernels.cpu_has_bf16_matmul(tmp_path / "missing")


def test_fastgru_keeps_the_choice_importable():
    assert (fastgru.resolve, fastgru.MAX_UNROLL, fastgru.KERNELS) == (kernels.resolve, 300, ("auto", "keras", "float32", "bfloat16"))


def test_auto_takes_the_float32_kernel_for_wide_layers_on_a_cpu_without_amx(monkeypatch):
    monkeypatch.setattr(kernels, "cpu_has_bf16_matmul", lambda: False)
    monkeypatch.setattr(kernels, "_gpu_here", lambda: False)
    assert kernels.resolve("auto", "gru", 100, units=kernels.FLOAT32_MIN_UNITS) == "float32"   # Short's GRU 1x512
    assert kernels.resolve("auto", "gru", 64, units=256) == "keras"                           # Quick's GRU 1x256
    assert kernels.resolve("auto", "gru", 100, units=512, stateful=True) == "keras"
    assert kernels.resolve("auto", "gru", kernels.MAX_UNROLL + 1, units=512) == "keras"
    assert kernels.resolve("keras", "gru", 100, units=512) == "keras"                         # asked for by name
    monkeypatch.setattr(kernels, "_gpu_here", lambda: True)
    assert kernels.resolve("auto", "gru", 100, units=512) == "keras"                          # a GPU keeps cuDNN's GRU
    monkeypatch.setattr(kernels, "cpu_has_bf16_matmul", lambda: True)
    monkeypatch.setattr(kernels, "_gpu_here", lambda: False)
    assert kernels.resolve("auto", "gru", 100, units=512) == "bfloat16"                       # AMX: bfloat16 still


def test_training_passes_the_width_to_the_choice(monkeypatch):
    """The worker's choice and the Train page's estimate both see the layer width."""
    from textgen import ModelConfig, TrainConfig, sizing
    seen = []
    monkeypatch.setattr(sizing, "resolve", lambda *a, **k: seen.append(a) or "keras")
    sizing.seconds_per_epoch(ModelConfig(cell="gru", units=512), 10_000, train=TrainConfig())
    assert seen and seen[0][-1] == 512
