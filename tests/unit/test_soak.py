"""The soak's verdict: growth per hour over the second half, relative to its level."""

from __future__ import annotations

from ops.soak import TREND_PER_HOUR, trend


def test_a_flat_series_does_not_trend_and_a_growing_one_does() -> None:
    t = [float(i * 10) for i in range(60)]  # ten minutes of samples
    assert abs(trend(t, [100.0] * 60)) < 1e-9
    assert abs(trend(t, [100.0 + (i % 2) for i in range(60)])) < TREND_PER_HOUR  # noise is not a trend
    growing = [100.0 + i * 0.5 for i in range(60)]  # +3 per minute: ~150% of its level per hour
    assert trend(t, growing) > TREND_PER_HOUR
    assert trend(t[:4], growing[:4]) == 0.0  # too short to say
    lag = [0.0] * 55 + [0.0, 8.0, 0.0, 0.0, 5.0]
    assert trend(t, lag, floor_per_hour=1000) == 0.0  # a few events of lag now and then: noise
