// The grading grid's state machine, with no DOM: the read's grades as this page knows them, the
// queue of changes the server has not confirmed, saving one request at a time, retrying with
// backoff, version conflicts, group fill, submit and amend.
//
// Every change goes into a queue kept in storage (the page's localStorage) until the server
// confirms it, so a reload or a lost connection loses nothing; failed saves are retried. The
// read's version travels with every save: if another tab saved first, the server answers 409
// and the page says so instead of overwriting. The queue is stored with the version it was
// made on, so changes found in storage after a reload (or left there by another tab of the
// same read) are sent only if the read has not changed since; otherwise the page shows the
// conflict instead of overwriting what was saved meanwhile.
//
// A grade must be on the scale of its cell's sequence (scale.js); any other is refused here,
// with the reason on the page, before it is queued (the server would refuse it too).
//
// The page hands in fetch, storage and timers (tests hand in fakes) and a view whose hooks are
// called when something is to be shown: render() (cells, counts, status), showSaveStatus(),
// showConflict(), showNotes({note?, findings?}), showMessage(text, {failed}).

import { splitKey } from './grid.js';
import { gradesOf, landed, onServer } from './server-state.js';

export const RETRY_FIRST_MS = 1000;
export const RETRY_MAX_MS = 15000;
export const NOTE_DELAY_MS = 800;
// A second group fill of the same group with the same grade within this time overwrites the
// cells the first one kept (it said so); later, a fill again fills only empty cells.
export const GROUP_OVERWRITE_MS = 4000;
// Changes the reader can take back with Ctrl+Z, most recent last.
export const UNDO_DEPTH = 50;

const VIEW_HOOKS = ['render', 'showSaveStatus', 'showConflict', 'showNotes', 'showMessage'];

export class Grading {
  constructor({ readId, version, status, urls, csrfToken, grid, scales, fetch, storage, timers = globalThis, view = {} }) {
    this.grid = grid;
    this.scales = scales;
    this.urls = urls;
    this.csrfToken = csrfToken;
    this.fetch = fetch;
    this.storage = storage;
    this.timers = timers;
    // Each hook calls the view's method of that name, if it has one (its own or its class's).
    this.view = Object.fromEntries(VIEW_HOOKS.map((name) => [name, (...args) => view[name]?.(...args)]));
    this.storageKey = `iim-read-${readId}-pending`;

    this.version = version;
    this.status = status;
    this.values = new Map(); // cellKey -> value (server truth merged with local changes)
    this.pending = new Map(); // cellKey -> value not yet confirmed
    this.sent = null; // {version, changes | notes}: the oldest request not answered yet (also stored)
    this.inFlight = null;
    this.retryDelay = RETRY_FIRST_MS;
    this.retryTimer = null;
    this.conflict = false;
    this.amendReason = null;
    this.notes = null; // {note?, findings?} waiting to be saved
    this.noteDraft = null; // the note as typed, queued NOTE_DELAY_MS after the last keystroke
    this.noteTimer = null;
    this.lastFill = null; // {cells, value, at}: the group fill that kept graded cells
    this.history = []; // [[{key, before}]]: one entry per change the reader made, for undo
  }

  /** Milliseconds on the page's clock (the fake clock of tests has a `now`). */
  now() {
    return typeof this.timers.now === 'number' ? this.timers.now : Date.now();
  }

  // ------------------------------------------------------------------ what the page shows

  /** A submitted read changes only while amending (with a reason). */
  locked() {
    return this.status === 'submitted' && this.amendReason === null;
  }

  /** Changes not confirmed by the server: cells, plus one for the note and findings. */
  unsavedCount() {
    return this.pending.size + (this.notes || this.noteTimer ? 1 : 0);
  }

  /** The save status line: {text, tone: 'failed' | 'pending' | ''}. */
  saveSummary() {
    const n = this.unsavedCount();
    const changes = `change${n === 1 ? '' : 's'}`;
    if (this.conflict) {
      return { text: `${n} ${changes} not saved: reload`, tone: 'failed' };
    }
    if (this.retryTimer) {
      return { text: `Connection lost: ${n} unsaved ${changes}, retrying…`, tone: 'failed' };
    }
    if (n) {
      return { text: `Saving ${n} ${changes}…`, tone: 'pending' };
    }
    return { text: 'All changes saved', tone: '' };
  }

