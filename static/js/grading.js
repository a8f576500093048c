// The grading grid of the read page: keyboard-first, autosaving, never losing a change.
//
// Every change goes into a queue kept in localStorage until the server confirms it, so a
// reload or a lost connection loses nothing; failed saves are retried and shown. The read's
// version travels with every save: if another tab saved first, the server answers 409 and
// this page says so instead of overwriting. The queue is stored with the version it was made
// on, so changes found in localStorage after a reload (or left there by another tab of the
// same read) are sent only if the read has not changed since; otherwise the page shows the
// conflict instead of overwriting what was saved meanwhile.

const config = JSON.parse(document.getElementById("grading-config").textContent);
const scale = JSON.parse(document.getElementById("grade-scale").textContent);
const grid = document.getElementById("grade-grid");
const cells = Array.from(grid.querySelectorAll("td.cell"));
const saveStatus = document.getElementById("save-status");
const gradedCount = document.getElementById("graded-count");
const statusBadge = document.getElementById("read-status");
const submitButton = document.getElementById("submit-button");
const amendButton = document.getElementById("amend-button");
const storageKey = `iim-read-${config.readId}-pending`;

const GRADE_KEYS = { grade0: "0", grade1: "1", grade2: "2", gradeNA: "NA" };
const DEFAULT_KEYS = {
  grade0: ["0", "Numpad0"],
  grade1: ["1", "Numpad1"],
  grade2: ["2", "Numpad2"],
  gradeNA: ["n"],
  next: ["ArrowRight", "Tab"],
  prev: ["ArrowLeft", "Shift+Tab"],
  down: ["j"],
  up: ["k"],
  copySide: ["c"],
  groupFill: ["g"],
  nextCase: ["Shift+N"],
  submit: ["Ctrl+Enter"],
  help: ["?"],
};
const LABELS = {
  grade0: "Grade 0 (no involvement) and go to the next cell",
  grade1: "Grade 1 (≤ 50 %) and go to the next cell",
  grade2: "Grade 2 (> 50 %) and go to the next cell",
  gradeNA: "Not assessable (NA) and go to the next cell",
  next: "Next cell",
  prev: "Previous cell",
  down: "Same column, next muscle",
  up: "Same column, previous muscle",
  copySide: "Copy this cell's value to the other side",
  groupFill: "Then a grade key: give the whole functional group (both sides, this sequence) that grade",
  nextCase: "Next case",
  submit: "Submit the read",
  help: "Show this list",
};

const state = {
  version: config.version,
  status: config.status,
  values: new Map(), // cellKey -> value (server truth merged with local changes)
  pending: new Map(), // cellKey -> value not yet confirmed
  sent: null, // {version, changes}: the oldest grades request not answered yet (also stored)
  inFlight: null,
  retryDelay: 1000,
  retryTimer: null,
  conflict: false,
  amendReason: null,
  current: null,
  groupFillArmed: false,
  keymap: buildKeymap(config.keymap || {}),
  notes: null, // {note?, findings?} waiting to be saved
  noteTimer: null, // the note is queued 800 ms after the last keystroke
};

function cellKey(muscle, side, sequence) {
  return `${muscle}|${side}|${sequence}`;
}

function keyOfCell(cell) {
  return cellKey(cell.dataset.muscle, cell.dataset.side, cell.dataset.sequence);
}

const cellByKey = new Map(cells.map((cell) => [keyOfCell(cell), cell]));

// Stored: {version, changes: {cellKey: value}, notes?, reason?, sent?}; `version` is the read's
// version these changes were made on, `sent` ({version, changes | notes}) the oldest request
// whose answer has not come yet.
function loadStored() {
  try {
    const stored = JSON.parse(localStorage.getItem(storageKey) || "null");
    if (stored && typeof stored.changes === "object") return stored;
  } catch {
    // Unreadable: nothing to recover.
  }
  return null;
}

function persistPending() {
  if (state.pending.size || state.notes) {
    const stored = { version: state.version, changes: Object.fromEntries(state.pending) };
    if (state.notes) stored.notes = state.notes;
    if (state.amendReason !== null) stored.reason = state.amendReason;
    if (state.sent) stored.sent = state.sent;
    localStorage.setItem(storageKey, JSON.stringify(stored));
  } else {
    localStorage.removeItem(storageKey);
  }
}

