// Grading scales other than 0–2: a protocol grading STIR on an oedema 0–3 and T1 on modified
// Mercuri 0–5, as a reader meets it on the grid (keys, refusals, tooltips, the ? list).
import test from 'node:test';
import assert from 'node:assert/strict';
import { createKeymap } from '../keys.js';
import { GRADE_KEYS, GRID_KEYMAP } from '../grading/keymap.js';
import { startGrading } from '../grading/page.js';
import { Grading } from '../grading/state.js';
import { VIEWER_KEYMAP } from '../viewer/keymap.js';
import { FakeElement, pressKey, readPage } from './fake-dom.js';
import { FakeClock, FakeServer, FakeStorage, SCALE, URLS, settled, thighGrid, thighScales } from './fakes.js';

const RF_R_STIR = 'rectus-femoris|R|STIR';
const RF_R_T1 = 'rectus-femoris|R|T1';
const RF_L_STIR = 'rectus-femoris|L|STIR';
const STIR_REFUSAL = 'STIR is graded 0–3 (Oedema 0–3): 4 is not a grade on it.';

const press = (code, key, mods = {}) => ({
  code, key, shiftKey: false, ctrlKey: false, altKey: false, metaKey: false, ...mods,
});

function grading({ server = new FakeServer(), storage = new FakeStorage() } = {}) {
  const messages = [];
  const g = new Grading({
    readId: 7, version: 0, status: 'in_progress', urls: URLS, csrfToken: 'token', grid: thighGrid(),
    scales: thighScales(), fetch: server.fetch, storage, timers: new FakeClock(),
    view: { showMessage: (text) => messages.push(text) },
  });
  return { grading: g, server, storage, messages };
}

/** The read page (fake DOM) started as grading.js starts it, on `server`'s read. */
async function openPage({ server = new FakeServer(), keymap = {} } = {}) {
  const clock = new FakeClock();
  const storage = new FakeStorage();
  const config = { readId: 7, version: server.version, status: server.status, urls: URLS, csrfToken: 'token', keymap };
  const document = readPage({ grid: thighGrid(), config, scale: SCALE });
  const window = Object.assign(new FakeElement('window'), {
    fetch: server.fetch,
    localStorage: storage,
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (id) => clock.clearTimeout(id),
    setInterval: () => 0,
  });
  const page = startGrading({ document, window });
  await settled();
  const cell = (key) => page.state.grid.cells.findIndex((c) => c.key === key);
  const td = (key) => document.querySelectorAll('td.cell')[cell(key)];
  const status = () => document.getElementById('save-status').textContent;
  return { page, document, window, server, storage, td, status };
}

// -------------------------------------------------------------------- the scales

test('each sequence takes the grades of its own scale, and NA', () => {
  const scales = thighScales();
  assert.equal(scales.allows('STIR', '3'), true);
  assert.equal(scales.allows('STIR', '4'), false);
  assert.equal(scales.allows('T1', '5'), true);
  assert.equal(scales.allows('T1', '6'), false);
  assert.equal(scales.allows('STIR', 'NA'), true);
  assert.equal(scales.allows('T1', 'NA'), true);
  assert.equal(scales.range('T1'), '0–5');
  assert.deepEqual(scales.sequencesWith('4'), ['T1']);
  assert.deepEqual(scales.sequencesWith('NA'), ['STIR', 'T1']);
});

test('a grade off the scale is refused in words that name the sequence and its scale', () => {
  assert.equal(thighScales().refusal('STIR', '4'), STIR_REFUSAL);
  assert.equal(
    thighScales().refusal('DIXON', '1'),
    'DIXON has no grading scale in this protocol: 1 is not a grade on it.',
  );
});

test("a cell's tooltip gives its grade's label and definition, an empty one its sequence's scale", () => {
  const scales = thighScales();
  assert.equal(scales.cellTitle('STIR', '3'), '3 – Severe: Hyperintensity through the whole muscle');
  assert.equal(scales.cellTitle('T1', '3'), '3 – Moderate: Increased signal in 30–60 % of the muscle');
  assert.equal(scales.cellTitle('T1', '5'), '5 – End stage');
  assert.equal(scales.cellTitle('T1', 'NA'), 'NA – Not assessable: Outside the field of view, artefact');
  assert.equal(scales.cellTitle('STIR', '5'), '5: not a grade of Oedema 0–3');
  assert.equal(scales.cellTitle('STIR', undefined), [
    'STIR: Oedema 0–3',
    '0 – No oedema: Signal as in healthy muscle',
    '1 – Mild: Faint or patchy hyperintensity',
    '2 – Moderate: Clear hyperintensity in part of the muscle',
    '3 – Severe: Hyperintensity through the whole muscle',
    'NA – Not assessable: Outside the field of view, artefact',
  ].join('\n'));
});

