import pytest

import sample


@pytest.mark.parametrize("megabytes", [1, 2, 3, 4])
def test_sizes(megabytes):
    assert sample.use_briefly(megabytes) == megabytes


def test_fails_on_its_own():
    assert sample.use_briefly(1) == 2