// After loading the server's state: take back what an earlier page of this read left unsaved.
function recoverStored(readState) {
  const stored = loadStored();
  if (!stored) return;
  const values = gradesOf(readState);
  const left = Object.entries(stored.changes).filter(
    ([key, value]) => cellByKey.has(key) && values.get(key) !== value,
  );
  const notes = stored.notes && !onServer({ notes: stored.notes }, readState) ? stored.notes : null;
  if (!left.length && !notes) {
    localStorage.removeItem(storageKey);
    return;
  }
  // The read changed since these changes were made: fine only if that change was the save this
  // page had on its way (the reload came before its answer).
  const current = stored.version === readState.version || landed(stored.sent, readState);
  state.pending = new Map(left);
  for (const [key, value] of left) state.values.set(key, value);
  state.notes = notes;
  if (notes) showNotes(notes);
  if (stored.reason) state.amendReason = stored.reason;
  if (!current) showConflict();
  persistPending();
}

// Does the server's state hold these changes (grades and/or note and findings)?
function onServer(entry, readState) {
  const values = gradesOf(readState);
  const notes = entry.notes || {};
  return (
    Object.entries(entry.changes || {}).every(([key, value]) => values.get(key) === value) &&
    (notes.note === undefined || notes.note === readState.note) &&
    (notes.findings === undefined || sameFindings(notes.findings, readState.findings || {}))
  );
}

function sameFindings(a, b) {
  const regions = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...regions].every((region) => {
    const names = new Set([...Object.keys(a[region] || {}), ...Object.keys(b[region] || {})]);
    return [...names].every((name) => Boolean(a[region]?.[name]) === Boolean(b[region]?.[name]));
  });
}

// Did a save whose answer never came (lost connection, reload) reach the server? Then the read
// is exactly one version further and holds its changes.
function landed(sent, readState) {
  return Boolean(sent && readState.version === sent.version + 1 && onServer(sent, readState));
}

function showConflict() {
  state.conflict = true;
  document.getElementById("conflict-banner").hidden = false;
}

function buildKeymap(overrides) {
  const map = {};
  for (const [action, keys] of Object.entries(DEFAULT_KEYS)) {
    const custom = overrides[`grid.${action}`];
    map[action] = custom ? [].concat(custom) : keys;
  }
  return map;
}

function matches(binding, event) {
  const parts = binding.split("+");
  const key = parts.pop() || "+";
  const mods = new Set(parts.map((p) => p.toLowerCase()));
  if (mods.has("ctrl") !== (event.ctrlKey || event.metaKey)) return false;
  if (mods.has("alt") !== event.altKey) return false;
  if (key.length === 1 && !mods.has("shift")) {
    // A character binding ("?", "n") matches the character typed, whatever Shift took.
    return event.key.toLowerCase() === key.toLowerCase() && !(event.shiftKey && /[a-z0-9]/i.test(key));
  }
  if (mods.has("shift") !== event.shiftKey) return false;
  return event.code === key || event.key.toLowerCase() === key.toLowerCase();
}

function actionFor(event) {
  for (const [action, bindings] of Object.entries(state.keymap)) {
    if (bindings.some((binding) => matches(binding, event))) return action;
  }
  return null;
}

function locked() {
  return state.status === "submitted" && state.amendReason === null;
}

function render(cell) {
  const key = keyOfCell(cell);
  const value = state.values.get(key);
  cell.textContent = value ?? "";
  if (value === undefined) delete cell.dataset.value;
  else cell.dataset.value = value;
  cell.title = value !== undefined ? `${value}: ${scale[value] || ""}` : Object.entries(scale).map(([k, v]) => `${k}: ${v}`).join("\n");
  cell.classList.toggle("unsaved", state.pending.has(key));
}

function renderAll() {
  cells.forEach(render);
  gradedCount.textContent = String(cells.filter((c) => state.values.has(keyOfCell(c))).length);
  grid.classList.toggle("locked", locked());
  statusBadge.textContent = { assigned: "Assigned", in_progress: "In progress", submitted: "Submitted" }[state.status];
  statusBadge.className = `badge ${state.status}`;
  submitButton.hidden = state.status === "submitted";
  amendButton.hidden = !(state.status === "submitted" && state.amendReason === null);
  document.body.dataset.readStatus = state.status;
}