// -------------------------------------------------------------------- the state machine

test('5 on a T1 cell is saved; 4 on a STIR cell is refused, said, and neither queued nor saved', async () => {
  const { grading: g, server, storage, messages } = grading();
  assert.equal(g.setGrade(RF_R_T1, '5'), true);
  await settled();
  assert.equal(server.grades.get(RF_R_T1), '5');

  assert.equal(g.setGrade(RF_R_STIR, '4'), false);
  assert.deepEqual(messages, [STIR_REFUSAL]);
  assert.equal(g.values.has(RF_R_STIR), false);
  assert.equal(g.pending.size, 0);
  assert.equal(storage.getItem('iim-read-7-pending'), null);
  await settled();
  assert.deepEqual(server.saves().map((s) => s.changes), [{ [RF_R_T1]: '5' }]);
  assert.equal(g.history.length, 1); // nothing to undo but the 5
});

test('NA is a grade of both sequences', async () => {
  const { grading: g, server } = grading();
  assert.equal(g.setGrade(RF_R_STIR, 'NA'), true);
  assert.equal(g.setGrade(RF_R_T1, 'NA'), true);
  await settled();
  assert.equal(server.grades.get(RF_R_STIR), 'NA');
  assert.equal(server.grades.get(RF_R_T1), 'NA');
});

test('a group fill with a grade off the scale fills nothing and says why', async () => {
  const { grading: g, server, messages } = grading();
  assert.deepEqual(g.fillGroup(RF_R_STIR, '5'), { filled: 0, kept: 0, refused: true });
  assert.deepEqual(messages, ['STIR is graded 0–3 (Oedema 0–3): 5 is not a grade on it.']);
  assert.deepEqual(g.fillGroup(RF_R_T1, '5'), { filled: 4, kept: 0, overwritten: 0 });
  await settled();
  assert.equal(server.grades.get('vastus-lateralis|L|T1'), '5');
});

// -------------------------------------------------------------------- keys

test('3, 4 and 5 (and the numpad\'s) are grade keys of the grid, never the viewer\'s', () => {
  const grid = createKeymap({ defaults: GRID_KEYMAP, overrides: {}, prefix: 'grid', mac: false });
  const viewer = createKeymap({ defaults: VIEWER_KEYMAP, overrides: {}, prefix: 'viewer', mac: false });
  for (const digit of ['3', '4', '5']) {
    assert.equal(grid.actionFor(press(`Digit${digit}`, digit)), `grade${digit}`);
    assert.equal(grid.actionFor(press(`Numpad${digit}`, digit)), `grade${digit}`);
    assert.equal(GRADE_KEYS[`grade${digit}`], digit);
    assert.equal(viewer.actionFor(press(`Digit${digit}`, digit)), null);
  }
  assert.equal(grid.actionFor(press('Digit3', '#', { shiftKey: true })), null); // Shift+3: a preset
  assert.equal(viewer.actionFor(press('Digit3', '#', { shiftKey: true })), 'presetBoth3');
});

test('grade4 is remapped like any grid action', () => {
  const grid = createKeymap({ defaults: GRID_KEYMAP, overrides: { 'grid.grade4': 'KeyQ' }, prefix: 'grid', mac: false });
  assert.equal(grid.actionFor(press('KeyQ', 'q')), 'grade4');
  assert.equal(grid.actionFor(press('Digit4', '4')), null);
});

// -------------------------------------------------------------------- the page

test('on the page, 4 on a STIR cell is refused on the status line and the cursor stays', async () => {
  const { page, server, td, status } = await openPage();
  assert.equal(page.cursor(), RF_R_STIR);
  const event = pressKey(td(RF_R_STIR).ownerDocument, 'Digit4', '4');
  assert.equal(event.defaultPrevented, true);
  assert.equal(status(), STIR_REFUSAL);
  assert.equal(page.cursor(), RF_R_STIR);
  assert.equal(td(RF_R_STIR).textContent, '');
  await settled();
  assert.deepEqual(server.saves(), []);
  assert.equal(page.state.pending.size, 0);
});

