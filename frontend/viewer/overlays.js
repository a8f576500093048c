// The text over each viewport (`.viewport-overlay[data-for=key]`, see frontend/README.md):
// the series' label, "station s / S · position +123.0 mm · slice n / N", a gap mark when
// the slice borders a gap in coverage, window/level with the preset's name, a short message
// (e.g. a level pinned), a notice (e.g. a failed prefs save) and a load error; plus
// data-index, data-count, data-station, data-position, data-gap for tests.

import { gapText, positionAt, sliceTextParts, stationAt } from './stackinfo.js';
import { currentVoi } from './voi.js';

const MESSAGE_MS = 4000;

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
    gap: part('viewport-overlay-gap'),
    voi: part('viewport-overlay-voi'),
    message: part('viewport-overlay-message'),
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
  // One span per part, so a narrow viewport wraps between them, not inside.
  const pieces = sliceTextParts(ser, ser.index);
  parts.slice.replaceChildren(...pieces.map((text, i) => {
    const span = document.createElement('span');
    span.textContent = i < pieces.length - 1 ? `${text} · ` : text;
    return span;
  }));
  const gap = gapText(ser, ser.index);
  parts.gap.textContent = gap;
  parts.gap.hidden = !gap;
  const voi = ser.viewport && ser.sawImage ? currentVoi(ser) : null;
  parts.voi.textContent = voi
    ? `W ${fmt(voi.width)}  L ${fmt(voi.center)}${ser.presetName ? `  (${ser.presetName})` : ''}`
    : '';
  parts.error.textContent = ser.error || '';
  parts.error.hidden = !ser.error;
  parts.notice.hidden = !parts.notice.textContent;
  parts.message.hidden = !parts.message.textContent;
  ser.overlay.dataset.index = String(ser.index);
  ser.overlay.dataset.count = String(count);
  const station = stationAt(ser, ser.index);
  const position = positionAt(ser, ser.index);
  setData(ser.overlay, 'station', station);
  setData(ser.overlay, 'position', position);
  setData(ser.overlay, 'gap', gap || null);
}

function setData(node, name, value) {
  if (value === null || value === undefined) {
    delete node.dataset[name];
  } else {
    node.dataset[name] = String(value);
  }
}

/**
 * A short message over the viewport (e.g. "Level of Thigh: +12.0 mm"), gone after a while;
 * `failed` shows it as a failure (class "failed").
 */
export function flashMessage(ser, message, { failed = false } = {}) {
  const parts = ser.overlayParts;
  if (!parts) {
    return;
  }
  parts.message.textContent = message;
  parts.message.hidden = !message;
  parts.message.classList.toggle('failed', failed);
  clearTimeout(ser.messageTimer);
  ser.messageTimer = setTimeout(() => {
    parts.message.textContent = '';
    parts.message.hidden = true;
  }, MESSAGE_MS);
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