function showSaveStatus() {
  const n = state.pending.size + (state.notes || state.noteTimer ? 1 : 0);
  saveStatus.classList.remove("pending", "failed");
  if (state.conflict) {
    saveStatus.textContent = `${n} change${n === 1 ? "" : "s"} not saved: reload`;
    saveStatus.classList.add("failed");
  } else if (state.retryTimer) {
    saveStatus.textContent = `Connection lost: ${n} unsaved change${n === 1 ? "" : "s"}, retrying…`;
    saveStatus.classList.add("failed");
  } else if (n) {
    saveStatus.textContent = `Saving ${n} change${n === 1 ? "" : "s"}…`;
    saveStatus.classList.add("pending");
  } else {
    saveStatus.textContent = "All changes saved";
  }
  document.body.dataset.unsaved = String(n);
}

async function postJson(url, body, options = {}) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken },
    body: JSON.stringify(body),
    ...options,
  });
}

function setGrade(cell, value) {
  if (!cell || locked()) return;
  const key = keyOfCell(cell);
  state.values.set(key, value);
  state.pending.set(key, value);
  persistPending();
  render(cell);
  renderAll();
  flush();
}

// Send what is queued, one request at a time. Returns the round trip under way (or done).
function flush() {
  if (state.inFlight) {
    showSaveStatus();
    return state.inFlight;
  }
  if (state.conflict || state.retryTimer || !(state.pending.size || state.notes)) {
    showSaveStatus();
    return Promise.resolve();
  }
  state.inFlight = send().finally(() => {
    state.inFlight = null;
    renderAll();
    showSaveStatus();
    if (!state.conflict && !state.retryTimer && (state.pending.size || state.notes)) flush();
  });
  showSaveStatus();
  return state.inFlight;
}

async function send() {
  let request;
  let sent;
  if (state.pending.size) {
    sent = new Map(state.pending);
    const changes = Array.from(sent, ([key, value]) => {
      const [muscle, side, sequence] = key.split("|");
      return { muscle, side, sequence, value };
    });
    state.sent ??= { version: state.version, changes: Object.fromEntries(sent) };
    persistPending();
    if (state.amendReason !== null) {
      request = postJson(config.urls.amend, { version: state.version, reason: state.amendReason, changes });
    } else {
      request = postJson(config.urls.grades, { version: state.version, changes });
    }
  } else {
    sent = state.notes;
    state.sent ??= { version: state.version, notes: sent };
    persistPending();
    request = postJson(config.urls.notes, { version: state.version, ...state.notes });
  }
  try {
    const response = await request;
    const body = await response.json().catch(() => ({}));
    const unanswered = state.sent;
    state.sent = null;
    if (response.ok) {
      state.version = body.version;
      if (body.status) state.status = body.status;
      if (sent instanceof Map) {
        for (const [key, value] of sent) {
          if (state.pending.get(key) === value) state.pending.delete(key);
        }
      } else if (state.notes === sent) {
        state.notes = null;
      }
      persistPending();
      state.retryDelay = 1000;
    } else if (response.status === 409) {
      // Stale only because an earlier save of ours landed without its answer: go on from there.
      let adopted = false;
      if (body.code === "stale") {
        try {
          adopted = await adoptLandedSave(unanswered);
        } catch (error) {
          state.sent = unanswered; // still unknown: ask again on the next try
          throw error;
        }
      }
      if (!adopted) showConflict();
      persistPending();
    } else if (response.status >= 400 && response.status < 500) {
      // A refusal that retrying cannot fix: show it, drop the change, reload the truth.
      saveStatus.textContent = body.detail || "The change was refused.";
      if (sent instanceof Map) {
        for (const key of sent.keys()) state.pending.delete(key);
      } else {
        state.notes = null;
      }
      persistPending();
      await loadState();
    } else {
      throw new Error(`server answered ${response.status}`);
    }
  } catch (error) {
    // Lost connection or a server error: keep everything and try again later.
    state.retryTimer = setTimeout(() => {
      state.retryTimer = null;
      flush();
    }, state.retryDelay);
    state.retryDelay = Math.min(state.retryDelay * 2, 15000);
  }
}

