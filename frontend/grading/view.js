// The grading grid's DOM: reads the grid's cells from the page, and shows the state machine
// (state.js) on it: cell values, the graded count, the read's status, the save status line,
// the conflict banner, the note and findings, and the missing cells after a refused submit.

import { Grid, cellKey } from './grid.js';

const STATUS_LABELS = { assigned: 'Assigned', in_progress: 'In progress', submitted: 'Submitted' };

/** The grid as the template laid it out (td.cell with data-muscle/side/sequence/group). */
export function gridFromPage(table) {
  const elements = Array.from(table.querySelectorAll('td.cell'));
  const grid = new Grid(elements.map(({ dataset: d }) => ({
    muscle: d.muscle, side: d.side, sequence: d.sequence, group: d.group,
  })));
  const elementOf = new Map(grid.cells.map((cell, i) => [cell.key, elements[i]]));
  return { grid, elementOf };
}

export function keyOfElement(td) {
  return cellKey(td.dataset.muscle, td.dataset.side, td.dataset.sequence);
}

export class GradingView {
  constructor({ document, table, elementOf, scales }) {
    this.document = document;
    this.table = table;
    this.elementOf = elementOf;
    this.scales = scales;
    this.grading = null; // set once the state machine exists (it calls these hooks)
    const byId = (id) => document.getElementById(id);
    this.saveStatus = byId('save-status');
    this.gradedCount = byId('graded-count');
    this.statusBadge = byId('read-status');
    this.submitButton = byId('submit-button');
    this.amendButton = byId('amend-button');
    this.conflictBanner = byId('conflict-banner');
    this.noteField = byId('read-note');
    this.missingPanel = byId('missing-panel');
    this.submitting = false;
    this.onMissingChosen = null; // (cellKey) => void: the page focuses the cell
  }

  /** Submit under way: the button is disabled and says so (a submit takes a moment). */
  showSubmitting(busy) {
    this.submitting = busy;
    this.submitButton.disabled = busy;
    this.submitButton.setAttribute('aria-busy', String(busy));
    this.submitButton.dataset.label ??= this.submitButton.textContent;
    this.submitButton.textContent = busy ? 'Submitting…' : this.submitButton.dataset.label;
    this.document.body.dataset.submitting = busy ? '1' : '';
  }

  render() {
    const g = this.grading;
    for (const [key, td] of this.elementOf) {
      const value = g.values.get(key);
      td.textContent = value ?? '';
      if (value === undefined) {
        delete td.dataset.value;
      } else {
        td.dataset.value = value;
      }
      td.title = this.scales.cellTitle(td.dataset.sequence, value);
      td.classList.toggle('unsaved', g.pending.has(key));
    }
    const graded = [...this.elementOf.keys()].filter((key) => g.values.has(key)).length;
    this.gradedCount.textContent = String(graded);
    this.table.classList.toggle('locked', g.locked());
    this.statusBadge.textContent = STATUS_LABELS[g.status];
    this.statusBadge.className = `badge ${g.status}`;
    this.submitButton.hidden = g.status === 'submitted';
    this.amendButton.hidden = !(g.status === 'submitted' && g.amendReason === null);
    this.document.body.dataset.readStatus = g.status;
  }

  showSaveStatus() {
    const { text, tone } = this.grading.saveSummary();
    this.saveStatus.classList.remove('pending', 'failed');
    this.saveStatus.textContent = text;
    if (tone) {
      this.saveStatus.classList.add(tone);
    }
    this.document.body.dataset.unsaved = String(this.grading.unsavedCount());
  }

  /** A passing message on the save status line (until the next save status). */
  showMessage(text, { failed = false } = {}) {
    this.saveStatus.textContent = text;
    if (failed) {
      this.saveStatus.classList.add('failed');
    }
  }

  showConflict() {
    this.conflictBanner.hidden = false;
  }

  showNotes({ note, findings }) {
    if (note !== undefined) {
      this.noteField.value = note || '';
    }
    if (findings === undefined) {
      return;
    }
    for (const box of this.findingBoxes()) {
      box.checked = Boolean(findings?.[box.dataset.region]?.[box.dataset.finding]);
    }
  }

  findingBoxes() {
    return this.document.querySelectorAll('input.finding');
  }

  /** {region: {finding: checked}} as the boxes are now. */
  findings() {
    const findings = {};
    for (const box of this.findingBoxes()) {
      findings[box.dataset.region] ??= {};
      findings[box.dataset.region][box.dataset.finding] = box.checked;
    }
    return findings;
  }

  /** After a submit's answer: the missing panel and the missing cells. Returns the cell to focus. */
  showSubmitAnswer({ outcome, missing = [], detail = null }) {
    if (outcome === 'blocked' || outcome === 'unsaved') {
      return null; // nothing was sent
    }
    for (const td of this.elementOf.values()) {
      td.classList.remove('missing');
    }
    if (outcome === 'submitted') {
      this.missingPanel.hidden = true;
      return null;
    }
    if (outcome !== 'refused') {
      return null;
    }
    const byId = (id) => this.document.getElementById(id);
    byId('missing-title').textContent = missing.length
      ? `${missing.length} cell${missing.length === 1 ? '' : 's'} not yet graded:`
      : 'Not submitted:';
    const list = byId('missing-list');
    list.replaceChildren();
    if (missing.length) {
      this.listMissing(list, missing);
    } else {
      list.textContent = detail || 'The read could not be submitted.';
    }
    this.missingPanel.hidden = false;
    for (const m of missing) {
      this.elementOf.get(cellKey(m.muscle, m.side, m.sequence))?.classList.add('missing');
    }
    return missing.length ? cellKey(missing[0].muscle, missing[0].side, missing[0].sequence) : null;
  }

  /** The missing cells grouped by muscle, each cell a button that jumps to it. */
  listMissing(list, missing) {
    const doc = this.document;
    for (const { name, cells } of this.grading.grid.groupMissing(missing)) {
      const item = doc.createElement('li');
      const label = doc.createElement('span');
      label.className = 'missing-muscle';
      label.textContent = `${name}: `;
      item.append(label);
      for (const cell of cells) {
        const button = doc.createElement('button');
        button.type = 'button';
        button.className = 'missing-cell';
        button.textContent = `${cell.side} ${cell.sequence}`;
        button.setAttribute('aria-label', `Go to ${name} ${cell.side} ${cell.sequence}`);
        button.addEventListener('click', () => this.onMissingChosen?.(cell.key));
        item.append(button);
      }
      list.append(item);
    }
  }
}
