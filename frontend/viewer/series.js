// The series the page asks for (#reader-config, see frontend/README.md), one record each (a
// "stack": all series of one role and orientation of a study, stations combined): its images
// and geometry (positions, stations, gaps, orientation, sync group), its presets, its viewport
// element, frame and overlay, and what the viewer tracks about it (slice asked for and shown,
// preset, orientation markers, error).

import { syncGroupOf } from '../sync.js';
import { ViewerError } from './errors.js';
import { buildOverlay, updateOverlay } from './overlays.js';

export function readConfig() {
  const node = document.getElementById('reader-config');
  if (!node) {
    throw new ViewerError('Reader configuration (#reader-config) is missing');
  }
  let config;
  try {
    config = JSON.parse(node.textContent);
  } catch (error) {
    throw new ViewerError(`Reader configuration is not valid JSON: ${error.message}`);
  }
  if (!config || !Array.isArray(config.series)) {
    throw new ViewerError('Reader configuration has no "series" list');
  }
  return config;
}

/** The record of one series of the configuration, its element made ready for Cornerstone. */
const ORIENTATIONS = ['axial', 'coronal', 'sagittal', 'unknown'];

export function setUpSeries(raw) {
  const key = String(raw.key || '');
  const element = key ? document.getElementById(`viewport-${key}`) : null;
  const overlay = key ? document.querySelector(`.viewport-overlay[data-for="${cssEscape(key)}"]`) : null;
  const ser = {
    key,
    sequence: String(raw.sequence || key.toUpperCase()),
    label: String(raw.label || raw.sequence || key),
    imageIds: Array.isArray(raw.imageIds) ? raw.imageIds.map(String) : [],
    positions: Array.isArray(raw.positions) ? raw.positions : null,
    sliceLocations: Array.isArray(raw.sliceLocations) ? raw.sliceLocations : null,
    presets: Array.isArray(raw.presets) ? raw.presets.filter(validPreset) : [],
    orientation: ORIENTATIONS.includes(raw.orientation) ? raw.orientation : 'unknown',
    syncGroup: syncGroupOf(raw),
    stations: Array.isArray(raw.stations) ? raw.stations : null,
    stationCount: Number.isFinite(Number(raw.stationCount)) && Number(raw.stationCount) > 0 ? Number(raw.stationCount) : null,
    gaps: Array.isArray(raw.gaps) ? raw.gaps : [],
    element,
    frame: element ? element.parentElement : null, // holds the markers and buttons (frame.js)
    frameParts: null,
    markers: null, // {left, right, top, bottom} of the image on screen
    overlay,
    overlayParts: null,
    viewport: null,
    index: 0, // the slice asked for
    shownIndex: null, // the slice on screen
    sawImage: false,
    error: null,
    dragging: false,
    presetName: null,
    wheelAccumulator: 0,
    errorWaiters: [],
  };
  ser.overlayParts = buildOverlay(ser);
  if (!key) {
    throw new ViewerError('A series in the reader configuration has no "key"');
  }
  if (!element) {
    throw new ViewerError(`No viewport element #viewport-${key} for ${ser.label}`);
  }
  if (!ser.imageIds.length) {
    throw new ViewerError(`${ser.label}: no images in this series`, { cause: ser });
  }
  element.style.background = '#000';
  // Focusable by script only: a click on the image takes the focus out of a
  // text field (so the shortcuts work again) without drawing a focus ring.
  if (!element.hasAttribute('tabindex')) {
    element.tabIndex = -1;
  }
  element.style.outline = 'none';
  updateOverlay(ser);
  return ser;
}

/** What slice matching (../sync.js) needs of a series. */
export function geometry(ser) {
  return {
    count: ser.imageIds.length,
    positions: ser.positions,
    sliceLocations: ser.sliceLocations,
  };
}

export function requireSeries(ctx, key) {
  const ser = ctx.byKey.get(String(key));
  if (!ser) {
    throw new Error(`Unknown series "${key}"`);
  }
  return ser;
}

function validPreset(p) {
  return p && Number.isFinite(Number(p.center)) && Number.isFinite(Number(p.width)) && Number(p.width) > 0;
}

function cssEscape(text) {
  return window.CSS && CSS.escape ? CSS.escape(text) : text.replace(/["\\]/g, '\\$&');
}
