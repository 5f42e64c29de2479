"""Insert ▸ …: the button under a send step's body that inserts a ready block (app/journey/snippets.py)."""
from __future__ import annotations

from PySide6.QtWidgets import QMenu, QPushButton

from app.journey.snippets import Snippet

from .template_edit import TemplateEdit


def insert_button(edit: TemplateEdit, snippets: list[Snippet]) -> QPushButton:
    """A drop-down "Insert" button with one entry per snippet; an entry inserts its block at `edit`'s
    cursor (one undo step). An unavailable one is greyed out, its tooltip saying why."""
    button = QPushButton("Insert")
    button.setObjectName("insertSnippet")
    button.setToolTip("Insert a ready block, such as the cart's items with their prices")
    menu = QMenu(button)
    menu.setToolTipsVisible(True)
    for snippet in snippets:
        action = menu.addAction(snippet.label)
        action.setObjectName(f"insert_{snippet.id}")
        action.setEnabled(not snippet.unavailable)
        action.setToolTip(snippet.unavailable or "Lists each item with its quantity and price, in the contact's "
                          "currency; items without a link or picture are listed without them")
        action.triggered.connect(lambda _=False, s=snippet: edit.insert_block(s.text, s.label.lower()))
    button.setMenu(menu)
    return button
