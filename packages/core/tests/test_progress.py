from pmt.core.progress import Progress


def test_lines_instead_of_a_bar_when_stderr_is_not_a_terminal(capsys):
    lines = []
    p = Progress(total=4, desc="epoch 1/2", log=lines.append, interval=1e-9)
    for _ in range(4):
        p.update(1, loss="0.5000")
    p.close()
    assert len(lines) == 4 and lines[-1].startswith("epoch 1/2  4/4 step (100%)") and lines[-1].endswith("loss 0.5000")
    assert capsys.readouterr().err == ""


def test_lines_come_at_most_once_per_interval():
    lines = []
    p = Progress(total=1000, log=lines.append, interval=3600)
    for _ in range(1000):
        p.update()
    assert lines == []


def test_disabled_and_forced_bar(capsys):
    Progress(total=2, enabled=False).update(2)
    assert capsys.readouterr().err == ""
    p = Progress(total=2, desc="x", enabled=True)
    p.update(2)
    p.close()
    assert "x" in capsys.readouterr().err


def test_resumed_count_starts_at_initial():
    lines = []
    p = Progress(total=10, initial=6, log=lines.append, interval=1e-9)
    p.update(1)
    assert "7/10" in lines[-1]
