import test from 'node:test';
import assert from 'node:assert/strict';
import { matchSlice, nearestIndex, syncMode, clampIndex, syncGroupOf, syncGroups, syncPartners } from '../sync.js';

const stir = { count: 20, positions: [...Array(20).keys()].map((k) => 5 * k), sliceLocations: null };
const t1 = { count: 20, positions: [...Array(20).keys()].map((k) => 3 + 4.5 * k), sliceLocations: null };

test('nearest position along the normal, both ways', () => {
  assert.equal(matchSlice(stir, 0, t1), 0); // z 0 -> 3
  assert.equal(matchSlice(stir, 10, t1), 10); // z 50 -> 48 (not 52.5)
  assert.equal(matchSlice(stir, 19, t1), 19); // z 95 -> 88.5 (past the end)
  assert.equal(matchSlice(t1, 19, stir), 18); // z 88.5 -> 90
  for (let i = 0; i < 20; i += 1) {
    const j = matchSlice(stir, i, t1);
    const best = Math.min(...t1.positions.map((p) => Math.abs(p - stir.positions[i])));
    assert.equal(Math.abs(t1.positions[j] - stir.positions[i]), best);
  }
});

test('descending and unevenly spaced positions', () => {
  const a = { count: 4, positions: [30, 20, 10, 0] };
  const b = { count: 3, positions: [1, 14, 29] };
  assert.deepEqual([0, 1, 2, 3].map((i) => matchSlice(a, i, b)), [2, 1, 1, 0]);
});

test('falls back to slice location, then to the index', () => {
  const a = { count: 3, positions: null, sliceLocations: [0, 10, 20] };
  const b = { count: 5, positions: [0, 1, 2, 3, 4], sliceLocations: [-1, 4, 9, 14, 19] };
  assert.equal(syncMode(a, b), 'sliceLocation');
  assert.equal(matchSlice(a, 1, b), 2);
  const c = { count: 3, positions: null, sliceLocations: null };
  assert.equal(syncMode(a, c), 'index');
  assert.equal(matchSlice(b, 4, c), 2); // same index, clamped
});

test('positions of the wrong length or with gaps are not used', () => {
  const a = { count: 3, positions: [0, 1], sliceLocations: [0, 5, 10] };
  const b = { count: 3, positions: [0, null, 2], sliceLocations: [0, 5, 10] };
  assert.equal(syncMode(a, b), 'sliceLocation');
});

test('helpers', () => {
  assert.equal(nearestIndex([5, 1, 1], 1), 1);
  assert.equal(clampIndex(-3, 10), 0);
  assert.equal(clampIndex(12, 10), 9);
  assert.equal(clampIndex(2.6, 10), 3);
});

test('sync groups: syncGroup, else orientation, else one group for old configurations', () => {
  assert.equal(syncGroupOf({ syncGroup: 'axial', orientation: 'axial' }), 'axial');
  assert.equal(syncGroupOf({ orientation: 'coronal' }), 'coronal');
  assert.equal(syncGroupOf({ orientation: 'unknown' }), 'axial');
  assert.equal(syncGroupOf({ key: 'stir' }), 'axial');
  const a = { key: 'stir', syncGroup: 'axial' };
  const b = { key: 'stir-coronal', syncGroup: 'coronal' };
  const c = { key: 't1', syncGroup: 'axial' };
  assert.deepEqual(syncPartners([a, b, c], a), [c]);
  assert.deepEqual(syncPartners([a, b, c], b), []);
  assert.deepEqual(syncGroups([a, b, c]), [[a, c], [b]]);
});