test('on the page, 5 on a T1 cell grades it 5 and moves on; n grades NA on either sequence', async () => {
  const { page, document, server, td } = await openPage();
  pressKey(document, 'ArrowRight', 'ArrowRight');
  assert.equal(page.cursor(), RF_R_T1);
  pressKey(document, 'Digit5', '5');
  assert.equal(page.cursor(), RF_L_STIR);
  assert.equal(td(RF_R_T1).textContent, '5');
  assert.equal(td(RF_R_T1).dataset.value, '5');
  assert.equal(td(RF_R_T1).title, '5 – End stage');
  pressKey(document, 'KeyN', 'n');
  pressKey(document, 'KeyN', 'n');
  await settled();
  assert.equal(server.grades.get(RF_R_T1), '5');
  assert.equal(server.grades.get(RF_L_STIR), 'NA');
  assert.equal(server.grades.get('rectus-femoris|L|T1'), 'NA');
  assert.equal(td(RF_L_STIR).title, 'NA – Not assessable: Outside the field of view, artefact');
  assert.match(td(RF_R_STIR).title, /^STIR: Oedema 0–3\n0 – No oedema/);
  assert.match(td('gracilis|L|T1').title, /^T1: Modified Mercuri 0–5\n[^]*\n5 – End stage\nNA – /);
});

test('on the page, g then 4 on a STIR cell fills nothing and says why', async () => {
  const { document, server, status } = await openPage();
  pressKey(document, 'KeyG', 'g');
  pressKey(document, 'Digit4', '4');
  assert.equal(status(), STIR_REFUSAL);
  await settled();
  assert.deepEqual(server.saves(), []);
});

test('? lists each sequence\'s scale with labels and definitions, NA, and which grade keys apply', async () => {
  const { document } = await openPage();
  pressKey(document, 'Slash', '?', { shiftKey: true });
  assert.equal(document.getElementById('help-dialog').open, true);
  const rows = document.querySelectorAll('#shortcut-table tr').map((tr) => tr.cells.map((c) => c.textContent));
  const at = (text) => rows.findIndex((r) => r[0] === text);
  assert.ok(at('STIR: Oedema 0–3') >= 0 && at('T1: Modified Mercuri 0–5') > at('STIR: Oedema 0–3'));
  assert.deepEqual(rows[at('STIR: Oedema 0–3') + 4], ['3', 'Severe: Hyperintensity through the whole muscle', '']);
  assert.deepEqual(rows[at('T1: Modified Mercuri 0–5') + 6], ['5', 'End stage', '']);
  assert.deepEqual(rows[at('Every sequence') + 1], ['NA', 'Not assessable: Outside the field of view, artefact', '']);
  const label = (keys) => rows.find((r) => r[0] === keys)?.[1];
  assert.equal(label('3 Numpad3'), 'Grade 3 and go to the next cell');
  assert.equal(label('4 Numpad4'), 'Grade 4 and go to the next cell (T1 only)');
  assert.equal(label('5 Numpad5'), 'Grade 5 and go to the next cell (T1 only)');
});

test('grade4 remapped in the ? list grades 4 with the new key', async () => {
  const { page, document, window, server } = await openPage();
  pressKey(document, 'Slash', '?', { shiftKey: true });
  const row = document.querySelectorAll('#shortcut-table tr').find((tr) => tr.cells[1]?.textContent.startsWith('Grade 4'));
  row.querySelector('button').dispatchEvent({ type: 'click' });
  pressKey(window, 'KeyQ', 'q');
  assert.equal(row.cells[0].textContent, 'KeyQ');
  document.getElementById('help-close').dispatchEvent({ type: 'click' });
  pressKey(document, 'ArrowRight', 'ArrowRight');
  pressKey(document, 'KeyQ', 'q');
  await settled();
  assert.equal(server.grades.get(RF_R_T1), '4');
  assert.equal(page.cursor(), RF_L_STIR);
  assert.deepEqual(server.requests.find((r) => r.url === URLS.prefs).body, { keymap: { 'grid.grade4': ['KeyQ'] } });
});
