// The grading grid's state machine against an in-memory server: what a reader sees saved,
// waiting, retried, refused or in conflict, and what reaches the server.
import test from 'node:test';
import assert from 'node:assert/strict';
import { GROUP_OVERWRITE_MS, Grading } from '../grading/state.js';
import { FakeClock, FakeServer, FakeStorage, URLS, settled, thighGrid, thighScales } from './fakes.js';

const RF_R_STIR = 'rectus-femoris|R|STIR';
const RF_R_T1 = 'rectus-femoris|R|T1';
const RF_L_STIR = 'rectus-femoris|L|STIR';
const RF_L_T1 = 'rectus-femoris|L|T1';
const VL_R_STIR = 'vastus-lateralis|R|STIR';
const VL_L_STIR = 'vastus-lateralis|L|STIR';
const GRACILIS_R_STIR = 'gracilis|R|STIR';
const STORAGE_KEY = 'iim-read-7-pending';

/** The read page opened on `server`'s read, as page.js starts it. */
async function openRead({ server = new FakeServer(), storage = new FakeStorage(), clock = new FakeClock() } = {}) {
  const seen = { messages: [], conflicts: 0 };
  const grading = new Grading({
    readId: 7,
    version: server.version,
    status: server.status,
    urls: URLS,
    csrfToken: 'token',
    grid: thighGrid(),
    scales: thighScales(),
    fetch: server.fetch,
    storage,
    timers: clock,
    view: {
      showMessage: (text) => seen.messages.push(text),
      showConflict: () => (seen.conflicts += 1),
    },
  });
  const readState = await grading.loadState();
  grading.recoverStored(readState);
  if (grading.pending.size || grading.notes) {
    grading.flush();
  }
  await settled();
  return { grading, server, storage, clock, seen };
}

const stored = (storage) => JSON.parse(storage.getItem(STORAGE_KEY));

// -------------------------------------------------------------------- autosave

test('a grade is saved at once with the version the page has, and nothing stays unsaved', async () => {
  const { grading, server, storage } = await openRead();
  grading.setGrade(RF_R_STIR, '2');
  assert.equal(grading.saveSummary().text, 'Saving 1 change…');
  assert.deepEqual(stored(storage).changes, { [RF_R_STIR]: '2' });
  await settled();
  assert.deepEqual(server.saves(), [{ url: URLS.grades, version: 0, changes: { [RF_R_STIR]: '2' } }]);
  assert.equal(server.grades.get(RF_R_STIR), '2');
  assert.deepEqual(grading.saveSummary(), { text: 'All changes saved', tone: '' });
  assert.equal(storage.getItem(STORAGE_KEY), null);
});

test('grades given while a save is on its way follow in one next request, on the new version', async () => {
  const { grading, server } = await openRead();
  grading.setGrade(RF_R_STIR, '2');
  grading.setGrade(RF_R_T1, '1');
  grading.setGrade(RF_L_STIR, 'NA');
  assert.equal(grading.saveSummary().text, 'Saving 3 changes…');
  await settled();
  assert.deepEqual(server.saves(), [
    { url: URLS.grades, version: 0, changes: { [RF_R_STIR]: '2' } },
    { url: URLS.grades, version: 1, changes: { [RF_R_T1]: '1', [RF_L_STIR]: 'NA' } },
  ]);
  assert.equal(grading.unsavedCount(), 0);
});

test('a cell changed again while its save is on its way ends with the last value', async () => {
  const { grading, server } = await openRead();
  grading.setGrade(RF_R_STIR, '1');
  grading.setGrade(RF_R_STIR, '2');
  await settled();
  assert.equal(server.grades.get(RF_R_STIR), '2');
  assert.equal(grading.values.get(RF_R_STIR), '2');
  assert.equal(grading.unsavedCount(), 0);
});

// -------------------------------------------------------------------- retry with backoff

