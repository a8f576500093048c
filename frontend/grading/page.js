// The grading grid on the read page: builds the state machine (state.js) and its view
// (view.js) from the template, and turns the reader's keys, clicks and typing into changes.
// Keyboard-first: grading never needs the mouse.

import { createKeymap, isTypingTarget } from '../keys.js';
import { trackActiveTime } from './activity.js';
import { ShortcutHelp } from './help.js';
import { GRADE_KEYS, GRID_KEYMAP } from './keymap.js';
import { GradeScales } from './scale.js';
import { Grading } from './state.js';
import { GradingView, gridFromPage, keyOfElement } from './view.js';

export function startGrading({ document, window }) {
  const byId = (id) => document.getElementById(id);
  const config = JSON.parse(byId('grading-config').textContent);
  const scales = new GradeScales(JSON.parse(byId('grade-scale').textContent));
  const table = byId('grade-grid');
  const { grid, elementOf } = gridFromPage(table);
  const view = new GradingView({ document, table, elementOf, scales });
  const grading = new Grading({
    readId: config.readId,
    version: config.version,
    status: config.status,
    urls: config.urls,
    csrfToken: config.csrfToken,
    grid,
    scales,
    fetch: (url, options) => window.fetch(url, options),
    storage: window.localStorage,
    timers: window,
    view,
  });
  view.grading = grading;

  let keymap = gridKeymap(config.keymap);
  let current = null; // the focused cell's key
  let groupFillArmed = false;

  function focusCell(key) {
    const td = key ? elementOf.get(key) : null;
    if (!td) {
      return;
    }
    td.focus({ preventScroll: false });
    td.scrollIntoView({ block: 'nearest' });
    moveCursor(key);
  }

  // The viewer follows the cursor's functional group (region levels, frontend/README.md):
  // 'iim:grid-cursor' on the document, detail {key, muscle, side, sequence, group}.
  function moveCursor(key) {
    if (key === current) {
      return;
    }
    current = key;
    const cell = grid.byKey.get(key);
    if (cell) {
      document.dispatchEvent(new CustomEvent('iim:grid-cursor', {
        detail: { key, muscle: cell.muscle, side: cell.side, sequence: cell.sequence, group: cell.group },
      }));
    }
  }

  async function submit() {
    if (view.submitting) {
      return; // one submit at a time: the button says it is under way
    }
    view.showSubmitting(true);
    let answer;
    try {
      answer = await grading.submit();
    } catch (error) {
      view.showMessage(`Not submitted: ${error.message}`, { failed: true });
      return;
    } finally {
      view.showSubmitting(false);
    }
    const focus = view.showSubmitAnswer(answer);
    if (focus) {
      focusCell(focus);
    }
    // A training read is compared with its reference once submitted: the server draws that.
    if (answer.outcome === 'submitted' && config.training) {
      window.location.reload();
    }
  }
  view.onMissingChosen = (key) => focusCell(key);

  // ---------------------------------------------------------------- keyboard

  const moves = {
    next: () => grid.step(current, 1),
    prev: () => grid.step(current, -1),
    down: () => grid.stepInColumn(current, 1),
    up: () => grid.stepInColumn(current, -1),
  };

  document.addEventListener('keydown', (event) => {
    if (isTypingTarget(event.target) || document.querySelector('dialog[open]')) {
      return;
    }
    const action = keymap.actionFor(event);
    if (groupFillArmed) {
      groupFillArmed = false;
      if (action in GRADE_KEYS) {
        event.preventDefault();
        const answer = grading.fillGroup(current, GRADE_KEYS[action]);
        if (!answer.refused) {
          view.showMessage(groupFillMessage(answer, GRADE_KEYS[action]));
        }
      }
      return;
    }
    if (!action) {
      return;
    }
    if (action in moves) {
      if (!current) {
        return;
      }
      event.preventDefault();
      focusCell(moves[action]());
    } else if (action in GRADE_KEYS) {
      if (!current) {
        return;
      }
      event.preventDefault();
      if (grading.locked()) {
        view.showMessage('Submitted: use Amend… to change a grade');
        return;
      }
      // A grade off the cell's scale is refused with a message; the cursor stays on the cell.
      if (grading.setGrade(current, GRADE_KEYS[action])) {
        focusCell(grid.step(current, 1));
      }
    } else if (action === 'undo') {
      event.preventDefault();
      const answer = grading.undo();
      view.showMessage(undoMessage(answer), { failed: Boolean(answer?.kept) });
    } else if (action === 'copySide') {
      event.preventDefault();
      grading.copyToOtherSide(current);
    } else if (action === 'groupFill') {
      event.preventDefault();
      groupFillArmed = true;
      view.showMessage('Group: press a grade key…');
    } else if (action === 'nextCase') {
      event.preventDefault();
      byId('next-case').click();
    } else if (action === 'submit') {
      event.preventDefault();
      submit();
    } else if (action === 'help') {
      event.preventDefault();
      help.open();
    }
  });

  // ---------------------------------------------------------------- mouse and fields

  table.addEventListener('click', (event) => {
    const td = event.target.closest('td.cell');
    if (td) {
      focusCell(keyOfElement(td));
    }
  });
  table.addEventListener('focusin', (event) => {
    if (event.target.matches('td.cell')) {
      moveCursor(keyOfElement(event.target));
    }
  });

  view.submitButton.addEventListener('click', submit);
  byId('reload-button').addEventListener('click', () => {
    grading.forgetStored();
    window.location.reload();
  });

  // Amend: a submitted read changes only with a reason.
  const amendDialog = byId('amend-dialog');
  view.amendButton.addEventListener('click', () => amendDialog.showModal());
  byId('amend-cancel').addEventListener('click', () => amendDialog.close());
  byId('amend-start').addEventListener('click', () => {
    const reason = byId('amend-reason').value.trim();
    if (!reason) {
      byId('amend-reason').focus();
      return;
    }
    amendDialog.close();
    grading.startAmend(reason);
    view.showMessage('Amending: changes are recorded with your reason');
    focusCell(current || grid.cells[0]?.key);
  });

  for (const box of view.findingBoxes()) {
    box.addEventListener('change', () => grading.setFindings(view.findings()));
  }
  view.noteField.addEventListener('input', () => grading.noteEdited(view.noteField.value));

  const help = new ShortcutHelp({
    document,
    window,
    gridBindings: () => keymap.bindings,
    scales,
    viewerKeymap: () => window.iimViewer?.keymap?.() || null,
    onRemap: (id, binding) => {
      config.keymap = { ...(config.keymap || {}), [id]: [binding] };
      keymap = gridKeymap(config.keymap);
      grading.post(config.urls.prefs, { keymap: { [id]: [binding] } });
    },
  });

  // ---------------------------------------------------------------- page life

  const activity = trackActiveTime({ document, window, grading });
  window.addEventListener('pagehide', () => {
    grading.queueNote(); // kept in storage: sent when the read is opened again
    activity.report(true);
  });
  window.addEventListener('online', () => grading.online());

  // Start: the server's grades, then whatever this browser had not saved yet.
  grading.loadState()
    .then((readState) => {
      grading.recoverStored(readState);
      view.render();
      focusCell(grid.firstOpen(grading.values));
      document.body.dataset.gradingReady = '1';
      if (grading.pending.size || grading.notes) {
        grading.flush(); // a recovered note alone is sent too
      }
      view.showSaveStatus();
    })
    .catch((error) => {
      view.showMessage(error.message, { failed: true });
    });

  return { state: grading, flush: () => grading.flush(), submit, cursor: () => current };
}

/** What a group fill did, in the reader's words (and how to overwrite what it kept). */
export function groupFillMessage({ filled, kept, overwritten = 0 }, value) {
  const cells = (n) => `${n} cell${n === 1 ? '' : 's'}`;
  if (overwritten) {
    return `Group: ${cells(overwritten)} overwritten with ${value} (Ctrl+Z undoes it)`;
  }
  if (kept) {
    const done = filled ? `${cells(filled)} filled with ${value}; ` : '';
    return `Group: ${done}${cells(kept)} already graded kept. Press g ${value} again now to overwrite them.`;
  }
  return filled ? `Group: ${cells(filled)} filled with ${value}` : 'Group: nothing to fill';
}

/** What an undo did. */
export function undoMessage(answer) {
  if (!answer) {
    return 'Nothing to undo';
  }
  const cells = (n) => `${n} cell${n === 1 ? '' : 's'}`;
  const kept = answer.kept ? `; ${cells(answer.kept)} already saved stay graded (grade them again to change them)` : '';
  return `Undone: ${cells(answer.undone)}${kept}`;
}

function gridKeymap(overrides) {
  return createKeymap({ defaults: GRID_KEYMAP, overrides: overrides || {}, prefix: 'grid' });
}
