// The shortcut list (the `?` dialog): every shortcut of the grid and the viewer, each with a
// "change" button that takes the next key pressed as its new binding, then the viewer's mouse
// gestures (not remappable; from iimViewer.keymap().gestures), then the read's grading scales
// (what a grade key means depends on the cell's sequence).

import { bindingOf, isModifierKey } from '../keys.js';
import { GRADE_KEYS, GRID_LABELS } from './keymap.js';

export class ShortcutHelp {
  /**
   * gridBindings(): {action: [binding]} of the grid now; viewerKeymap(): the viewer's
   * {bindings, labels} or null; scales: the read's GradeScales (scale.js); onRemap(id, binding):
   * the reader chose `binding` for `id` ("grid.next", "viewer.reset").
   */
  constructor({ document, window, gridBindings, viewerKeymap, scales, onRemap }) {
    this.document = document;
    this.window = window;
    this.gridBindings = gridBindings;
    this.scales = scales;
    this.viewerKeymap = viewerKeymap;
    this.onRemap = onRemap;
    this.dialog = document.getElementById('help-dialog');
    document.getElementById('help-button').addEventListener('click', () => this.open());
    document.getElementById('help-close').addEventListener('click', () => this.dialog.close());
  }

  rows() {
    const grid = this.gridBindings();
    const rows = Object.entries(GRID_LABELS).map(([action, label]) => ({
      id: `grid.${action}`,
      label: action in GRADE_KEYS ? this.gradeLabel(label, GRADE_KEYS[action]) : label,
      keys: grid[action],
      grid: true,
    }));
    const viewer = this.viewerKeymap();
    if (viewer) {
      for (const [action, keys] of Object.entries(viewer.bindings)) {
        rows.push({ id: `viewer.${action}`, label: viewer.labels[action] || action, keys, grid: false });
      }
    }
    return rows;
  }

  open() {
    const body = this.document.querySelector('#shortcut-table tbody');
    body.replaceChildren();
    for (const row of this.rows()) {
      const tr = this.document.createElement('tr');
      const keysCell = this.document.createElement('td');
      this.showKeys(keysCell, row.keys);
      const labelCell = this.document.createElement('td');
      labelCell.textContent = row.label + (row.grid ? '' : ' (images; after reload)');
      const change = this.document.createElement('button');
      change.type = 'button';
      change.textContent = 'change';
      change.addEventListener('click', () => this.capture(row, keysCell));
      const changeCell = this.document.createElement('td');
      changeCell.append(change);
      tr.append(keysCell, labelCell, changeCell);
      body.append(tr);
    }
    for (const { gesture, action } of this.gestures()) {
      const tr = this.document.createElement('tr');
      tr.className = 'gesture-row';
      const how = this.document.createElement('td');
      how.textContent = gesture;
      const what = this.document.createElement('td');
      what.textContent = `${action} (images, mouse)`;
      tr.append(how, what, this.document.createElement('td'));
      body.append(tr);
    }
    for (const { heading, grades } of this.scaleSections()) {
      const head = this.textRow('scale-heading', [heading]);
      head.cells[0].colSpan = 3;
      body.append(head);
      for (const { value, label, definition } of grades) {
        body.append(this.textRow('scale-row', [value, definition ? `${label}: ${definition}` : label, '']));
      }
    }
    this.dialog.showModal();
  }

  /** A grade key's label, naming the sequences that take that grade when not all do. */
  gradeLabel(label, value) {
    const takes = this.scales.sequencesWith(value);
    if (takes.length === Object.keys(this.scales.sequences).length) {
      return label;
    }
    return takes.length ? `${label} (${takes.join(', ')} only)` : `${label} (not a grade of this read)`;
  }

  /** [{heading, grades}]: each sequence's scale ("STIR: Oedema 0–3"), then NA, which all have. */
  scaleSections() {
    const sections = Object.entries(this.scales.sequences).map(([sequence, scale]) => ({
      heading: `${sequence}: ${scale.name}`, grades: scale.grades,
    }));
    sections.push({ heading: 'Every sequence', grades: [this.scales.na] });
    return sections;
  }

  textRow(className, texts) {
    const tr = this.document.createElement('tr');
    tr.className = className;
    for (const text of texts) {
      tr.insertCell().textContent = text;
    }
    return tr;
  }

  gestures() {
    const viewer = this.viewerKeymap();
    return viewer && Array.isArray(viewer.gestures) ? viewer.gestures : [];
  }

  showKeys(cell, keys) {
    cell.replaceChildren(...keys.map((key, i) => {
      const kbd = this.document.createElement('kbd');
      kbd.textContent = key;
      return i ? [' ', kbd] : [kbd];
    }).flat());
  }

  /** The next key pressed (with its modifiers) becomes this row's only binding. */
  capture(row, keysCell) {
    keysCell.textContent = 'press a key…';
    const onKey = (event) => {
      event.preventDefault();
      event.stopPropagation();
      if (isModifierKey(event)) {
        return;
      }
      this.window.removeEventListener('keydown', onKey, true);
      const binding = bindingOf(event);
      this.showKeys(keysCell, [binding]);
      this.onRemap(row.id, binding);
    };
    this.window.addEventListener('keydown', onKey, true);
  }
}