async function adoptLandedSave(sent) {
  if (!sent) return false;
  const response = await fetch(config.urls.state, { credentials: "same-origin" });
  if (!response.ok) return false;
  const body = await response.json();
  if (!landed(sent, body)) return false;
  state.version = body.version;
  return true;
}

// Wait until everything queued is saved, or saving is blocked (conflict, lost connection).
async function settle() {
  while (state.inFlight || (!state.conflict && !state.retryTimer && (state.pending.size || state.notes))) {
    await flush();
  }
}

async function loadState() {
  const response = await fetch(config.urls.state, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`could not load the read (${response.status})`);
  const body = await response.json();
  state.version = body.version;
  state.status = body.status;
  state.values = gradesOf(body);
  for (const [key, value] of state.pending) state.values.set(key, value);
  showNotes(body);
  renderAll();
  return body;
}

function showNotes({ note, findings }) {
  if (note !== undefined) document.getElementById("read-note").value = note || "";
  if (findings === undefined) return;
  for (const box of document.querySelectorAll("input.finding")) {
    box.checked = Boolean(findings?.[box.dataset.region]?.[box.dataset.finding]);
  }
}

function gradesOf(readState) {
  return new Map(readState.grades.map((g) => [cellKey(g.muscle, g.side, g.sequence), g.value]));
}

function focusCell(cell) {
  if (!cell) return;
  state.current = cell;
  cell.focus({ preventScroll: false });
  cell.scrollIntoView({ block: "nearest" });
}

function move(delta) {
  const index = cells.indexOf(state.current);
  focusCell(cells[Math.min(cells.length - 1, Math.max(0, index + delta))]);
}

function moveRow(delta) {
  const cell = state.current;
  if (!cell) return;
  const same = cells.filter((c) => c.dataset.side === cell.dataset.side && c.dataset.sequence === cell.dataset.sequence);
  const index = same.indexOf(cell);
  focusCell(same[Math.min(same.length - 1, Math.max(0, index + delta))]);
}

function copyToOtherSide() {
  const cell = state.current;
  const value = cell && state.values.get(keyOfCell(cell));
  if (!cell || value === undefined) return;
  const other = { L: "R", R: "L" }[cell.dataset.side];
  setGrade(cellByKey.get(cellKey(cell.dataset.muscle, other, cell.dataset.sequence)), value);
}

function fillGroup(value) {
  const cell = state.current;
  if (!cell || locked()) return;
  for (const target of cells) {
    if (target.dataset.group === cell.dataset.group && target.dataset.sequence === cell.dataset.sequence) {
      const key = keyOfCell(target);
      state.values.set(key, value);
      state.pending.set(key, value);
    }
  }
  persistPending();
  renderAll();
  flush();
}

async function submit() {
  queueNote();
  if (state.pending.size || state.notes || state.inFlight) {
    saveStatus.textContent = "Saving first…";
    await settle();
  }
  if (state.conflict) return;
  if (state.pending.size || state.notes) {
    saveStatus.textContent = "Not submitted: some changes are not saved yet.";
    saveStatus.classList.add("failed");
    return;
  }
  const response = await postJson(config.urls.submit, { version: state.version });
  const body = await response.json().catch(() => ({}));
  cells.forEach((c) => c.classList.remove("missing"));
  const panel = document.getElementById("missing-panel");
  if (response.ok) {
    panel.hidden = true;
    state.version = body.version;
    state.status = body.status;
    renderAll();
    return;
  }
  if (response.status === 409) {
    showConflict();
    return;
  }
  const missing = body.missing || [];
  document.getElementById("missing-title").textContent = missing.length
    ? `${missing.length} cell${missing.length === 1 ? "" : "s"} not yet graded:`
    : "Not submitted:";
  document.getElementById("missing-list").textContent = missing.length
    ? describeMissing(missing)
    : body.detail || "The read could not be submitted.";
  panel.hidden = false;
  for (const m of missing) cellByKey.get(cellKey(m.muscle, m.side, m.sequence))?.classList.add("missing");
  focusCell(cellByKey.get(missing.length ? cellKey(missing[0].muscle, missing[0].side, missing[0].sequence) : ""));
}

