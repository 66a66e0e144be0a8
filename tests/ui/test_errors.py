"""ErrorPresenter: the "earlier problems" count follows what the user dismissed."""

from __future__ import annotations

from PySide6.QtWidgets import QToolButton
from pytestqt.qtbot import QtBot

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.ui.errors import ErrorPresenter, ErrorToast


def _more(toast: ErrorToast) -> str:
    return toast._more.text()


def test_dismissing_an_error_lowers_the_earlier_count(qtbot: QtBot) -> None:
    toast = ErrorToast()
    qtbot.addWidget(toast)
    presenter = ErrorPresenter(toast)
    close = toast.findChild(QToolButton)
    assert close is not None

    with qtbot.waitSignal(presenter.error_shown):
        presenter.show_error(AppError(Fault.AZURE, "first"))
    assert _more(toast) == ""
    close.click()
    assert not toast.isVisible()

    with qtbot.waitSignal(presenter.error_shown):
        presenter.show_error(AppError(Fault.AZURE, "second"))
    assert _more(toast) == ""  # the first was dismissed
    with qtbot.waitSignal(presenter.error_shown):
        presenter.show_error(AppError(Fault.AZURE, "third"))
    assert _more(toast).startswith("1 earlier")

    presenter.show_notice("just a note")
    close.click()  # dismissing a notice does not count
    with qtbot.waitSignal(presenter.error_shown):
        presenter.show_error(AppError(Fault.AZURE, "fourth"))
    assert _more(toast).startswith("2 earlier")
