"""benchmarks/frontier.py: a setting is on the frontier when no faster setting scores as
well; scores and minutes are means over the runs that scored the task."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))

import frontier  # noqa: E402

from mtl_keras.studies import comparison  # noqa: E402


def _setting(label, *runs):
    """runs: (seed, {task: {metric: value}}, seconds)."""
    return comparison.Setting(label, "joint", [
        comparison.Run(f"/runs/{label}-{seed}", {}, {"seed": seed}, scores, seconds)
        for seed, scores, seconds in runs])


def test_the_frontier_keeps_the_settings_no_faster_one_matches():
    settings = [
        _setting("slow_best", (0, {"fine": {"accuracy": 0.95}}, 900), (1, {"fine": {"accuracy": 0.93}}, 960)),
        _setting("fast", (0, {"fine": {"accuracy": 0.90}}, 300)),
        _setting("dominated", (0, {"fine": {"accuracy": 0.89}}, 600)),
        _setting("tie_later", (0, {"fine": {"accuracy": 0.90}}, 400)),
        _setting("other_task", (0, {"coarse": {"accuracy": 0.99}}, 100))]
    found = frontier.points(settings, "fine", "accuracy")
    assert [point[0] for point in found] == ["fast", "tie_later", "dominated", "slow_best"]
    label, runs, seeds, (score, score_std), (minutes, minutes_std) = found[-1]
    assert (runs, seeds) == (2, [0, 1])
    assert abs(score - 0.94) < 1e-12 and abs(minutes - 15.5) < 1e-12
    assert score_std > 0 and minutes_std > 0
    assert frontier.frontier(found) == {"fast", "slow_best"}


def test_lower_is_better_turns_the_frontier_around():
    settings = [_setting("a", (0, {"age": {"mae": 5.0}}, 60)),
                _setting("b", (0, {"age": {"mae": 6.0}}, 120)),
                _setting("c", (0, {"age": {"mae": 4.0}}, 180))]
    assert frontier.frontier(frontier.points(settings, "age", "mae"), lower_is_better=True) == {"a", "c"}


def test_the_chart_draws_the_goal_and_the_budget(tmp_path, monkeypatch):
    from matplotlib import pyplot  # noqa: PLC0415

    drawn = []
    monkeypatch.setattr(pyplot, "close", drawn.append)  # keeps the figure to look at
    settings = [_setting("short", (0, {"fine": {"accuracy": 0.93}}, 600)),
                _setting("long", (0, {"fine": {"accuracy": 0.94}}, 900))]
    found = frontier.points(settings, "fine", "accuracy")
    path = tmp_path / "frontier.png"
    frontier.chart(found, frontier.frontier(found), "fine", "accuracy", str(path), "",
                   goal=0.95, budget=15)
    assert path.read_bytes().startswith(b"\x89PNG")
    axes = drawn[0].axes[0]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == [
        "goal: fine accuracy 0.95", "budget: 15 minutes per run"]
    assert {tuple(line.get_ydata()) for line in axes.get_lines()} >= {(0.95, 0.95)}
    assert {tuple(line.get_xdata()) for line in axes.get_lines()} >= {(15, 15)}