// "Gracilis · Sartorius (L STIR, L T1)": a muscle named alone has none of its cells graded.
function describeMissing(missing) {
  const byMuscle = new Map();
  for (const m of missing) {
    if (!byMuscle.has(m.muscle)) byMuscle.set(m.muscle, { name: m.name, cells: [] });
    byMuscle.get(m.muscle).cells.push(`${m.side} ${m.sequence}`);
  }
  return Array.from(byMuscle, ([slug, { name, cells: open }]) => {
    const all = cells.filter((c) => c.dataset.muscle === slug).length;
    return open.length === all ? name : `${name} (${open.join(", ")})`;
  }).join(" · ");
}

function isTyping(target) {
  return target instanceof HTMLElement && (target.matches("input, textarea, select") || target.isContentEditable);
}

document.addEventListener("keydown", (event) => {
  if (isTyping(event.target) || document.querySelector("dialog[open]")) return;
  if (state.groupFillArmed) {
    state.groupFillArmed = false;
    const action = actionFor(event);
    if (action in GRADE_KEYS) {
      event.preventDefault();
      fillGroup(GRADE_KEYS[action]);
    }
    return;
  }
  const action = actionFor(event);
  if (!action) return;
  if (action === "next" || action === "prev" || action === "down" || action === "up") {
    if (!state.current) return;
    event.preventDefault();
    ({ next: () => move(1), prev: () => move(-1), down: () => moveRow(1), up: () => moveRow(-1) })[action]();
  } else if (action in GRADE_KEYS) {
    if (!state.current) return;
    event.preventDefault();
    if (locked()) {
      saveStatus.textContent = "Submitted: use Amend… to change a grade";
      return;
    }
    setGrade(state.current, GRADE_KEYS[action]);
    move(1);
  } else if (action === "copySide") {
    event.preventDefault();
    copyToOtherSide();
  } else if (action === "groupFill") {
    event.preventDefault();
    state.groupFillArmed = true;
    saveStatus.textContent = "Group: press a grade key…";
  } else if (action === "nextCase") {
    event.preventDefault();
    document.getElementById("next-case").click();
  } else if (action === "submit") {
    event.preventDefault();
    submit();
  } else if (action === "help") {
    event.preventDefault();
    openHelp();
  }
});

grid.addEventListener("click", (event) => {
  const cell = event.target.closest("td.cell");
  if (cell) focusCell(cell);
});
grid.addEventListener("focusin", (event) => {
  if (event.target.matches("td.cell")) state.current = event.target;
});

submitButton.addEventListener("click", submit);
document.getElementById("reload-button").addEventListener("click", () => {
  localStorage.removeItem(storageKey);
  window.location.reload();
});

// Amend: a submitted read changes only with a reason.
const amendDialog = document.getElementById("amend-dialog");
amendButton.addEventListener("click", () => amendDialog.showModal());
document.getElementById("amend-cancel").addEventListener("click", () => amendDialog.close());
document.getElementById("amend-start").addEventListener("click", () => {
  const reason = document.getElementById("amend-reason").value.trim();
  if (!reason) {
    document.getElementById("amend-reason").focus();
    return;
  }
  state.amendReason = reason;
  amendDialog.close();
  renderAll();
  saveStatus.textContent = "Amending: changes are recorded with your reason";
  focusCell(state.current || cells[0]);
});

// Findings and note.
for (const box of document.querySelectorAll("input.finding")) {
  box.addEventListener("change", () => {
    const findings = {};
    for (const b of document.querySelectorAll("input.finding")) {
      findings[b.dataset.region] ??= {};
      findings[b.dataset.region][b.dataset.finding] = b.checked;
    }
    state.notes = { ...(state.notes || {}), findings };
    persistPending();
    flush();
  });
}
const noteField = document.getElementById("read-note");
noteField.addEventListener("input", () => {
  clearTimeout(state.noteTimer);
  state.noteTimer = setTimeout(() => {
    queueNote();
    flush();
  }, 800);
  showSaveStatus();
});

