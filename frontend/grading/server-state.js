// What the server's state of a read (GET of the read: {version, status, grades, note,
// findings}) says about changes this page sent or kept: is each one there, and did a save
// whose answer never came land? Pure functions.

import { cellKey } from './grid.js';

/** {cellKey: value} of the read's grades, as a Map. */
export function gradesOf(readState) {
  return new Map(readState.grades.map((g) => [cellKey(g.muscle, g.side, g.sequence), g.value]));
}

// Does the server's state hold these changes (grades and/or note and findings)?
export function onServer(entry, readState) {
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
export function landed(sent, readState) {
  return Boolean(sent && readState.version === sent.version + 1 && onServer(sent, readState));
}
