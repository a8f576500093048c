// The viewer's shortcuts: default keys and what each does. A reader remaps them with
// "viewer.<action>" entries of their keymap (see ../keys.js for the binding syntax).

export const VIEWER_KEYMAP = Object.freeze({
  slicePrev: ['ArrowUp'],
  sliceNext: ['ArrowDown'],
  pagePrev: ['PageUp'],
  pageNext: ['PageDown'],
  reset: ['r'],
  preset1: ['Shift+Digit1'],
  preset2: ['Shift+Digit2'],
  preset3: ['Shift+Digit3'],
  preset4: ['Shift+Digit4'],
});

export const VIEWER_LABELS = Object.freeze({
  slicePrev: 'Previous slice (both series)',
  sliceNext: 'Next slice (both series)',
  pagePrev: 'Back 5 slices',
  pageNext: 'Forward 5 slices',
  reset: 'Reset view (zoom, pan, window/level)',
  preset1: 'Window preset 1',
  preset2: 'Window preset 2',
  preset3: 'Window preset 3',
  preset4: 'Window preset 4',
});
