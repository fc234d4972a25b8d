import os
import signal
import threading

import pytest

from pmt.core.interrupts import GracefulInterrupt


def test_first_ctrl_c_is_deferred_to_check_and_the_handler_is_restored(capsys):
    before = signal.getsignal(signal.SIGINT)
    with GracefulInterrupt() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested and not stop.forced          # nothing raised yet
        with pytest.raises(KeyboardInterrupt):
            stop.check()
    assert signal.getsignal(signal.SIGINT) is before
    assert "Ctrl-C again" in capsys.readouterr().err


def test_second_ctrl_c_interrupts_at_once():
    with pytest.raises(KeyboardInterrupt):
        with GracefulInterrupt() as stop:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
    assert stop.forced


def test_sigterm_is_deferred_like_ctrl_c():
    with GracefulInterrupt() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested


def test_outside_the_main_thread_it_does_nothing():
    seen = []

    def body():
        with GracefulInterrupt() as stop:
            seen.append(stop.requested)
            stop.check()

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen == [False]
