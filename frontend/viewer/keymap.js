// The viewer's shortcuts: default keys and what each does. A reader remaps them with
// "viewer.<action>" entries of their keymap (see ../keys.js for the binding syntax).
// Plain digits are the grid's grades, so presets take Shift (both viewports) or Alt+Shift
// (the viewport under the mouse, else the last one used).

export const VIEWER_KEYMAP = Object.freeze({
  slicePrev: ['ArrowUp'],
  sliceNext: ['ArrowDown'],
  pagePrev: ['PageUp'],
  pageNext: ['PageDown'],
  reset: ['r'],
  presetBoth1: ['Shift+Digit1'],
  presetBoth2: ['Shift+Digit2'],
  presetBoth3: ['Shift+Digit3'],
  presetBoth4: ['Shift+Digit4'],
  preset1: ['Alt+Shift+Digit1'],
  preset2: ['Alt+Shift+Digit2'],
  preset3: ['Alt+Shift+Digit3'],
  preset4: ['Alt+Shift+Digit4'],
  linkZoomPan: ['l'],
  pinLevel: ['p'],
});

export const VIEWER_LABELS = Object.freeze({
  slicePrev: 'Previous slice (viewports of the same orientation follow)',
  sliceNext: 'Next slice (viewports of the same orientation follow)',
  pagePrev: 'Back 5 slices',
  pageNext: 'Forward 5 slices',
  reset: 'Reset view (zoom, pan, window/level)',
  presetBoth1: 'Window preset 1, both viewports (each its sequence’s)',
  presetBoth2: 'Window preset 2, both viewports',
  presetBoth3: 'Window preset 3, both viewports',
  presetBoth4: 'Window preset 4, both viewports',
  preset1: 'Window preset 1, viewport under the mouse (else the last used)',
  preset2: 'Window preset 2, that viewport only',
  preset3: 'Window preset 3, that viewport only',
  preset4: 'Window preset 4, that viewport only',
  linkZoomPan: 'Link / unlink zoom and pan between the viewports',
  pinLevel: 'Pin: this slice is the level of the grid row’s functional group',
});
