"""A run's phases (metrics.json `phases`): counted from the process's start, each from the end
of the one before, the sums their parts, a phase that did not happen null."""

import subprocess
import sys
import textwrap

import pytest

from mtl_keras.training import phases as phases_lib


def test_the_process_start_is_the_system_s_not_the_package_import():
    # A process that waits before importing the package: its phases start before its script.
    script = textwrap.dedent("""\
        import time
        script_start = time.perf_counter()
        time.sleep(1.0)
        from mtl_keras.training import phases
        print(script_start - phases.Phases().start)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    before_script = float(result.stdout.split()[-1])
    assert 0.0 <= before_script < 30.0  # the interpreter's own start (clock ticks: 0.01 s)


def _phases(**moments):
    phases = phases_lib.Phases()
    phases.start = 100.0
    phases.marks = {name: 100.0 + seconds for name, seconds in moments.items()}
    return phases


def test_each_phase_runs_from_the_end_of_the_one_before_and_the_sums_add_up():
    seconds = _phases(started=5.0, prepared=7.5, built=9.0, first_step=12.0, trained=40.0,
                      finished=44.25).seconds()
    assert seconds == {"start_up": 5.0, "data": 2.5, "build": 1.5, "first_step": 3.0,
                       "training": 28.0, "after_training": 4.25, "to_first_step": 12.0,
                       "overhead": 16.25, "total": 44.25}


def test_a_run_that_trained_no_step_has_no_first_step_nor_training():
    seconds = _phases(started=5.0, prepared=7.5, built=9.0, trained=9.5, finished=12.0).seconds()
    assert seconds["first_step"] is seconds["training"] is None
    assert seconds["to_first_step"] is seconds["overhead"] is None
    assert seconds["after_training"] == 2.5 and seconds["total"] == 12.0


def test_a_later_run_of_the_process_starts_when_it_is_made():
    phases_lib.Phases()  # the process's first (or a later) one
    later = phases_lib.Phases()
    later.mark("started")
    assert later.seconds()["start_up"] == pytest.approx(0.0, abs=0.05)
