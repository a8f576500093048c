// The text over each viewport (`.viewport-overlay[data-for=key]`, see frontend/README.md):
// the series' label, "slice / count", window/level with the preset's name, a notice (e.g. a
// failed prefs save) and a load error; plus data-index and data-count for tests.

import { currentVoi } from './voi.js';

/** Replace the overlay's content with its parts; null when the page has no overlay for it. */
export function buildOverlay(ser) {
  const root = ser.overlay;
  if (!root) {
    return null;
  }
  root.textContent = '';
  const part = (cls) => {
    const div = document.createElement('div');
    div.className = cls;
    root.appendChild(div);
    return div;
  };
  return {
    label: part('viewport-overlay-label'),
    slice: part('viewport-overlay-slice'),
    voi: part('viewport-overlay-voi'),
    notice: part('viewport-overlay-notice'),
    error: part('viewport-overlay-error'),
  };
}

export function updateOverlay(ser) {
  const parts = ser.overlayParts;
  if (!parts) {
    return;
  }
  parts.label.textContent = ser.label;
  const count = ser.imageIds.length;
  parts.slice.textContent = count ? `${ser.index + 1} / ${count}` : '0 / 0';
  const voi = ser.viewport && ser.sawImage ? currentVoi(ser) : null;
  parts.voi.textContent = voi
    ? `W ${fmt(voi.width)}  L ${fmt(voi.center)}${ser.presetName ? `  (${ser.presetName})` : ''}`
    : '';
  parts.error.textContent = ser.error || '';
  parts.error.hidden = !ser.error;
  parts.notice.hidden = !parts.notice.textContent;
  ser.overlay.dataset.index = String(ser.index);
  ser.overlay.dataset.count = String(count);
}

export function showNotice(ser, message) {
  if (ser.overlayParts) {
    ser.overlayParts.notice.textContent = message;
    ser.overlayParts.notice.hidden = !message;
  }
}

function fmt(x) {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}
