import test from 'node:test';
import assert from 'node:assert/strict';
import { markersFromIop, orientationLetter, orientationMarkers } from '../viewer/orientation.js';

test('the letter of each patient axis, both ways', () => {
  assert.equal(orientationLetter([1, 0, 0]), 'L');
  assert.equal(orientationLetter([-1, 0, 0]), 'R');
  assert.equal(orientationLetter([0, 1, 0]), 'P');
  assert.equal(orientationLetter([0, -1, 0]), 'A');
  assert.equal(orientationLetter([0, 0, 1]), 'H');
  assert.equal(orientationLetter([0, 0, -1]), 'F');
});

test('axial: left R, right L, top A, bottom P', () => {
  assert.deepEqual(orientationMarkers([1, 0, 0], [0, 1, 0]), { left: 'R', right: 'L', top: 'A', bottom: 'P' });
  assert.deepEqual(markersFromIop([1, 0, 0, 0, 1, 0]), { left: 'R', right: 'L', top: 'A', bottom: 'P' });
});

test('coronal: left R, right L, top H, bottom F', () => {
  assert.deepEqual(markersFromIop([1, 0, 0, 0, 0, -1]), { left: 'R', right: 'L', top: 'H', bottom: 'F' });
});

test('sagittal: left A, right P, top H, bottom F', () => {
  assert.deepEqual(markersFromIop([0, 1, 0, 0, 0, -1]), { left: 'A', right: 'P', top: 'H', bottom: 'F' });
});

test('an axial image flipped left-right (rows towards the right of the patient)', () => {
  assert.deepEqual(markersFromIop([-1, 0, 0, 0, 1, 0]), { left: 'L', right: 'R', top: 'A', bottom: 'P' });
});

test('oblique directions are named by their dominant axis', () => {
  const c = Math.cos(Math.PI / 9); // 20 degrees
  const s = Math.sin(Math.PI / 9);
  // Axial tilted 20 degrees about x: columns mostly posterior, a little towards the feet.
  assert.deepEqual(orientationMarkers([1, 0, 0], [0, c, -s]), { left: 'R', right: 'L', top: 'A', bottom: 'P' });
  // Coronal-oblique tilted 35 degrees about z: rows mostly left, partly posterior.
  const c35 = Math.cos((35 * Math.PI) / 180);
  const s35 = Math.sin((35 * Math.PI) / 180);
  assert.deepEqual(orientationMarkers([c35, s35, 0], [0, 0, -1]), { left: 'R', right: 'L', top: 'H', bottom: 'F' });
  // Past 45 degrees the other axis dominates.
  assert.deepEqual(orientationMarkers([0.6, -0.8, 0], [0, 0, -1]), { left: 'P', right: 'A', top: 'H', bottom: 'F' });
  // Typed arrays (as metadata providers give them) work too.
  assert.deepEqual(orientationMarkers(new Float32Array([0, 0.1, -0.99]), [1, 0, 0]), {
    left: 'H', right: 'F', top: 'R', bottom: 'L',
  });
});

test('missing or unusable cosines give no markers', () => {
  assert.equal(orientationMarkers(undefined, [0, 1, 0]), null);
  assert.equal(orientationMarkers([1, 0, 0], [0, 0]), null);
  assert.equal(orientationMarkers([0, 0, 0], [0, 1, 0]), null);
  assert.equal(orientationMarkers([NaN, 1, 0], [0, 1, 0]), null);
  assert.equal(markersFromIop([1, 0, 0]), null);
});
