"""The widgets of the contacts import dialog (app/ui/contact_import_dialog.py): the source's heading,
the mapping beside the dry run, the preview below, the progress bar and the buttons."""
from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialogButtonBox, QHeaderView, QLabel, QProgressBar, QScrollArea, QSplitter,
                               QTableView, QVBoxLayout, QWidget)

from .contact_mapping_table import MappingTable
from .contact_preview_model import PreviewModel
from .form import help_label

if TYPE_CHECKING:
    from .contact_import_dialog import ContactImportDialog


def setup_ui(self: "ContactImportDialog") -> None:
    """The dialog's widgets, as attributes of `self` (as Qt Designer's setupUi does), wired to its slots."""
    column = QVBoxLayout(self)
    self.heading = QLabel(f"Reading {html.escape(self.name)}…")
    self.heading.setObjectName("heading")
    self.about = QLabel("")
    self.about.setObjectName("importAbout")
    self.about.setWordWrap(True)
    self.about.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    for label in (self.heading, self.about):
        label.setTextFormat(Qt.TextFormat.RichText)      # names are escaped: `a&b.csv` shows as written
    self.message = QLabel("")
    self.message.setObjectName("importMessage")
    self.message.setTextFormat(Qt.TextFormat.PlainText)       # an error's text, never markup
    self.message.setWordWrap(True)
    self.message.setVisible(False)
    self.hint = help_label("Choose what each column is: the usual names are proposed, anything else is kept "
                           "as a custom attribute. The mapping is remembered for files with the same columns.")
    self.hint.setVisible(False)
    for w in (self.heading, self.about, self.hint, self.message):
        column.addWidget(w)

    self.mapping_table = MappingTable()
    self.mapping_table.changed.connect(self._debounce.start)
    self.summary = QLabel("")
    self.summary.setObjectName("importSummary")
    self.summary.setWordWrap(True)
    self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    self.checking = QProgressBar()
    self.checking.setObjectName("dryRunProgress")
    self.checking.setRange(0, 1000)
    self.checking.setFormat("Checking the whole file… %p%")
    self.checking.setVisible(False)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(self.summary)
    right = QWidget()
    side = QVBoxLayout(right)
    side.setContentsMargins(8, 0, 0, 0)
    side.addWidget(_section("Dry run: what the import will do (nothing written yet)"))
    side.addWidget(self.checking)
    side.addWidget(scroll, 1)
    left = QWidget()
    mapping = QVBoxLayout(left)
    mapping.setContentsMargins(0, 0, 0, 0)
    mapping.addWidget(_section("Columns: what each one is imported as"))
    mapping.addWidget(self.mapping_table, 1)
    top = QSplitter(Qt.Orientation.Horizontal)
    top.addWidget(left)
    top.addWidget(right)
    top.setStretchFactor(0, 3)
    top.setStretchFactor(1, 2)
    top.setSizes([760, 420])

    self.model = PreviewModel()
    self.preview = QTableView()
    self.preview.setObjectName("importPreview")
    self.preview.setModel(self.model)
    self.preview.verticalHeader().setVisible(False)
    self.preview.setAlternatingRowColors(True)
    self.preview.setWordWrap(False)
    self.preview.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    self.preview.horizontalHeader().setStretchLastSection(True)
    self.preview.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    bottom = QWidget()
    rows = QVBoxLayout(bottom)
    rows.setContentsMargins(0, 0, 0, 0)
    rows.addWidget(_section("First rows as they will be stored"))
    rows.addWidget(help_label("A tinted cell was left out or refused: hover it for the reason and the row as "
                              "written."))
    rows.addWidget(self.preview, 1)
    split = QSplitter(Qt.Orientation.Vertical)
    split.addWidget(top)
    split.addWidget(bottom)
    split.setStretchFactor(0, 3)
    split.setStretchFactor(1, 2)
    split.setSizes([440, 300])
    column.addWidget(split, 1)

    self.progress = QProgressBar()
    self.progress.setObjectName("importProgress")
    self.progress.setRange(0, 1000)
    self.progress.setVisible(False)
    column.addWidget(self.progress)
    buttons = QDialogButtonBox()
    self.cancel_button = buttons.addButton("Cancel import", QDialogButtonBox.ButtonRole.ActionRole)
    self.cancel_button.setVisible(False)
    self.cancel_button.clicked.connect(self.cancel_import)
    self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
    self.close_button.clicked.connect(self.reject)
    self.import_button = buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
    self.import_button.setDefault(True)
    self.import_button.setEnabled(False)
    self.import_button.clicked.connect(self.start_import)
    column.addWidget(buttons)



def _section(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("section")
    return label
