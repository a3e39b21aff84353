import numpy as np
import pytest

from training.calibration import ece, fit, fit_and_measure, reliability_plot


def _scores(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.uniform(0, 1, n)
    # Over-confident scores: the true acceptance rate is s², so a calibrator must bend them down.
    y = (rng.uniform(0, 1, n) < s**2).astype(float)
    return s, y


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_is_monotone_and_keeps_distinct_scores_distinct(method):
    s, y = _scores()
    cal = fit(s, y, method=method)
    grid = np.linspace(0, 1, 501)
    p = cal(grid)
    assert np.all(np.diff(p) >= 0)
    assert p.min() >= 0.0 and p.max() <= 1.0
    # a strictly increasing share keeps the ranker's order: no ties among distinct scores
    assert len(np.unique(np.round(cal(np.array([0.30, 0.3001, 0.31])), 12))) == 3


def test_calibration_lowers_the_error_of_over_confident_scores():
    s, y = _scores()
    report, crossed = fit_and_measure(s, y, np.arange(len(s)) // 10, method="isotonic")
    assert report.ece_raw > 0.1  # s against s²: about 1/6 off on average
    assert report.ece_crossfit < 0.05
    assert ece(crossed, y) == pytest.approx(report.ece_crossfit)
    assert (report.rows, report.positives) == (len(y), int(y.sum()))


def test_ece_by_hand():
    # bin [0.8, 1]: mean p 0.9, accepted 0.5 -> 0.4 on 2 rows; bin [0, 0.2): mean 0.1, accepted 0 -> 0.1 on 2
    p = np.array([0.9, 0.9, 0.1, 0.1])
    y = np.array([1.0, 0.0, 0.0, 0.0])
    assert ece(p, y, bins=5) == pytest.approx((2 * 0.4 + 2 * 0.1) / 4)
    assert ece(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0.0


def test_calibration_refuses_one_sided_labels():
    with pytest.raises(ValueError):
        fit(np.array([0.1, 0.2]), np.array([0.0, 0.0]))


def test_reliability_plot_is_a_png(tmp_path):
    s, y = _scores(500)
    path = reliability_plot({"ICD-10-CM": (s, y)}, tmp_path / "r.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
