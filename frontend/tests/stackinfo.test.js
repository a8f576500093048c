import test from 'node:test';
import assert from 'node:assert/strict';
import {
  formatMm, gapText, gapsAround, indexAtLevel, levelLeader, levelOf, pinSource, positionAt,
  sliceText, stationAt, stationCountOf,
} from '../viewer/stackinfo.js';

const ids = (n) => [...Array(n).keys()].map((i) => `wadouri:/i/${i}.dcm`);

// Two stations of an axial stack, head to foot: positions descend, a 24 mm gap after slice 3.
const stir = {
  key: 'stir',
  orientation: 'axial',
  imageIds: ids(8),
  positions: [100, 95, 90, 85, 56, 51, 46, 41],
  stations: [1, 1, 1, 1, 2, 2, 2, 2],
  stationCount: 2,
  gaps: [{ after: 3, mm: 24.0 }],
  index: 0,
};

test('station and position of a slice', () => {
  assert.equal(stationAt(stir, 0), 1);
  assert.equal(stationAt(stir, 5), 2);
  assert.equal(stationCountOf(stir), 2);
  assert.equal(stationCountOf({ ...stir, stationCount: null }), 2);
  assert.equal(stationAt({ ...stir, stations: null }, 0), null);
  assert.equal(stationAt({ ...stir, stations: [1, 2] }, 0), null); // not one per image
  assert.equal(stationAt({ ...stir, stations: [null, 1, 1, 1, 2, 2, 2, 2] }, 0), null);
  assert.equal(positionAt(stir, 4), 56);
  assert.equal(positionAt({ ...stir, positions: [1, 2] }, 0), null);
});

test('overlay text: station, signed position, slice', () => {
  assert.equal(sliceText(stir, 0), 'station 1 / 2 · position +100.0 mm · slice 1 / 8');
  assert.equal(
    sliceText({ ...stir, positions: stir.positions.map((p) => -p - 0.04) }, 7),
    'station 2 / 2 · position -41.0 mm · slice 8 / 8',
  );
  // Old configurations: no stations, maybe no positions.
  assert.equal(sliceText({ imageIds: ids(20), positions: null }, 11), 'slice 12 / 20');
  assert.equal(sliceText({ imageIds: ids(3), positions: [0, 5, 10] }, 1), 'position +5.0 mm · slice 2 / 3');
  assert.equal(formatMm(-0.04), '+0.0');
  assert.equal(formatMm(12.25), '+12.3');
});

test('gap lookup: the slices either side of a gap', () => {
  assert.deepEqual(gapsAround(stir.gaps, 3), { before: null, after: 24 });
  assert.deepEqual(gapsAround(stir.gaps, 4), { before: 24, after: null });
  assert.deepEqual(gapsAround(stir.gaps, 2), { before: null, after: null });
  assert.deepEqual(gapsAround([{ after: 0, mm: 3 }, { after: 1, mm: 7.5 }], 1), { before: 3, after: 7.5 });
  assert.deepEqual(gapsAround(null, 1), { before: null, after: null });
  assert.deepEqual(gapsAround([{ after: 'x', mm: 3 }, null], 0), { before: null, after: null });
});

test('gap mark: below / above for axial, after / before otherwise', () => {
  assert.equal(gapText(stir, 3), 'gap 24 mm below');
  assert.equal(gapText(stir, 4), 'gap 24 mm above');
  assert.equal(gapText(stir, 5), '');
  assert.equal(gapText({ ...stir, orientation: 'coronal', gaps: [{ after: 3, mm: 2.5 }] }, 3), 'gap 2.5 mm after');
  assert.equal(gapText({ ...stir, gaps: [{ after: 2, mm: 4 }, { after: 3, mm: 24 }] }, 3), 'gap 4 mm above · gap 24 mm below');
});

test('level -> slice: the nearest position; nothing without positions or level', () => {
  assert.equal(indexAtLevel(stir, 60), 4); // in the gap, nearer station 2
  assert.equal(indexAtLevel(stir, 75), 3); // in the gap, nearer station 1
  assert.equal(indexAtLevel(stir, 500), 0);
  assert.equal(indexAtLevel(stir, -500), 7);
  assert.equal(indexAtLevel({ ...stir, positions: null }, 60), null);
  assert.equal(indexAtLevel(stir, null), null);
  assert.equal(levelOf({ 'thigh-anterior': { position: -512.5, source: 'read' } }, 'thigh-anterior'), -512.5);
  assert.equal(levelOf({ 'thigh-anterior': { position: null } }, 'thigh-anterior'), null);
  assert.equal(levelOf({}, 'thigh-anterior'), null);
  assert.equal(levelOf(undefined, 'x'), null);
});

test('the level leader is the first axial stack with positions', () => {
  const coronal = { ...stir, key: 'stir-coronal', orientation: 'coronal' };
  const t1 = { ...stir, key: 't1' };
  const old = { ...stir, key: 'old', orientation: 'unknown' };
  assert.equal(levelLeader([coronal, t1, stir]).key, 't1');
  assert.equal(levelLeader([coronal, { ...stir, positions: null }, old]).key, 'old');
  assert.equal(levelLeader([coronal]), null);
});

test('a pin takes the focused stack if axial, else the first axial one', () => {
  const coronal = { ...stir, key: 'stir-coronal', orientation: 'coronal', index: 2 };
  const t1 = { ...stir, key: 't1', index: 5 };
  assert.deepEqual(pinSource([coronal, t1], t1), { stack: t1, position: 51 });
  assert.deepEqual(pinSource([coronal, t1], coronal), { stack: t1, position: 51 });
  assert.equal(pinSource([coronal], coronal), null);
});
