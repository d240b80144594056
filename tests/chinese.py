"""A made-up Chinese text for tests: lines of poems drawn from a few thousand ideographs with a Zipf law, so
that, like a real anthology, a few hundred characters are common and many appear only once or twice."""
import numpy as np


def poems(chars: int = 40_000, alphabet: int = 3_000, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    ideographs = np.array([chr(0x4E00 + i) for i in range(alphabet)])
    weights = 1.0 / np.arange(1, alphabet + 1)
    picks = iter(rng.choice(ideographs, size=chars, p=weights / weights.sum()).tolist())
    out, n = [], 0
    while n < chars:
        # A quatrain of five or seven characters a line: "xxxxx，xxxxx。" twice, then a blank line.
        width = 5 if rng.random() < 0.5 else 7
        for stop in "，。，。":
            line = "".join(next(picks, "一") for _ in range(width))
            out.append(line + stop + ("\n" if stop == "。" else ""))
            n += width + 1 + (stop == "。")
        out.append("\n")
        n += 1
    return "".join(out)[:chars]