  // ------------------------------------------------------------------ the reader's changes

  /** Grade one cell. False when nothing was graded (no such cell, locked, not on its scale). */
  setGrade(key, value) {
    if (!key || !this.grid.has(key) || this.locked() || !this.onScale(key, value)) {
      return false;
    }
    this.change(new Map([[key, value]]));
    return true;
  }

  /** Is `value` a grade of this cell's sequence? If not, the page says why. */
  onScale(key, value) {
    const { sequence } = splitKey(key);
    if (this.scales.allows(sequence, value)) {
      return true;
    }
    this.view.showMessage(this.scales.refusal(sequence, value));
    return false;
  }

  /** Apply {key: value} as one change the reader can undo, and save it. */
  change(updates) {
    const step = [];
    for (const [key, value] of updates) {
      if (this.values.get(key) === value) {
        continue;
      }
      step.push({ key, before: this.values.get(key) });
      this.values.set(key, value);
      this.pending.set(key, value);
    }
    if (!step.length) {
      return;
    }
    this.history.push(step);
    if (this.history.length > UNDO_DEPTH) {
      this.history.shift();
    }
    this.persistPending();
    this.view.render();
    this.flush();
  }

  /**
   * Take back the reader's last change: each cell gets its value from before. A cell that was
   * empty is emptied only while its grade is still unsent; a saved grade cannot be emptied
   * (grades are never deleted), so it stays and the answer counts it.
   * Returns {undone, kept} (cells), or null when there is nothing to undo.
   */
  undo() {
    if (this.locked() || !this.history.length) {
      return null;
    }
    const step = this.history.pop();
    const restore = new Map();
    let kept = 0;
    const emptied = [];
    for (const { key, before } of step) {
      if (before !== undefined) {
        restore.set(key, before);
      } else if (this.pending.has(key) && !this.isBeingSent(key)) {
        emptied.push(key);
      } else {
        kept += 1;
      }
    }
    for (const key of emptied) {
      this.values.delete(key);
      this.pending.delete(key);
    }
    for (const [key, value] of restore) {
      this.values.set(key, value);
      this.pending.set(key, value);
    }
    this.persistPending();
    this.view.render();
    this.flush();
    return { undone: restore.size + emptied.length, kept };
  }

  /** True while `key` is part of the request on its way to the server. */
  isBeingSent(key) {
    return Boolean(this.sent?.changes && key in this.sent.changes);
  }

  /** This cell's value to the same muscle and sequence on the other side. */
  copyToOtherSide(key) {
    const value = key ? this.values.get(key) : undefined;
    if (value === undefined) {
      return;
    }
    this.setGrade(this.grid.otherSide(key), value);
  }

  /**
   * One grade for the empty cells of this cell's functional group in its sequence, both sides.
   * Cells already graded keep their grade; the same fill again within GROUP_OVERWRITE_MS
   * overwrites them too (the page says so after the first). Returns {filled, kept, overwritten}
   * (cells), or {refused: true} when the value is not on the sequence's scale (said already).
   */
  fillGroup(key, value) {
    if (!key || !this.grid.has(key) || this.locked()) {
      return { filled: 0, kept: 0 };
    }
    if (!this.onScale(key, value)) {
      return { filled: 0, kept: 0, refused: true };
    }
    const cells = this.grid.groupOf(key);
    const id = cells.join(' ');
    const last = this.lastFill;
    const overwrite = Boolean(
      last && last.id === id && last.value === value && this.now() - last.at <= GROUP_OVERWRITE_MS,
    );
    // Graded with another value: what a fill would overwrite.
    const graded = cells.filter((t) => this.values.has(t) && this.values.get(t) !== value);
    const empty = cells.filter((t) => !this.values.has(t));
    const targets = overwrite ? [...empty, ...graded] : empty;
    this.change(new Map(targets.map((target) => [target, value])));
    const kept = overwrite ? 0 : graded.length;
    this.lastFill = kept ? { id, value, at: this.now() } : null;
    return { filled: empty.length, kept, overwritten: overwrite ? graded.length : 0 };
  }

  setFindings(findings) {
    this.notes = { ...(this.notes || {}), findings };
    this.persistPending();
    this.flush();
  }

