import pytest

import sample


def test_small():
    assert sample.use_briefly(1) == 1


@pytest.mark.limit_memory("20 MB")
def test_under_memory_limit():
    assert sample.use_briefly(8) == 8


@pytest.mark.limit_memory("4 MB")
def test_over_memory_limit():
    assert sample.use_briefly(12) == 12


def test_over_default_limit():
    # No marker: --memlens-limit-memory applies (the suite runs with 6 MB).
    assert sample.use_briefly(10) == 10


@pytest.mark.limit_memory("30 MB")
def test_marker_overrides_default():
    assert sample.use_briefly(16) == 16


@pytest.mark.limit_leaks("200 KB")
def test_over_leak_limit():
    sample.leak(2048)


def _not_the_known_cache(stack):
    return not any(frame.function == "known_cache_fill" for frame in stack.frames)


@pytest.mark.limit_leaks("200 KB", filter_fn=_not_the_known_cache)
def test_leak_filtered_out():
    sample.known_cache_fill(2048)


@pytest.mark.limit_leaks("4 MB")
def test_under_leak_limit():
    sample.leak(512)
