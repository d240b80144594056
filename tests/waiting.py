"""Polling for the tests that wait on another process (a worker, a Ray job) to reach some state."""
import time


def wait_until(read, pred, timeout: float, every: float, failure: str = "timed out; last state {}", before=None):
    """What read() returns once pred holds of it, trying every `every` seconds for `timeout` seconds.

    `before`: called ahead of each read (what a page's polling does between reads, such as pumping the jobs).
    Past the timeout: an AssertionError, `failure` with one more read filled in, so it shows where things stood.
    """
    end = time.time() + timeout
    while time.time() < end:
        if before is not None:
            before()
        value = read()
        if pred(value):
            return value
        time.sleep(every)
    raise AssertionError(failure.format(read()))
