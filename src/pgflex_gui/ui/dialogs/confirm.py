"""A modal confirmation for destructive actions (stop protection, delete a backup instance).

The wording comes from ``jobs.manage`` (:class:`~pgflex_gui.jobs.manage.Confirmation`), so the
rules are unit-tested without Qt; this dialog only shows it. Cancel is the default button, and
an action Azure would refuse (``allowed`` False) can't be confirmed at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from pgflex_gui.jobs.manage import Confirmation

__all__ = ["ConfirmDialog", "confirm", "confirm_choice"]


DIALOG_MIN_WIDTH = 560


class ConfirmDialog(QDialog):
    """Show a :class:`Confirmation`; optionally let the user pick one of several of them.

    With ``choices`` (key, button text, confirmation) the dialog shows one radio button per
    choice and the text of the checked one; :meth:`choice` returns the checked key.
    """

    def __init__(
        self,
        confirmation: Confirmation,
        parent: QWidget | None = None,
        *,
        choices: Sequence[tuple[str, str, Confirmation]] = (),
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ConfirmDialog")
        self.setModal(True)
        # wrapped labels report a narrow size hint: give the explanations room for their lines
        self.setMinimumWidth(DIALOG_MIN_WIDTH)
        self._choices = list(choices)
        self.text = QLabel()
        self.text.setObjectName("confirm_text")
        self.text.setWordWrap(True)
        self.irreversible = QLabel()
        self.irreversible.setObjectName("confirm_irreversible")
        self.irreversible.setWordWrap(True)
        self.irreversible.setTextFormat(Qt.TextFormat.PlainText)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.confirm_button = QPushButton()
        self.confirm_button.setObjectName("confirm")
        self.confirm_button.setAutoDefault(False)
        self.buttons.addButton(self.confirm_button, QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        cancel.setDefault(True)
        cancel.setFocus()
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        self._group = QButtonGroup(self)
        self.radios: dict[str, QRadioButton] = {}
        for index, (key, text, _c) in enumerate(self._choices):
            radio = QRadioButton(text)
            radio.setObjectName(f"choice_{key}")
            self._group.addButton(radio, index)
            self.radios[key] = radio
            layout.addWidget(radio)
        layout.addWidget(self.text)
        layout.addWidget(self.irreversible)
        layout.addWidget(self.buttons)
        self._group.idToggled.connect(self._on_group_id_toggled)
        if self._choices:
            first = next(iter(self.radios.values()))
            first.setChecked(True)
            self._show(self._choices[0][2])
        else:
            self._show(confirmation)

    def _show(self, confirmation: Confirmation) -> None:
        self.setWindowTitle(confirmation.title)
        self.text.setText(confirmation.text)
        self.irreversible.setText(confirmation.irreversible)
        self.confirm_button.setText(confirmation.confirm_label)
        self.confirm_button.setEnabled(confirmation.allowed)

    def _on_group_id_toggled(self, index: int, checked: bool) -> None:
        if checked and 0 <= index < len(self._choices):
            self._show(self._choices[index][2])

    def choice(self) -> str | None:
        """The key of the checked choice (None without choices)."""
        index = self._group.checkedId()
        return self._choices[index][0] if 0 <= index < len(self._choices) else None


def confirm(parent: QWidget | None, confirmation: Confirmation) -> bool:
    """Ask; True when the user confirmed."""
    dialog = ConfirmDialog(confirmation, parent)
    try:
        return dialog.exec() == QDialog.DialogCode.Accepted
    finally:
        dialog.deleteLater()


def confirm_choice(
    parent: QWidget | None, choices: Sequence[tuple[str, str, Confirmation]]
) -> str | None:
    """Ask with choices; the confirmed key, or None when cancelled."""
    dialog = ConfirmDialog(choices[0][2], parent, choices=choices)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.choice()
    finally:
        dialog.deleteLater()