test('offline, changes wait in storage and are retried after 1, 2, 4, 8 then every 15 s', async () => {
  const { grading, server, storage, clock } = await openRead();
  server.offline = true;
  grading.setGrade(RF_R_STIR, '2');
  grading.setGrade(RF_R_T1, '1');
  await settled();
  assert.deepEqual(grading.saveSummary(), { text: 'Connection lost: 2 unsaved changes, retrying…', tone: 'failed' });
  assert.deepEqual(stored(storage).changes, { [RF_R_STIR]: '2', [RF_R_T1]: '1' });
  const delays = [];
  for (let i = 0; i < 6; i += 1) {
    delays.push(...clock.waiting());
    await clock.advance(clock.waiting()[0]);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 15000, 15000]);
  assert.equal(server.grades.size, 0);

  server.offline = false;
  await clock.advance(15000);
  assert.equal(server.grades.get(RF_R_STIR), '2');
  assert.equal(server.grades.get(RF_R_T1), '1');
  assert.equal(grading.saveSummary().text, 'All changes saved');
  assert.equal(storage.getItem(STORAGE_KEY), null);

  server.offline = true; // the next loss starts again at 1 s
  grading.setGrade(RF_L_STIR, '0');
  await settled();
  assert.deepEqual(clock.waiting(), [1000]);
});

test('when the connection returns the page sends at once, without waiting for the retry', async () => {
  const { grading, server, clock } = await openRead();
  server.offline = true;
  grading.setGrade(RF_R_STIR, '2');
  await settled();
  assert.deepEqual(clock.waiting(), [1000]);
  server.offline = false;
  grading.online();
  await settled();
  assert.equal(server.grades.get(RF_R_STIR), '2');
  assert.deepEqual(clock.waiting(), []);
});

test('a server error is retried like a lost connection, not shown as a conflict', async () => {
  const { grading, server, clock, seen } = await openRead();
  server.failNext = 503;
  grading.setGrade(RF_R_STIR, '2');
  await settled();
  assert.equal(grading.saveSummary().text, 'Connection lost: 1 unsaved change, retrying…');
  await clock.advance(1000);
  assert.equal(server.grades.get(RF_R_STIR), '2');
  assert.equal(seen.conflicts, 0);
});

// -------------------------------------------------------------------- version conflicts

test('a read saved meanwhile by another tab is not overwritten: the page shows the conflict', async () => {
  const { grading, server, storage, seen } = await openRead();
  server.saveElsewhere(RF_R_STIR, '0');
  grading.setGrade(RF_R_STIR, '2');
  await settled();
  assert.equal(grading.conflict, true);
  assert.equal(seen.conflicts, 1);
  assert.equal(server.grades.get(RF_R_STIR), '0');
  assert.deepEqual(grading.saveSummary(), { text: '1 change not saved: reload', tone: 'failed' });
  assert.deepEqual(stored(storage).changes, { [RF_R_STIR]: '2' }); // not lost before the reload

  const sent = server.requests.length;
  grading.setGrade(RF_R_T1, '1');
  await settled();
  assert.equal(server.requests.length, sent); // nothing more is sent
  assert.equal(grading.saveSummary().text, '2 changes not saved: reload');
});

test('a save whose answer was lost is not taken for a conflict when its retry is refused as stale', async () => {
  const { grading, server, clock, seen } = await openRead();
  server.loseNextAnswer = true;
  grading.setGrade(RF_R_STIR, '2');
  await settled();
  assert.equal(server.version, 1); // saved, though the page does not know it
  assert.equal(grading.saveSummary().text, 'Connection lost: 1 unsaved change, retrying…');
  grading.setGrade(RF_R_T1, '1'); // queued behind the retry
  await clock.advance(1000);
  assert.equal(grading.conflict, false);
  assert.equal(seen.conflicts, 0);
  assert.equal(server.grades.get(RF_R_STIR), '2');
  assert.equal(server.grades.get(RF_R_T1), '1');
  assert.equal(grading.saveSummary().text, 'All changes saved');
});

test('a stale answer after a lost one that did not land is a conflict', async () => {
  const { grading, server, clock } = await openRead();
  server.offline = true;
  grading.setGrade(RF_R_STIR, '2');
  await settled();
  server.offline = false;
  server.saveElsewhere(RF_R_STIR, '1'); // another tab, not this page's save
  await clock.advance(1000);
  assert.equal(grading.conflict, true);
  assert.equal(server.grades.get(RF_R_STIR), '1');
});

test('a submitted read refuses grades as a conflict (another tab submitted it)', async () => {
  const { grading, server } = await openRead();
  server.status = 'submitted';
  grading.setGrade(RF_R_STIR, '2');
  await settled();
  assert.equal(grading.conflict, true);
  assert.equal(server.grades.size, 0);
});

// -------------------------------------------------------------------- a reload