  /** The note changed: it joins the queue NOTE_DELAY_MS after the last keystroke. */
  noteEdited(text) {
    this.noteDraft = text;
    this.timers.clearTimeout(this.noteTimer);
    this.noteTimer = this.timers.setTimeout(() => {
      this.queueNote();
      this.flush();
    }, NOTE_DELAY_MS);
    this.view.showSaveStatus();
  }

  /** The note as typed so far joins the queue (and storage) now. */
  queueNote() {
    if (!this.noteTimer) {
      return;
    }
    this.timers.clearTimeout(this.noteTimer);
    this.noteTimer = null;
    this.notes = { ...(this.notes || {}), note: this.noteDraft };
    this.persistPending();
  }

  startAmend(reason) {
    this.amendReason = reason;
    this.view.render();
  }

  // ------------------------------------------------------------------ saving

  /** Send what is queued, one request at a time. Returns the round trip under way (or done). */
  flush() {
    if (this.inFlight) {
      this.view.showSaveStatus();
      return this.inFlight;
    }
    if (!this.canSend()) {
      this.view.showSaveStatus();
      return Promise.resolve();
    }
    this.inFlight = this.send().finally(() => {
      this.inFlight = null;
      this.view.render();
      this.view.showSaveStatus();
      if (this.canSend()) {
        this.flush();
      }
    });
    this.view.showSaveStatus();
    return this.inFlight;
  }

  canSend() {
    return !this.conflict && !this.retryTimer && Boolean(this.pending.size || this.notes);
  }

  /** Wait until everything queued is saved, or saving is blocked (conflict, lost connection). */
  async settle() {
    while (this.inFlight || this.canSend()) {
      await this.flush();
    }
  }

  /** The connection is back: retry now instead of at the end of the backoff. */
  online() {
    if (this.retryTimer) {
      this.timers.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.flush();
  }

  async send() {
    let request;
    let sent;
    if (this.pending.size) {
      sent = new Map(this.pending);
      const changes = Array.from(sent, ([key, value]) => ({ ...splitKey(key), value }));
      this.sent ??= { version: this.version, changes: Object.fromEntries(sent) };
      this.persistPending();
      request = this.amendReason !== null
        ? this.post(this.urls.amend, { version: this.version, reason: this.amendReason, changes })
        : this.post(this.urls.grades, { version: this.version, changes });
    } else {
      sent = this.notes;
      this.sent ??= { version: this.version, notes: sent };
      this.persistPending();
      request = this.post(this.urls.notes, { version: this.version, ...this.notes });
    }
    try {
      const response = await request;
      const body = await response.json().catch(() => ({}));
      const unanswered = this.sent;
      this.sent = null;
      if (response.ok) {
        this.version = body.version;
        if (body.status) {
          this.status = body.status;
        }
        this.forgetSent(sent, { onlyIfUnchanged: true });
        this.persistPending();
        this.retryDelay = RETRY_FIRST_MS;
      } else if (response.status === 409) {
        // Stale only because an earlier save of ours landed without its answer: go on from there.
        let adopted = false;
        if (body.code === 'stale') {
          try {
            adopted = await this.adoptLandedSave(unanswered);
          } catch (error) {
            this.sent = unanswered; // still unknown: ask again on the next try
            throw error;
          }
        }
        if (!adopted) {
          this.showConflict();
        }
        this.persistPending();
      } else if (response.status >= 400 && response.status < 500) {
        // A refusal that retrying cannot fix: show it, drop the change, reload the truth.
        this.view.showMessage(body.detail || 'The change was refused.', { failed: false });
        this.forgetSent(sent, { onlyIfUnchanged: false });
        this.persistPending();
        await this.loadState();
      } else {
        throw new Error(`server answered ${response.status}`);
      }
    } catch {
      // Lost connection or a server error: keep everything and try again later.
      this.retryTimer = this.timers.setTimeout(() => {
        this.retryTimer = null;
        this.flush();
      }, this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
    }
  }

  /** Take what a request carried off the queue (cells changed again since stay queued if asked). */
  forgetSent(sent, { onlyIfUnchanged }) {
    if (sent instanceof Map) {
      for (const [key, value] of sent) {
        if (!onlyIfUnchanged || this.pending.get(key) === value) {
          this.pending.delete(key);
        }
      }
    } else if (!onlyIfUnchanged || this.notes === sent) {
      this.notes = null;
    }
  }

  async adoptLandedSave(sent) {
    if (!sent) {
      return false;
    }
    const response = await this.fetch(this.urls.state, { credentials: 'same-origin' });
    if (!response.ok) {
      return false;
    }
    const body = await response.json();
    if (!landed(sent, body)) {
      return false;
    }
    this.version = body.version;
    return true;
  }

  showConflict() {
    this.conflict = true;
    this.view.showConflict();
  }

  async post(url, body, options = {}) {
    return this.fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': this.csrfToken },
      body: JSON.stringify(body),
      ...options,
    });
  }

