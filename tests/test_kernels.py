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