test('changes a closed tab left unsaved are sent when the read is opened again', async () => {
  const storage = new FakeStorage({ [STORAGE_KEY]: JSON.stringify({ version: 0, changes: { [RF_R_STIR]: 'NA' } }) });
  const { grading, server } = await openRead({ storage });
  assert.equal(server.grades.get(RF_R_STIR), 'NA');
  assert.equal(grading.conflict, false);
  assert.equal(storage.getItem(STORAGE_KEY), null);
});

test('left changes made before another tab saved are not sent: the page shows the conflict', async () => {
  const server = new FakeServer();
  server.saveElsewhere(RF_R_T1, '1');
  const storage = new FakeStorage({ [STORAGE_KEY]: JSON.stringify({ version: 0, changes: { [RF_R_STIR]: '2' } }) });
  const { grading, seen } = await openRead({ server, storage });
  assert.equal(seen.conflicts, 1);
  assert.equal(server.grades.has(RF_R_STIR), false);
  assert.equal(grading.values.get(RF_R_STIR), '2'); // shown, as unsaved
  assert.equal(grading.pending.get(RF_R_STIR), '2');
});

test('a reload before a save was answered keeps the next change without a conflict', async () => {
  const server = new FakeServer();
  server.saveElsewhere(RF_R_STIR, '2'); // this page's save, landed; its answer never came
  const storage = new FakeStorage({
    [STORAGE_KEY]: JSON.stringify({
      version: 0,
      changes: { [RF_R_STIR]: '2', [RF_R_T1]: '1' },
      sent: { version: 0, changes: { [RF_R_STIR]: '2' } },
    }),
  });
  const { grading, seen } = await openRead({ server, storage });
  assert.equal(seen.conflicts, 0);
  assert.deepEqual(server.saves(), [{ url: URLS.grades, version: 1, changes: { [RF_R_T1]: '1' } }]);
  assert.equal(grading.unsavedCount(), 0);
});

test('left changes the server already has are forgotten; unreadable ones are ignored', async () => {
  const server = new FakeServer();
  server.saveElsewhere(RF_R_STIR, '2');
  const storage = new FakeStorage({ [STORAGE_KEY]: JSON.stringify({ version: 0, changes: { [RF_R_STIR]: '2' } }) });
  const first = await openRead({ server, storage });
  assert.equal(first.grading.conflict, false);
  assert.equal(storage.getItem(STORAGE_KEY), null);
  assert.deepEqual(server.saves(), []);

  storage.setItem(STORAGE_KEY, '{not json');
  const second = await openRead({ server, storage });
  assert.equal(second.grading.unsavedCount(), 0);
  assert.equal(second.grading.conflict, false);
});

// -------------------------------------------------------------------- refused changes

test('a change the server refuses is dropped, its reason shown, and the saved grade shown again', async () => {
  const server = new FakeServer();
  server.saveElsewhere(RF_R_STIR, '0');
  const { grading, clock, seen } = await openRead({ server });
  server.refuseNext = 'Not a grade of this scale.';
  grading.setGrade(RF_R_STIR, '2');
  await settled();
  assert.deepEqual(seen.messages, ['Not a grade of this scale.']);
  assert.equal(grading.values.get(RF_R_STIR), '0');
  assert.equal(grading.unsavedCount(), 0);
  assert.equal(grading.conflict, false);
  assert.deepEqual(clock.waiting(), []);
});

// -------------------------------------------------------------------- group fill, copy

test('group fill grades the empty functional group in this sequence, both sides, in one save', async () => {
  const { grading, server } = await openRead();
  grading.fillGroup(RF_R_STIR, '1');
  await settled();
  assert.deepEqual(server.saves(), [{
    url: URLS.grades,
    version: 0,
    changes: { [RF_R_STIR]: '1', [RF_L_STIR]: '1', [VL_R_STIR]: '1', [VL_L_STIR]: '1' },
  }]);
  assert.equal(grading.values.has(RF_R_T1), false); // other sequence
  assert.equal(grading.values.has(GRACILIS_R_STIR), false); // other group
});

test('a cell is copied to the other side; an empty cell copies nothing', async () => {
  const { grading, server } = await openRead();
  grading.setGrade(RF_R_T1, '2');
  grading.copyToOtherSide(RF_R_T1);
  grading.copyToOtherSide(RF_R_STIR);
  await settled();
  assert.equal(server.grades.get(RF_L_T1), '2');
  assert.equal(server.grades.has(RF_L_STIR), false);
});

// -------------------------------------------------------------------- submit and amend