// The note as typed so far joins the queue (and localStorage) now.
function queueNote() {
  if (!state.noteTimer) return;
  clearTimeout(state.noteTimer);
  state.noteTimer = null;
  state.notes = { ...(state.notes || {}), note: noteField.value };
  persistPending();
}

// Shortcut list with remapping.
const helpDialog = document.getElementById("help-dialog");
function openHelp() {
  const body = document.querySelector("#shortcut-table tbody");
  body.replaceChildren();
  const rows = Object.entries(LABELS).map(([action, label]) => ({ id: `grid.${action}`, label, keys: state.keymap[action], grid: true }));
  const viewer = window.iimViewer?.keymap?.();
  if (viewer) {
    for (const [action, keys] of Object.entries(viewer.bindings)) {
      rows.push({ id: `viewer.${action}`, label: viewer.labels[action] || action, keys, grid: false });
    }
  }
  for (const row of rows) {
    const tr = document.createElement("tr");
    const keysCell = document.createElement("td");
    keysCell.innerHTML = row.keys.map((k) => `<kbd>${k.replace(/[<>&]/g, "")}</kbd>`).join(" ");
    const labelCell = document.createElement("td");
    labelCell.textContent = row.label + (row.grid ? "" : " (images; after reload)");
    const change = document.createElement("button");
    change.type = "button";
    change.textContent = "change";
    change.addEventListener("click", () => captureKey(row, keysCell));
    const changeCell = document.createElement("td");
    changeCell.append(change);
    tr.append(keysCell, labelCell, changeCell);
    body.append(tr);
  }
  helpDialog.showModal();
}

function captureKey(row, keysCell) {
  keysCell.textContent = "press a key…";
  const onKey = (event) => {
    event.preventDefault();
    event.stopPropagation();
    if (["Shift", "Control", "Alt", "Meta"].includes(event.key)) return;
    window.removeEventListener("keydown", onKey, true);
    const mods = [event.ctrlKey && "Ctrl", event.altKey && "Alt", event.shiftKey && "Shift"].filter(Boolean);
    const binding = [...mods, event.code].join("+");
    keysCell.innerHTML = `<kbd>${binding}</kbd>`;
    const overrides = { ...(config.keymap || {}), [row.id]: [binding] };
    config.keymap = overrides;
    state.keymap = buildKeymap(overrides);
    postJson(config.urls.prefs, { keymap: { [row.id]: [binding] } });
  };
  window.addEventListener("keydown", onKey, true);
}
document.getElementById("help-button").addEventListener("click", openHelp);
document.getElementById("help-close").addEventListener("click", () => helpDialog.close());

// Active reading time: seconds with the page visible and the reader active in the last minute.
let lastInput = Date.now();
let activeSeconds = 0;
for (const type of ["keydown", "mousemove", "wheel", "mousedown"]) {
  document.addEventListener(type, () => (lastInput = Date.now()), { passive: true, capture: true });
}
setInterval(() => {
  if (document.visibilityState === "visible" && Date.now() - lastInput < 60000) activeSeconds += 1;
}, 1000);
function reportActivity(keepalive = false) {
  if (!activeSeconds || locked()) return;
  const seconds = Math.min(activeSeconds, 300);
  activeSeconds = 0;
  postJson(config.urls.activity, { seconds }, { keepalive }).catch(() => {});
}
setInterval(reportActivity, 30000);
window.addEventListener("pagehide", () => {
  queueNote(); // kept in localStorage: sent when the read is opened again
  reportActivity(true);
});
window.addEventListener("online", () => {
  if (state.retryTimer) {
    clearTimeout(state.retryTimer);
    state.retryTimer = null;
  }
  flush();
});

// Start: the server's grades, then whatever this browser had not saved yet.
loadState()
  .then((readState) => {
    recoverStored(readState);
    renderAll();
    const firstOpen = cells.find((c) => !state.values.has(keyOfCell(c))) || cells[0];
    focusCell(firstOpen);
    document.body.dataset.gradingReady = "1";
    if (state.pending.size || state.notes) flush(); // a recovered note alone is sent too
    showSaveStatus();
  })
  .catch((error) => {
    saveStatus.textContent = error.message;
    saveStatus.classList.add("failed");
  });

window.iimGrading = { state, flush, submit };
