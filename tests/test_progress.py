"""Progress bars: one bar per call a user made, however deep the calls nest."""

import pytest

from gelsim._progress import Progress


def test_a_bar_opened_inside_another_stays_silent_unless_asked_for():
    with Progress(2, "outer") as outer:
        assert outer.enabled
        with Progress(3, "nested") as nested:
            assert not nested.enabled
            nested.update(3)                                   # counts, shows nothing
            assert nested.done == 3.0
        with Progress(3, "asked for", enabled=True) as asked:
            assert asked.enabled
    # Closed: the next bar is a call's own again.
    with Progress(1, "next") as after:
        assert after.enabled


def test_a_bar_closed_by_an_error_or_twice_leaves_later_bars_shown():
    with pytest.raises(RuntimeError):
        with Progress(1, "failing"):
            raise RuntimeError("boom")
    bar = Progress(1, "closed twice")
    bar.close()
    bar.close()
    with Progress(1, "later") as later:
        assert later.enabled
    with Progress(1, "never", enabled=False) as never:
        assert not never.enabled
        with Progress(1, "inside a silent one") as inside:   # a bar asked never to show nests nothing
            assert inside.enabled
