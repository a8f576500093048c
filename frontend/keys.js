// Viewer keyboard shortcuts and their per-reader remapping.
//
// A binding is a string: optional modifiers joined by '+', then a key.
//   "ArrowDown", "PageUp", "r", "Shift+Digit2", "Ctrl+Alt+KeyR"
// The key part is compared with KeyboardEvent.code when it looks like a code
// (Digit1, KeyR, ArrowUp, PageDown, Numpad1, F1...) and with KeyboardEvent.key
// (case-insensitive) otherwise. Modifiers must match exactly
// (Shift, Ctrl, Alt, Meta); for a single printable character given as a key
// ("r", "?") Shift is not compared, since it is part of the character.
//
// prefs.keymap may remap viewer actions with entries named "viewer.<action>",
// each a binding string or a list of them, e.g.
//   {"viewer.sliceNext": ["ArrowDown", "j"], "viewer.preset1": "Shift+Digit1"}
// Other entries of the keymap belong to the rest of the page and are ignored.

export const DEFAULT_KEYMAP = Object.freeze({
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

export const ACTION_LABELS = Object.freeze({
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

const MODIFIERS = ['shift', 'ctrl', 'alt', 'meta'];
const CODE_LIKE = /^(Digit\d|Key[A-Z]|Numpad\w+|Arrow\w+|Page(Up|Down)|Home|End|F\d{1,2}|Space|Enter|Escape|Tab|Backspace|Delete|Insert|Minus|Equal|Bracket\w+|Semicolon|Quote|Backquote|Backslash|Comma|Period|Slash)$/;

export function parseBinding(text) {
  if (typeof text !== 'string' || !text.trim()) {
    return null;
  }
  const parts = text.split('+').map((p) => p.trim());
  // "Shift++" style: a literal plus as the key.
  let key = parts.pop();
  if (key === '' && parts.length && parts[parts.length - 1] === '') {
    parts.pop();
    key = '+';
  }
  if (!key) {
    return null;
  }
  const mods = { shift: false, ctrl: false, alt: false, meta: false };
  for (const p of parts) {
    const m = p.toLowerCase().replace('control', 'ctrl').replace('cmd', 'meta');
    if (!MODIFIERS.includes(m)) {
      return null;
    }
    mods[m] = true;
  }
  const byCode = CODE_LIKE.test(key);
  return { text, key, byCode, mods };
}

export function matches(binding, event) {
  if (!binding) {
    return false;
  }
  const { mods } = binding;
  if (
    mods.ctrl !== event.ctrlKey ||
    mods.alt !== event.altKey ||
    mods.meta !== event.metaKey
  ) {
    return false;
  }
  if (binding.byCode) {
    return mods.shift === event.shiftKey && event.code === binding.key;
  }
  const printable = binding.key.length === 1;
  if (!printable && mods.shift !== event.shiftKey) {
    return false;
  }
  if (printable && mods.shift && !event.shiftKey) {
    return false;
  }
  return typeof event.key === 'string' && event.key.toLowerCase() === binding.key.toLowerCase();
}

/** Effective {action: [bindingText...]} from the defaults and prefs.keymap. */
export function effectiveKeymap(keymap) {
  const result = {};
  for (const [action, defaults] of Object.entries(DEFAULT_KEYMAP)) {
    let value = keymap && typeof keymap === 'object' ? keymap[`viewer.${action}`] : undefined;
    if (typeof value === 'string') {
      value = [value];
    }
    if (Array.isArray(value)) {
      const valid = value.filter((v) => parseBinding(v));
      result[action] = valid;
    } else {
      result[action] = [...defaults];
    }
  }
  return result;
}

/** Compile the keymap into [action, binding] pairs for matching. */
export function compileKeymap(effective) {
  const compiled = [];
  for (const [action, texts] of Object.entries(effective)) {
    for (const t of texts) {
      const b = parseBinding(t);
      if (b) {
        compiled.push([action, b]);
      }
    }
  }
  return compiled;
}

export function actionFor(compiled, event) {
  for (const [action, binding] of compiled) {
    if (matches(binding, event)) {
      return action;
    }
  }
  return null;
}

/** True when keyboard shortcuts must not fire (typing in a field). */
export function isTypingTarget(target) {
  if (!target || target.nodeType !== 1) {
    return false;
  }
  const tag = target.tagName;
  if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') {
    return true;
  }
  return Boolean(target.isContentEditable);
}
