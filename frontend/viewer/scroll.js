// Moving through the stacks together: the series a reader scrolls leads, every other series
// goes to its matching slice (by position along the stack normal, see ../sync.js). Keys,
// the mouse wheel (one slice per notch; trackpads one per 50 px) and tests come through here.

import { clampIndex, matchSlice } from '../sync.js';
import { describe, reportError } from './errors.js';
import { updateOverlay } from './overlays.js';
import { geometry, requireSeries } from './series.js';

const WHEEL_STEP_PX = 50;

/** Move series `key` to `index`, the others to their matching slices. */
export function setSlice(ctx, key, index) {
  const leader = requireSeries(ctx, key);
  const target = clampIndex(Number(index), leader.imageIds.length);
  const jobs = [showSlice(leader, target)];
  for (const ser of ctx.series) {
    if (ser !== leader) {
      jobs.push(showSlice(ser, matchSlice(geometry(leader), target, geometry(ser))));
    }
  }
  return Promise.all(jobs);
}

export function scrollBy(ctx, key, delta) {
  const leader = requireSeries(ctx, key);
  const step = Math.trunc(Number(delta) || 0);
  return setSlice(ctx, leader.key, leader.index + step);
}

/** Where each series starts: the first at its first slice, the others at the matching slice. */
export function startIndexes(ctx) {
  const leader = ctx.series[0];
  leader.index = 0;
  for (const ser of ctx.series.slice(1)) {
    ser.index = matchSlice(geometry(leader), leader.index, geometry(ser));
  }
}

function showSlice(ser, index) {
  if (index === ser.index && ser.shownIndex === index) {
    return Promise.resolve();
  }
  ser.index = index;
  updateOverlay(ser);
  if (!ser.viewport) {
    return Promise.resolve();
  }
  return ser.viewport.setImageIdIndex(index).catch((error) => {
    reportError(ser, `${ser.label}: could not show slice ${index + 1}: ${describe(error)}`);
  });
}

export function onWheel(ctx, ser, e) {
  if (e.ctrlKey || e.metaKey) {
    return; // Ctrl+wheel zooms (ZoomTool).
  }
  e.preventDefault();
  ctx.lastActive = ser.key;
  let px = e.deltaY;
  if (e.deltaMode === 1) {
    px *= 40;
  } else if (e.deltaMode === 2) {
    px *= 400;
  }
  if (Math.abs(px) >= WHEEL_STEP_PX) {
    // A mouse-wheel notch: one slice.
    ser.wheelAccumulator = 0;
    scrollBy(ctx, ser.key, Math.sign(px));
    return;
  }
  // Trackpads send many small deltas: one slice per WHEEL_STEP_PX.
  ser.wheelAccumulator += px;
  const steps = Math.trunc(ser.wheelAccumulator / WHEEL_STEP_PX);
  if (steps) {
    ser.wheelAccumulator -= steps * WHEEL_STEP_PX;
    scrollBy(ctx, ser.key, steps);
  }
}