test('submit saves what is queued first, then lists the cells still missing', async () => {
  const { grading, server, seen } = await openRead();
  grading.setGrade(RF_R_STIR, '1');
  const answer = await grading.submit();
  assert.deepEqual(seen.messages, ['Saving first…']);
  assert.equal(server.grades.get(RF_R_STIR), '1');
  assert.equal(answer.outcome, 'refused');
  assert.equal(answer.missing.length, 11);
  assert.deepEqual(answer.missing[0], { muscle: 'rectus-femoris', name: 'Rectus femoris', side: 'R', sequence: 'T1' });
  assert.equal(grading.status, 'in_progress');
});

test('a fully graded read is submitted and then locked', async () => {
  const { grading, server } = await openRead();
  for (const cell of thighGrid().cells) {
    grading.setGrade(cell.key, '0');
  }
  assert.deepEqual(await grading.submit(), { outcome: 'submitted' });
  assert.equal(server.status, 'submitted');
  assert.equal(grading.status, 'submitted');
  assert.equal(grading.locked(), true);
  const sent = server.requests.length;
  grading.setGrade(RF_R_STIR, '2');
  grading.fillGroup(RF_R_STIR, '2');
  await settled();
  assert.equal(server.requests.length, sent);
  assert.equal(grading.values.get(RF_R_STIR), '0');
});

test('submit with changes that cannot be saved does not submit', async () => {
  const { grading, server, seen } = await openRead();
  server.offline = true;
  grading.setGrade(RF_R_STIR, '1');
  assert.deepEqual(await grading.submit(), { outcome: 'unsaved' });
  assert.equal(seen.messages.at(-1), 'Not submitted: some changes are not saved yet.');

  server.offline = false;
  server.saveElsewhere(RF_R_T1, '0');
  grading.online();
  await settled();
  assert.deepEqual(await grading.submit(), { outcome: 'blocked' }); // in conflict: nothing sent
  assert.equal(server.requests.some((r) => r.url === URLS.submit), false);
});

test('amending a submitted read sends each change with the reason, and the read stays submitted', async () => {
  const server = new FakeServer({ status: 'submitted' });
  const { grading } = await openRead({ server });
  grading.startAmend('missed oedema');
  assert.equal(grading.locked(), false);
  grading.setGrade(RF_L_STIR, '2');
  await settled();
  assert.deepEqual(server.saves(), [{ url: URLS.amend, version: 0, changes: { [RF_L_STIR]: '2' }, reason: 'missed oedema' }]);
  assert.equal(grading.status, 'submitted');
});

// -------------------------------------------------------------------- note and findings

test('the note is saved 800 ms after the last keystroke, and counts as unsaved until then', async () => {
  const { grading, server, clock } = await openRead();
  grading.noteEdited('Motion');
  assert.equal(grading.saveSummary().text, 'Saving 1 change…');
  await clock.advance(799);
  grading.noteEdited('Motion artefact');
  await clock.advance(799);
  assert.equal(server.requests.filter((r) => r.url === URLS.notes).length, 0);
  await clock.advance(1);
  assert.equal(server.note, 'Motion artefact');
  assert.equal(grading.saveSummary().text, 'All changes saved');
});

test('a note typed just before the page goes away is kept in storage for the next opening', async () => {
  const { grading, server, storage } = await openRead();
  server.offline = true;
  grading.noteEdited('Motion artefact in the right thigh.');
  grading.queueNote(); // pagehide
  assert.deepEqual(stored(storage).notes, { note: 'Motion artefact in the right thigh.' });

  server.offline = false;
  const again = await openRead({ server, storage });
  assert.equal(server.note, 'Motion artefact in the right thigh.');
  assert.equal(again.grading.unsavedCount(), 0);
});

test('findings are saved as ticked', async () => {
  const { grading, server } = await openRead();
  grading.setFindings({ thigh: { fasciitis: true, asymmetry: false } });
  await settled();
  assert.deepEqual(server.findings, { thigh: { fasciitis: true, asymmetry: false } });
});

// -------------------------------------------------------------------- the page's view

test('the view is told when to show the grid and the save status, even as a class instance', async () => {
  class RecordingView {
    constructor() {
      this.calls = [];
    }

    render() {
      this.calls.push('render');
    }

    showSaveStatus() {
      this.calls.push('showSaveStatus');
    }
  }
  const view = new RecordingView();
  const server = new FakeServer();
  const grading = new Grading({
    readId: 7, version: 0, status: 'in_progress', urls: URLS, csrfToken: 'token', grid: thighGrid(),
    scales: thighScales(), fetch: server.fetch, storage: new FakeStorage(), timers: new FakeClock(), view,
  });
  grading.setGrade(RF_R_STIR, '2');
  await settled();
  assert.deepEqual(view.calls, ['render', 'showSaveStatus', 'render', 'showSaveStatus']);
});