  // ------------------------------------------------------------------ the server's state

  /** The server's grades (with this page's unsaved changes on top), version and status. */
  async loadState() {
    const response = await this.fetch(this.urls.state, { credentials: 'same-origin' });
    if (!response.ok) {
      throw new Error(`could not load the read (${response.status})`);
    }
    const body = await response.json();
    this.version = body.version;
    this.status = body.status;
    this.values = gradesOf(body);
    for (const [key, value] of this.pending) {
      this.values.set(key, value);
    }
    this.view.showNotes(body);
    this.view.render();
    return body;
  }

  /** After loading the server's state: take back what an earlier page of this read left unsaved. */
  recoverStored(readState) {
    const stored = this.loadStored();
    if (!stored) {
      return;
    }
    const values = gradesOf(readState);
    const left = Object.entries(stored.changes).filter(
      ([key, value]) => this.grid.has(key) && values.get(key) !== value,
    );
    const notes = stored.notes && !onServer({ notes: stored.notes }, readState) ? stored.notes : null;
    if (!left.length && !notes) {
      this.storage.removeItem(this.storageKey);
      return;
    }
    // The read changed since these changes were made: fine only if that change was the save this
    // page had on its way (the reload came before its answer).
    const current = stored.version === readState.version || landed(stored.sent, readState);
    this.pending = new Map(left);
    for (const [key, value] of left) {
      this.values.set(key, value);
    }
    this.notes = notes;
    if (notes) {
      this.view.showNotes(notes);
    }
    if (stored.reason) {
      this.amendReason = stored.reason;
    }
    if (!current) {
      this.showConflict();
    }
    this.persistPending();
  }

  // Stored: {version, changes: {cellKey: value}, notes?, reason?, sent?}; `version` is the read's
  // version these changes were made on, `sent` the oldest request whose answer has not come yet.
  loadStored() {
    try {
      const stored = JSON.parse(this.storage.getItem(this.storageKey) || 'null');
      if (stored && typeof stored.changes === 'object') {
        return stored;
      }
    } catch {
      // Unreadable: nothing to recover.
    }
    return null;
  }

  persistPending() {
    if (this.pending.size || this.notes) {
      const stored = { version: this.version, changes: Object.fromEntries(this.pending) };
      if (this.notes) {
        stored.notes = this.notes;
      }
      if (this.amendReason !== null) {
        stored.reason = this.amendReason;
      }
      if (this.sent) {
        stored.sent = this.sent;
      }
      this.storage.setItem(this.storageKey, JSON.stringify(stored));
    } else {
      this.storage.removeItem(this.storageKey);
    }
  }

  /** The reader chose to reload after a conflict: what this page queued is given up. */
  forgetStored() {
    this.storage.removeItem(this.storageKey);
  }

  // ------------------------------------------------------------------ submit

  /**
   * Save what is queued, then submit. Resolves to what the page shows:
   * {outcome: 'blocked'} (a conflict), 'unsaved' (saving failed), 'submitted', 'conflict',
   * or 'refused' with {missing: [{muscle, name, side, sequence}], detail}.
   */
  async submit() {
    this.queueNote();
    if (this.pending.size || this.notes || this.inFlight) {
      this.view.showMessage('Saving first…', { failed: false });
      await this.settle();
    }
    if (this.conflict) {
      return { outcome: 'blocked' };
    }
    if (this.pending.size || this.notes) {
      this.view.showMessage('Not submitted: some changes are not saved yet.', { failed: true });
      return { outcome: 'unsaved' };
    }
    const response = await this.post(this.urls.submit, { version: this.version });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      this.version = body.version;
      this.status = body.status;
      this.view.render();
      return { outcome: 'submitted' };
    }
    if (response.status === 409) {
      this.showConflict();
      return { outcome: 'conflict' };
    }
    return { outcome: 'refused', missing: body.missing || [], detail: body.detail || null };
  }
}
