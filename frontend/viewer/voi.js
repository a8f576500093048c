// Window/level as readers speak of it ({center, width}), read from and written to a series'
// Cornerstone viewport. Nothing else is refreshed here: callers update the overlay.

import { utilities as coreUtils } from '@cornerstonejs/core';

const { toWindowLevel, toLowHighRange } = coreUtils.windowLevel;

/** The viewport's window/level now, rounded to 0.01, or null before an image is shown. */
export function currentVoi(ser) {
  const props = ser.viewport ? ser.viewport.getProperties() : null;
  const range = props && props.voiRange;
  if (!range || !Number.isFinite(range.lower) || !Number.isFinite(range.upper)) {
    return null;
  }
  const { windowCenter, windowWidth } = toWindowLevel(range.lower, range.upper);
  return { center: round2(windowCenter), width: round2(windowWidth) };
}

/** Show the viewport with this window/level. */
export function applyVoi(ser, center, width) {
  const { lower, upper } = toLowHighRange(width, center);
  ser.viewport.setProperties({ voiRange: { lower, upper } });
  ser.viewport.render();
}

export function round2(x) {
  return Math.round(x * 100) / 100;
}
