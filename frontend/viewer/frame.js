// What the viewer adds to each viewport's frame (the parent element of #viewport-<key>):
//   .orientation-marker[data-edge=left|right|top|bottom]   R/L/A/P/H/F of the image on screen
//   .viewport-tools                                        top right:
//     button.preset-button[data-preset=i]                  window/level preset i (0-based)
//     button.link-button[aria-pressed]                     zoom/pan linked or not (key l)
// The frame gets data-linked="1"|"0" too.
// Markers follow the image shown (stations may differ in orientation); see orientation.js.

import { metaData } from '@cornerstonejs/core';

import { orientationMarkers } from './orientation.js';

const EDGES = ['top', 'right', 'bottom', 'left'];

/** Build the frame's markers and buttons; onPreset(i) and onLink() answer the clicks. */
export function buildFrame(ser, { onPreset, onLink }) {
  const frame = ser.frame;
  if (!frame) {
    return null;
  }
  for (const old of frame.querySelectorAll(':scope > .orientation-marker, :scope > .viewport-tools')) {
    old.remove();
  }
  const markers = {};
  for (const edge of EDGES) {
    const div = document.createElement('div');
    div.className = 'orientation-marker';
    div.dataset.edge = edge;
    div.dataset.for = ser.key;
    div.setAttribute('aria-hidden', 'true');
    frame.appendChild(div);
    markers[edge] = div;
  }
  const tools = document.createElement('div');
  tools.className = 'viewport-tools';
  tools.dataset.for = ser.key;
  const presets = ser.presets.map((preset, i) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'preset-button';
    button.dataset.preset = String(i);
    button.textContent = `${i + 1} ${preset.name || `W ${preset.width} L ${preset.center}`}`;
    button.title = `${preset.name || 'Preset'}: W ${preset.width} L ${preset.center}`;
    button.addEventListener('click', () => onPreset(i));
    tools.appendChild(button);
    return button;
  });
  const link = document.createElement('button');
  link.type = 'button';
  link.className = 'link-button';
  link.addEventListener('click', () => onLink());
  tools.appendChild(link);
  // Buttons keep no focus: the keyboard stays with the page (grid and viewer shortcuts).
  tools.addEventListener('mousedown', (e) => e.preventDefault());
  frame.appendChild(tools);
  return { markers, tools, presets, link };
}

/** The orientation letters of an image ({left, right, top, bottom}), or null. */
export function markersOfImage(imageId) {
  const plane = imageId ? metaData.get('imagePlaneModule', imageId) : null;
  if (!plane) {
    return null;
  }
  return orientationMarkers(plane.rowCosines, plane.columnCosines);
}

export function showMarkers(ser, markers) {
  ser.markers = markers;
  const parts = ser.frameParts;
  if (!parts) {
    return;
  }
  for (const edge of EDGES) {
    parts.markers[edge].textContent = markers ? markers[edge] : '';
  }
}

/** The preset in use (by index, or none) and the link state, on the buttons. */
export function updateFrame(ser, { linked, linkable, linkKey }) {
  const parts = ser.frameParts;
  if (!parts) {
    return;
  }
  parts.presets.forEach((button, i) => {
    button.setAttribute('aria-pressed', String(ser.presetIndex === i));
  });
  parts.link.hidden = !linkable;
  ser.frame.dataset.linked = linked ? '1' : '0';
  parts.link.setAttribute('aria-pressed', String(linked));
  const key = linkKey ? ` (${linkKey.length === 1 ? linkKey.toUpperCase() : linkKey})` : '';
  parts.link.textContent = `zoom/pan ${linked ? 'linked' : 'unlinked'}${key}`;
  parts.link.title = linked
    ? 'Zoom and pan follow between the viewports of this orientation; click to unlink'
    : 'Zoom and pan are per viewport; click to link them';
}
