"""Scrolling never edits: the mouse wheel over a form field changes it only when it has focus.

Qt's spin boxes, date/time edits, combo boxes and sliders take the wheel wherever the pointer
is, so rolling the wheel down a settings panel changed whatever passed under the pointer (a goal
window went from 5 days to 1, an entry rule flipped). `guard_wheel` installs one event filter on
every such field under a widget: without focus, the field passes the wheel to the panel that
scrolls it (its nearest scroll area); with focus (clicked or tabbed into), it takes the wheel as
usual. The fields also stop taking focus from the wheel (Qt.FocusPolicy.StrongFocus), so a
wheel turn never arms a field either.

The guard watches the whole application (an application event filter), not only the forms built
so far: a field created later anywhere — a dialog such as File → Settings, the status bar, a row
added with "+ Add …" — is covered without anyone remembering to guard it. Fields inside popups
(a calendar, a combo's list) are left alone: they are windows of their own and nothing scrolls them.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (QAbstractScrollArea, QAbstractSlider, QAbstractSpinBox, QApplication, QComboBox,
                               QScrollBar, QWidget)

# Every widget that changes a value under the wheel: QSpinBox, QDoubleSpinBox, QDateTimeEdit, QDateEdit,
# QTimeEdit (all QAbstractSpinBox), QComboBox (editable or not), QSlider and QDial (QAbstractSlider).
# Scroll bars are sliders too, but scrolling is their job.
_EDITS_ON_WHEEL = (QAbstractSpinBox, QComboBox, QAbstractSlider)


def wheel_edits(widget: QObject) -> bool:
    """Whether the wheel changes this widget's value (so it must be guarded)."""
    return isinstance(widget, _EDITS_ON_WHEEL) and not isinstance(widget, QScrollBar)


def _field_of(widget: QObject) -> QWidget | None:
    """The guarded field a widget belongs to (itself, or the spin box or combo around its line edit)."""
    current: QObject | None = widget
    while isinstance(current, QWidget):
        if wheel_edits(current):
            return current
        if current.isWindow():
            return None
        current = current.parentWidget()
    return None


def _focused(field: QWidget) -> bool:
    focus = QApplication.focusWidget()
    return focus is not None and (focus is field or field.isAncestorOf(focus))


def _scroll_area_of(field: QWidget) -> QAbstractScrollArea | None:
    current = field.parentWidget()
    while current is not None:
        if isinstance(current, QAbstractScrollArea):
            return current
        if current.isWindow():
            return None
        current = current.parentWidget()
    return None


class WheelGuard(QObject):
    """The event filter behind `guard_wheel` (one instance serves every field)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Polish:
            # Polished before it is first shown: from then on the wheel never gives it focus.
            if (isinstance(watched, QWidget) and wheel_edits(watched) and not _in_popup(watched)
                    and watched.focusPolicy() == Qt.FocusPolicy.WheelFocus):
                watched.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            return False
        if event.type() != QEvent.Type.Wheel:
            return False
        field = _field_of(watched)
        if field is None or _in_popup(field) or _focused(field):
            return False                    # a focused field takes the wheel as usual
        area = _scroll_area_of(field)
        if area is not None:
            # Sent, not propagated: Qt propagates only spontaneous wheel events up to the parent,
            # and the panel must scroll the same way for every wheel event.
            QApplication.sendEvent(area.viewport(), event)
            event.accept()
        else:
            event.ignore()                  # nothing to scroll: let the parents have it
        return True


_guard: WheelGuard | None = None


def _the_guard() -> WheelGuard:
    """The one guard, watching every widget of the application from its first use on."""
    global _guard
    app = QApplication.instance()
    if _guard is None or _guard.parent() is not app:
        _guard = WheelGuard(app)
        if app is not None:
            app.installEventFilter(_guard)
    return _guard


def guard_application() -> None:
    """Guards every wheel-sensitive field of every window, present and future (idempotent)."""
    _the_guard()


def _in_popup(widget: QWidget) -> bool:
    return widget.window().windowType() == Qt.WindowType.Popup


def guard_wheel(root: QWidget) -> None:
    """Guards `root` and every field inside it (not those in its popups, such as a calendar or a
    combo's list, which are windows of their own); call it again after adding fields."""
    guard = _the_guard()
    for widget in [root, *root.findChildren(QWidget)]:
        field = _field_of(widget)
        if field is None or not _in_same_window(widget, root):
            continue
        if field is widget and widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        widget.installEventFilter(guard)


def _in_same_window(widget: QWidget, root: QWidget) -> bool:
    """Whether no window (a popup) lies between `root` and `widget`."""
    current: QWidget | None = widget
    while current is not None and current is not root:
        if current.isWindow():
            return False
        current = current.parentWidget()
    return True
