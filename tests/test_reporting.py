from skhypernas.reporting import EPOCH_TABLE_HEADER, Reporter


def _record(epoch, arch_steps=3, discrete_steps=0):
    return dict(
        epoch=epoch,
        arch_steps=arch_steps,
        discrete_steps=discrete_steps,
        train_loss=1.5,
        arch_loss=1.25,
        arch_accuracy=0.5,
        temperature=0.7,
        lambda_min=1e-9,
        lambda_median=1e-8,
        lambda_max=1e-7,
        seconds=2.0,
        train_accuracy=0.25,
    )


def _report_two_epochs(reporter):
    for epoch in range(2):
        for step in reporter.epoch_steps(range(3), epoch):
            done = epoch * 3 + step + 1
            reporter.estimate_time(done, 10.0 * done, 3, 0)  # ten seconds a step
        reporter.search_epoch(_record(epoch + 1))
        reporter.training_epoch(_record(epoch + 1))
    reporter.write("done")


def test_silent_reporter_prints_nothing_and_passes_steps_through(capsys):
    reporter = Reporter(0, 2, "search")
    steps = range(3)
    assert reporter.epoch_steps(steps, 0) is steps
    _report_two_epochs(reporter)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_verbose_reporter_writes_the_table_header_once_and_a_row_per_epoch(capsys):
    _report_two_epochs(Reporter(1, 2, "search"))
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines.count(EPOCH_TABLE_HEADER) == 1
    rows = [line for line in lines if line.split()[0] in ("1/2", "2/2")]
    assert [row.split()[0] for row in rows] == ["1/2", "2/2"]
    assert rows[0].split()[1:] == ["1.5000", "1.2500", "0.5000", "0.700", "1.00e-09", "1.00e-08", "1.00e-07", "2.0"]
    assert lines.index(EPOCH_TABLE_HEADER) < lines.index(rows[0])
    assert "epoch   1/2  train loss 1.5000  train acc 0.2500  2.0s" in lines
    assert "estimated search time: 60 s (3 steps x 2 epochs)" in lines and lines[-1] == "done"
    assert "search epoch 1/2" in out.err and "search epoch 2/2" in out.err  # the bars


def test_under_a_time_budget_the_estimate_is_the_budget_s_steps_and_epochs_have_no_total(capsys):
    reporter = Reporter(1, 1000, "search", max_time=60.0)
    for done in range(1, 8):
        reporter.estimate_time(done, 0.5 * done, 100, 500)
    _report_two_epochs(reporter)
    out = capsys.readouterr().out
    assert "time budget 60 s: at the first steps' rate about 120 steps (1.2 epochs of 100) fit in it" in out
    assert "/1000" not in out


def _end_of(column):
    """Where ``column``'s right-aligned values end in the table's rows."""
    return EPOCH_TABLE_HEADER.index(column) + len(column)


def test_epochs_without_architecture_steps_show_dashes_and_the_discrete_share_is_announced(capsys):
    reporter = Reporter(1, 4, "search")
    warmup, search, mixed, discrete = _record(1, 0), _record(2), _record(3, 1, 2), _record(4, 0, 3)
    for record in (warmup, search, mixed, discrete):
        reporter.search_epoch(record)
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in lines if line.split()[0] in ("1/4", "2/4", "3/4", "4/4")}
    loss_end, accuracy_end = _end_of("arch loss"), _end_of("arch acc")
    for epoch in ("1/4", "4/4"):  # no architecture step: a dash, where the numbers end
        row = rows[epoch]
        assert row.split()[1:4] == ["1.5000", "-", "-"]
        assert row[loss_end - 1] == "-" and row[accuracy_end - 1] == "-"
        assert len(row) == len(rows["2/4"])  # the columns after them stay in place
    for epoch in ("2/4", "3/4"):  # measured, even on a few steps
        row = rows[epoch]
        assert row[loss_end - 6 : loss_end] == "1.2500" and row[accuracy_end - 6 : accuracy_end] == "0.5000"
    # One announcement, above the row of the first epoch with discrete steps.
    announced = [line for line in lines if line.startswith("discrete share")]
    assert announced == ["discrete share from epoch 3: weights of argmax architectures only, no architecture steps"]
    assert lines.index(rows["2/4"]) < lines.index(announced[0]) < lines.index(rows["3/4"])


def test_a_resumed_search_already_in_its_discrete_share_says_it_may_have_begun_earlier(capsys):
    reporter = Reporter(1, 8, "search")
    reporter.search_epoch(_record(6, 0, 3))
    reporter.search_epoch(_record(7, 0, 3))
    out = capsys.readouterr().out
    assert out.count("discrete share") == 1 and "discrete share from epoch 6 or earlier:" in out


def test_a_silent_reporter_announces_nothing(capsys):
    reporter = Reporter(0, 2, "search")
    reporter.search_epoch(_record(1, 0, 3))
    assert capsys.readouterr().out == ""
