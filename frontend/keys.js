// The read page's one keyboard engine, shared by the grading grid and the viewer: binding
// texts, how a key press matches them, and per-reader remapping. Pure: no DOM.
//
// A binding is a string: optional modifiers joined by '+', then a key.
//   "ArrowDown", "PageUp", "r", "?", "Shift+N", "Shift+Digit2", "Ctrl+Enter", "Ctrl+Alt+KeyR"
// - A key that looks like a KeyboardEvent.code (Digit1, KeyR, ArrowUp, PageDown, Numpad1,
//   Enter, Tab, F1...) matches that code, or a key press whose KeyboardEvent.key has the same
//   name (so "Enter" is also the numpad's Enter). Any other key is compared with
//   KeyboardEvent.key, case-insensitively.
// - Shift: a binding that names it needs it. One that does not name it must be pressed without
//   it, except a single character ("?", "n", "r"), which matches the character typed whatever
//   Shift took to type it. A binding that names Shift wins over one that does not, so
//   Shift+N (next case) is never taken for n (not assessable).
// - Ctrl vs Meta, decided once for the whole page: a binding says "Ctrl", and it is pressed
//   with Ctrl on every system and also with Cmd (Meta) on macOS, where Cmd does what Ctrl does
//   elsewhere. A binding that names Meta needs the Meta key. A modifier a binding does not
//   name must not be held, so Ctrl+R and Cmd+R still reload the page.
//
// A reader's keymap (prefs) remaps actions with entries named "<prefix>.<action>", each a
// binding string or a list of them, e.g. {"viewer.sliceNext": ["ArrowDown", "j"],
// "grid.submit": "Ctrl+KeyS"}; entries with another prefix belong to another part of the page.

const MODIFIERS = ['shift', 'ctrl', 'alt', 'meta'];
const CODE_LIKE = /^(Digit\d|Key[A-Z]|Numpad\w+|Arrow\w+|Page(Up|Down)|Home|End|F\d{1,2}|Space|Enter|Escape|Tab|Backspace|Delete|Insert|Minus|Equal|Bracket\w+|Semicolon|Quote|Backquote|Backslash|Comma|Period|Slash)$/;

/** True on macOS (and iPadOS with a keyboard), where Cmd is pressed for Ctrl. */
export function onMac(nav = globalThis.navigator) {
  const platform = (nav && (nav.userAgentData?.platform || nav.platform)) || '';
  return /mac|iphone|ipad/i.test(platform);
}

/** {text, key, byCode, mods} for a binding string, or null when it is not one. */
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
  return { text, key, byCode: CODE_LIKE.test(key), mods };
}

/**
 * How a key press matches a parsed binding: 'exact', 'loose' (a single character typed with
 * a Shift the binding does not name) or null.
 */
export function matchBinding(binding, event, { mac = false } = {}) {
  if (!binding) {
    return null;
  }
  const { mods } = binding;
  const ctrlHeld = event.ctrlKey || (mac && event.metaKey && !mods.meta);
  const metaHeld = event.metaKey && !(mac && mods.ctrl && !mods.meta && !event.ctrlKey);
  if (mods.ctrl !== Boolean(ctrlHeld) || mods.meta !== Boolean(metaHeld) || mods.alt !== event.altKey) {
    return null;
  }
  const key = String(event.key ?? '').toLowerCase();
  const sameKey = binding.byCode
    ? event.code === binding.key || key === binding.key.toLowerCase()
    : key === binding.key.toLowerCase();
  if (!sameKey) {
    return null;
  }
  if (mods.shift === event.shiftKey) {
    return 'exact';
  }
  const character = !binding.byCode && binding.key.length === 1;
  return character && !mods.shift ? 'loose' : null;
}

/** Effective {action: [bindingText...]}: `defaults`, with the reader's "<prefix>.<action>" entries. */
export function effectiveKeymap(defaults, overrides, prefix) {
  const result = {};
  for (const [action, keys] of Object.entries(defaults)) {
    let value = overrides && typeof overrides === 'object' ? overrides[`${prefix}.${action}`] : undefined;
    if (typeof value === 'string') {
      value = [value];
    }
    result[action] = Array.isArray(value) ? value.filter((v) => parseBinding(v)) : [...keys];
  }
  return result;
}

/**
 * A keymap ready for key presses: {bindings: {action: [text]}, actionFor(event)}.
 * actionFor gives the first action with an exact match, else the first with a loose one.
 */
export function createKeymap({ defaults, overrides, prefix, mac = onMac() }) {
  const bindings = effectiveKeymap(defaults, overrides, prefix);
  const compiled = [];
  for (const [action, texts] of Object.entries(bindings)) {
    for (const text of texts) {
      compiled.push([action, parseBinding(text)]);
    }
  }
  return {
    bindings,
    actionFor(event) {
      let loose = null;
      for (const [action, binding] of compiled) {
        const how = matchBinding(binding, event, { mac });
        if (how === 'exact') {
          return action;
        }
        if (how === 'loose' && loose === null) {
          loose = action;
        }
      }
      return loose;
    },
  };
}

/** The binding a reader means by this key press (remapping): "Ctrl+Shift+KeyX". */
export function bindingOf(event, { mac = onMac() } = {}) {
  const mods = [
    (event.ctrlKey || (mac && event.metaKey)) && 'Ctrl',
    event.altKey && 'Alt',
    event.shiftKey && 'Shift',
    !mac && event.metaKey && 'Meta',
  ].filter(Boolean);
  return [...mods, event.code].join('+');
}

/** True for a key press that only names a modifier (wait for the real key). */
export function isModifierKey(event) {
  return ['Shift', 'Control', 'Alt', 'Meta'].includes(event.key);
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
