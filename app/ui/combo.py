"""A choice box for a narrow panel: long choices wrap instead of being cut off."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import QComboBox, QSizePolicy, QStyle, QStyleOptionComboBox, QStylePainter


class WrappingComboBox(QComboBox):
    """A choice box whose face wraps a long choice onto a second line instead of clipping
    it ("Exit the current run (re-triggered) and start a new one" in a narrow panel),
    and whose list opens as wide as its longest choice."""

    _WRAP = Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft

    def __init__(self) -> None:
        super().__init__()
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(6)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.currentIndexChanged.connect(lambda _i: self.updateGeometry())

    def _option(self, width: int | None = None) -> QStyleOptionComboBox:
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        if width is not None:
            option.rect = QRect(0, 0, width, super().sizeHint().height())
        return option

    def _text_rect(self, option: QStyleOptionComboBox) -> QRect:
        return self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                           QStyle.SubControl.SC_ComboBoxEditField, self)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        single = super().sizeHint().height()
        option = self._option(width)
        text = self._text_rect(option)
        needed = self.fontMetrics().boundingRect(QRect(0, 0, max(text.width(), 1), 10_000), self._WRAP,
                                                 self.currentText()).height()
        return max(single, needed + single - self.fontMetrics().height())

    def sizeHint(self) -> QSize:  # noqa: N802
        hint = super().sizeHint()
        return QSize(hint.width(), self.heightForWidth(self.width()) if self.width() > 0 else hint.height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.height() != self.heightForWidth(self.width()):
            self.updateGeometry()

    def lines(self) -> int:
        """How many lines the face uses at the current width."""
        text = self._text_rect(self._option())
        height = self.fontMetrics().boundingRect(QRect(0, 0, max(text.width(), 1), 10_000), self._WRAP,
                                                 self.currentText()).height()
        return max(1, round(height / self.fontMetrics().lineSpacing()))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QStylePainter(self)
        option = self._option()
        text = option.currentText
        option.currentText = ""
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        painter.setPen(self.palette().color(self.palette().currentColorGroup(), QPalette.ColorRole.ButtonText))
        painter.drawText(self._text_rect(option).adjusted(2, 0, 0, 0), self._WRAP, text)

    def showPopup(self) -> None:  # noqa: N802
        metrics = self.view().fontMetrics()
        widest = max((metrics.horizontalAdvance(self.itemText(i)) for i in range(self.count())), default=0)
        self.view().setMinimumWidth(max(self.width(), widest + 40))
        super().showPopup()
