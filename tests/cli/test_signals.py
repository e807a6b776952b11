"""SIGTERM and SIGHUP become the KeyboardInterrupt that Ctrl-C raises, once."""

import os
import signal

import pytest

from minikit.cli import signals


@pytest.fixture
def handlers():
    saved = {signum: signal.getsignal(signum) for signum in signals.SHUTDOWN_SIGNALS}
    signals._received.clear()
    signals.install_shutdown_handlers()
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)
    signals._received.clear()


@pytest.mark.parametrize("signum", signals.SHUTDOWN_SIGNALS)
def test_signal_interrupts(handlers, signum):
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signum)


@pytest.mark.parametrize("signum", signals.SHUTDOWN_SIGNALS)
def test_status_is_128_plus_signal(handlers, signum):
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signum)
    assert signals.interrupted_status() == 128 + signum


def test_message_names_signal(handlers):
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGTERM)
    assert signals.interrupted_message() == "build interrupted by SIGTERM"


def test_second_signal_ignored(handlers):
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGHUP)
    assert signals.interrupted_status() == 128 + signal.SIGTERM


def test_ctrl_c_status_without_signal(handlers):
    assert signals.interrupted_status() == 130
