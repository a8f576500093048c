// Orientation markers (R/L/A/P/H/F) from an image's Image Orientation (Patient). Pure.
//
// DICOM's patient axes: +x towards the patient's left, +y posterior, +z head. The row
// direction (rowCosines) points along the image's rows, to the right of the screen; the
// column direction (columnCosines) points down the screen. So the right edge shows where
// +row points, the left edge the opposite, the bottom edge where +column points, the top the
// opposite. An oblique direction is named by its dominant axis.
//   axial [1,0,0, 0,1,0]: left R, right L, top A, bottom P

const LETTERS = [
  ['R', 'L'], // x: - / +
  ['A', 'P'], // y: - / +
  ['F', 'H'], // z: - / +
];

/** The letter of a direction's dominant patient axis ("L" for [1, 0, 0]), or null. */
export function orientationLetter(vector) {
  if (!Array.isArray(vector) && !ArrayBuffer.isView(vector)) {
    return null;
  }
  if (vector.length < 3) {
    return null;
  }
  let axis = -1;
  let best = 0;
  for (let i = 0; i < 3; i += 1) {
    const v = Number(vector[i]);
    if (!Number.isFinite(v)) {
      return null;
    }
    if (Math.abs(v) > best + 1e-9) {
      best = Math.abs(v);
      axis = i;
    }
  }
  if (axis < 0) {
    return null;
  }
  return LETTERS[axis][vector[axis] > 0 ? 1 : 0];
}

const OPPOSITE = { R: 'L', L: 'R', A: 'P', P: 'A', F: 'H', H: 'F' };

export function oppositeLetter(letter) {
  return OPPOSITE[letter] || null;
}

/**
 * {left, right, top, bottom} letters for an image with these row and column cosines, or
 * null when either is missing or not a direction.
 */
export function orientationMarkers(rowCosines, columnCosines) {
  const right = orientationLetter(rowCosines);
  const bottom = orientationLetter(columnCosines);
  if (!right || !bottom) {
    return null;
  }
  return { left: oppositeLetter(right), right, top: oppositeLetter(bottom), bottom };
}

/** The same from a flat Image Orientation (Patient) [rx, ry, rz, cx, cy, cz]. */
export function markersFromIop(iop) {
  if (!Array.isArray(iop) || iop.length !== 6) {
    return null;
  }
  return orientationMarkers(iop.slice(0, 3), iop.slice(3, 6));
}