// -------------------------------------------------------------------- group fill keeps grades, undo

test('group fill gives the grade only to empty cells and says how many it kept', async () => {
  const { grading, server } = await openRead();
  grading.setGrade(RF_R_STIR, '1');
  grading.setGrade(RF_L_STIR, '2');
  await settled();
  const answer = grading.fillGroup(VL_R_STIR, '0');
  await settled();
  assert.deepEqual(answer, { filled: 2, kept: 2, overwritten: 0 });
  assert.equal(server.grades.get(RF_R_STIR), '1');
  assert.equal(server.grades.get(RF_L_STIR), '2');
  assert.equal(server.grades.get(VL_R_STIR), '0');
  assert.equal(server.grades.get(VL_L_STIR), '0');
});

test('the same fill again within a moment overwrites the kept cells; later it does not', async () => {
  const { grading, server, clock } = await openRead();
  grading.setGrade(RF_R_STIR, '1');
  await settled();
  assert.equal(grading.fillGroup(RF_R_STIR, '0').kept, 1);
  await clock.advance(GROUP_OVERWRITE_MS - 1);
  assert.deepEqual(grading.fillGroup(RF_R_STIR, '0'), { filled: 0, kept: 0, overwritten: 1 });
  await settled();
  assert.equal(server.grades.get(RF_R_STIR), '0');

  grading.setGrade(RF_L_STIR, '2');
  await settled();
  assert.equal(grading.fillGroup(RF_R_STIR, '1').kept, 4);
  await clock.advance(GROUP_OVERWRITE_MS + 1);
  assert.equal(grading.fillGroup(RF_R_STIR, '1').overwritten, 0); // too late: kept again
  await settled();
  assert.equal(server.grades.get(RF_L_STIR), '2');
});

test('a second press with another grade does not overwrite', async () => {
  const { grading, server } = await openRead();
  grading.setGrade(RF_R_STIR, '1');
  await settled();
  grading.fillGroup(RF_R_STIR, '0');
  assert.equal(grading.fillGroup(RF_R_STIR, '2').overwritten, 0);
  await settled();
  assert.equal(server.grades.get(RF_R_STIR), '1');
});

test('Ctrl+Z brings back the grades an overwriting fill replaced, and saves them', async () => {
  // The probe: deltoid R STIR 1→0, L STIR 2→0 and teres major NA→0 by one group fill.
  const { grading, server } = await openRead();
  grading.setGrade(RF_R_STIR, '1');
  grading.setGrade(RF_L_STIR, '2');
  grading.setGrade(VL_R_STIR, 'NA');
  await settled();
  grading.fillGroup(RF_R_STIR, '0');
  grading.fillGroup(RF_R_STIR, '0');
  await settled();
  assert.equal(server.grades.get(RF_L_STIR), '0');
  assert.deepEqual(grading.undo(), { undone: 3, kept: 0 });
  await settled();
  assert.equal(server.grades.get(RF_R_STIR), '1');
  assert.equal(server.grades.get(RF_L_STIR), '2');
  assert.equal(server.grades.get(VL_R_STIR), 'NA');
  assert.equal(server.grades.get(VL_L_STIR), '0'); // filled by the first press, not undone yet
  assert.deepEqual(grading.undo(), { undone: 0, kept: 1 }); // a saved grade cannot be emptied
  assert.equal(grading.values.get(VL_L_STIR), '0');
});

test('undo empties a new grade while it is still unsent, and says when there is nothing', async () => {
  const { grading, server } = await openRead();
  grading.setGrade(RF_R_STIR, '1'); // on its way at once
  grading.setGrade(RF_R_T1, '2'); // waits for the first save to come back
  assert.equal(grading.isBeingSent(RF_R_T1), false);
  assert.deepEqual(grading.undo(), { undone: 1, kept: 0 });
  assert.equal(grading.values.has(RF_R_T1), false);
  await settled();
  assert.equal(server.grades.has(RF_R_T1), false);
  assert.equal(server.grades.get(RF_R_STIR), '1');
  assert.deepEqual(grading.undo(), { undone: 0, kept: 1 });
  assert.equal(grading.undo(), null);
});
