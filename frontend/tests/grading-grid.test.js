// Moving on the grading grid as a reader does, and the missing cells as the panel lists them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { NAMES, thighGrid } from './fakes.js';

const grid = thighGrid();

test('next and previous cell go row by row and stop at the ends', () => {
  assert.equal(grid.step('rectus-femoris|R|STIR', 1), 'rectus-femoris|R|T1');
  assert.equal(grid.step('rectus-femoris|L|T1', 1), 'vastus-lateralis|R|STIR');
  assert.equal(grid.step('rectus-femoris|R|STIR', -1), 'rectus-femoris|R|STIR');
  assert.equal(grid.step('gracilis|L|T1', 1), 'gracilis|L|T1');
});

test('j and k keep the column (side and sequence) and move by muscle', () => {
  assert.equal(grid.stepInColumn('rectus-femoris|L|T1', 1), 'vastus-lateralis|L|T1');
  assert.equal(grid.stepInColumn('vastus-lateralis|L|T1', 1), 'gracilis|L|T1');
  assert.equal(grid.stepInColumn('gracilis|L|T1', 1), 'gracilis|L|T1');
  assert.equal(grid.stepInColumn('rectus-femoris|R|STIR', -1), 'rectus-femoris|R|STIR');
});

test('the page opens on the first cell without a grade', () => {
  assert.equal(grid.firstOpen(new Map()), 'rectus-femoris|R|STIR');
  assert.equal(grid.firstOpen(new Map([['rectus-femoris|R|STIR', '0']])), 'rectus-femoris|R|T1');
});

test('missing cells name a muscle alone when none of its cells is graded', () => {
  const missing = [
    ['rectus-femoris', 'L', 'STIR'], ['rectus-femoris', 'L', 'T1'],
    ['gracilis', 'R', 'STIR'], ['gracilis', 'R', 'T1'], ['gracilis', 'L', 'STIR'], ['gracilis', 'L', 'T1'],
  ].map(([muscle, side, sequence]) => ({ muscle, name: NAMES[muscle], side, sequence }));
  assert.equal(grid.describeMissing(missing), 'Rectus femoris (L STIR, L T1) · Gracilis');
});

test('missing cells are grouped by muscle in grid order, each with its cell key', () => {
  const missing = [
    ['gracilis', 'L', 'T1'], ['rectus-femoris', 'L', 'STIR'], ['gracilis', 'R', 'STIR'],
  ].map(([muscle, side, sequence]) => ({ muscle, name: NAMES[muscle], side, sequence }));
  assert.deepEqual(grid.groupMissing(missing), [
    { muscle: 'rectus-femoris', name: 'Rectus femoris', cells: [{ key: 'rectus-femoris|L|STIR', side: 'L', sequence: 'STIR' }] },
    {
      muscle: 'gracilis',
      name: 'Gracilis',
      cells: [
        { key: 'gracilis|L|T1', side: 'L', sequence: 'T1' },
        { key: 'gracilis|R|STIR', side: 'R', sequence: 'STIR' },
      ],
    },
  ]);
});
