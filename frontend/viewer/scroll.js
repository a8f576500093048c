// Moving through the stacks together: the series a reader scrolls leads, every other series
// of its sync group goes to its matching slice (by position along the stack normal, see
// ../sync.js); other sync groups (another orientation) stay where they are. Keys, the mouse
// wheel (one slice per notch; trackpads one per 50 px), region levels and tests come through
// here.

import { clampIndex, matchSlice, syncGroups, syncPartners } from '../sync.js';
import { describe, reportError } from './errors.js';
import { updateOverlay } from './overlays.js';
import { geometry, requireSeries } from './series.js';

const WHEEL_STEP_PX = 50;

/** Move series `key` to `index`, the others to their matching slices. */
export function setSlice(ctx, key, index) {
  const leader = requireSeries(ctx, key);
  const target = clampIndex(Number(index), leader.imageIds.length);
  const jobs = [showSlice(leader, target)];
  for (const ser of syncPartners(ctx.series, leader)) {
    jobs.push(showSlice(ser, matchSlice(geometry(leader), target, geometry(ser))));
  }
  return Promise.all(jobs);
}

export function scrollBy(ctx, key, delta) {
  const leader = requireSeries(ctx, key);
  const step = Math.trunc(Number(delta) || 0);
  return setSlice(ctx, leader.key, leader.index + step);
}

/**
 * Where each series starts: in each sync group the first series at its first slice (the head
 * end), the others at the matching slice; `start` ({key, index}, e.g. a region's level) puts
 * that series at that slice instead and its sync group follows it.
 */
export function startIndexes(ctx, start = null) {
  for (const group of syncGroups(ctx.series)) {
    let leader = group[0];
    leader.index = 0;
    const chosen = start ? group.find((ser) => ser.key === start.key) : null;
    if (chosen) {
      leader = chosen;
      leader.index = clampIndex(start.index, leader.imageIds.length);
    }
    for (const ser of group) {
      if (ser !== leader) {
        ser.index = matchSlice(geometry(leader), leader.index, geometry(ser));
      }
    }
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
