// The one keyboard engine of the read page, as a reader pressing keys meets it: the grid's and
// the viewer's default keys, Shift, Ctrl vs Cmd, remapping.
import test from 'node:test';
import assert from 'node:assert/strict';
import { bindingOf, createKeymap, isTypingTarget, onMac, parseBinding } from '../keys.js';
import { GRID_KEYMAP } from '../grading/keymap.js';
import { VIEWER_KEYMAP } from '../viewer/keymap.js';

const press = (code, key, mods = {}) => ({
  code, key, shiftKey: false, ctrlKey: false, altKey: false, metaKey: false, ...mods,
});
const viewer = (overrides = {}, mac = false) => createKeymap({ defaults: VIEWER_KEYMAP, overrides, prefix: 'viewer', mac });
const grid = (overrides = {}, mac = false) => createKeymap({ defaults: GRID_KEYMAP, overrides, prefix: 'grid', mac });

test('the viewer scrolls with the arrows and pages, presets on Shift+digit, R resets', () => {
  const km = viewer();
  assert.equal(km.actionFor(press('ArrowDown', 'ArrowDown')), 'sliceNext');
  assert.equal(km.actionFor(press('ArrowUp', 'ArrowUp')), 'slicePrev');
  assert.equal(km.actionFor(press('PageUp', 'PageUp')), 'pagePrev');
  assert.equal(km.actionFor(press('Digit2', '@', { shiftKey: true })), 'presetBoth2'); // both viewports
  assert.equal(km.actionFor(press('Digit2', '€', { shiftKey: true, altKey: true })), 'preset2'); // one
  assert.equal(km.actionFor(press('Digit2', '2', { altKey: true })), null); // Alt+digit: browser tabs
  assert.equal(km.actionFor(press('KeyL', 'l')), 'linkZoomPan');
  assert.equal(km.actionFor(press('KeyP', 'p')), 'pinLevel');
  assert.equal(km.actionFor(press('KeyP', 'p', { ctrlKey: true })), null); // the browser prints
  assert.equal(km.actionFor(press('Digit2', '2')), null); // a plain digit is a grade (the grid's)
  assert.equal(km.actionFor(press('KeyR', 'r')), 'reset');
  assert.equal(km.actionFor(press('KeyR', 'R', { shiftKey: true })), 'reset'); // R with caps
  assert.equal(km.actionFor(press('KeyR', 'r', { ctrlKey: true })), null); // the browser reloads
  assert.equal(km.actionFor(press('ArrowDown', 'ArrowDown', { ctrlKey: true })), null);
});

test('the grid grades with digits and n, moves with arrows, Tab and j/k', () => {
  const km = grid();
  assert.equal(km.actionFor(press('Digit0', '0')), 'grade0');
  assert.equal(km.actionFor(press('Digit2', '2')), 'grade2');
  assert.equal(km.actionFor(press('Numpad1', '1')), 'grade1');
  assert.equal(km.actionFor(press('KeyN', 'n')), 'gradeNA');
  assert.equal(km.actionFor(press('ArrowRight', 'ArrowRight')), 'next');
  assert.equal(km.actionFor(press('Tab', 'Tab')), 'next');
  assert.equal(km.actionFor(press('Tab', 'Tab', { shiftKey: true })), 'prev');
  assert.equal(km.actionFor(press('KeyJ', 'j')), 'down');
  assert.equal(km.actionFor(press('KeyK', 'k')), 'up');
  assert.equal(km.actionFor(press('KeyG', 'g')), 'groupFill');
});

test('Shift+N is the next case, never "not assessable"', () => {
  assert.equal(grid().actionFor(press('KeyN', 'N', { shiftKey: true })), 'nextCase');
});

test('? opens the list however Shift is needed to type it; Shift+1 is not a grade', () => {
  const km = grid();
  assert.equal(km.actionFor(press('Slash', '?', { shiftKey: true })), 'help');
  assert.equal(km.actionFor(press('Digit1', '!', { shiftKey: true })), null);
});

test('a grade key held with Ctrl, Alt or Cmd grades nothing', () => {
  const km = grid();
  assert.equal(km.actionFor(press('Digit1', '1', { ctrlKey: true })), null);
  assert.equal(km.actionFor(press('KeyN', 'n', { altKey: true })), null);
  assert.equal(km.actionFor(press('Digit1', '1', { metaKey: true })), null);
  assert.equal(grid({}, true).actionFor(press('Digit1', '1', { metaKey: true })), null);
});

test('Ctrl+Enter submits everywhere, Cmd+Enter too on macOS only', () => {
  const linux = grid({}, false);
  const mac = grid({}, true);
  assert.equal(linux.actionFor(press('Enter', 'Enter', { ctrlKey: true })), 'submit');
  assert.equal(linux.actionFor(press('NumpadEnter', 'Enter', { ctrlKey: true })), 'submit');
  assert.equal(linux.actionFor(press('Enter', 'Enter', { metaKey: true })), null); // the Windows key
  assert.equal(mac.actionFor(press('Enter', 'Enter', { metaKey: true })), 'submit');
  assert.equal(mac.actionFor(press('Enter', 'Enter', { ctrlKey: true })), 'submit');
  assert.equal(linux.actionFor(press('Enter', 'Enter')), null);
});

test('Cmd+R on macOS still reloads the page instead of resetting the view', () => {
  assert.equal(viewer({}, true).actionFor(press('KeyR', 'r', { metaKey: true })), null);
});

test('a reader remaps an action with prefix.action entries; other prefixes are ignored', () => {
  const km = viewer({ 'viewer.sliceNext': ['j', 'ArrowDown'], 'viewer.reset': 'Shift+KeyX', 'grid.grade1': 'KeyQ' });
  assert.deepEqual(km.bindings.sliceNext, ['j', 'ArrowDown']);
  assert.deepEqual(km.bindings.reset, ['Shift+KeyX']);
  assert.equal(km.actionFor(press('KeyJ', 'j')), 'sliceNext');
  assert.equal(km.actionFor(press('KeyX', 'X', { shiftKey: true })), 'reset');
  assert.equal(km.actionFor(press('KeyR', 'r')), null);
  assert.equal(km.actionFor(press('KeyQ', 'q')), null);

  const remapped = grid({ 'grid.submit': 'Ctrl+KeyS', 'grid.gradeNA': ['Hyper+x', 'KeyX'] });
  assert.equal(remapped.actionFor(press('KeyS', 's', { ctrlKey: true })), 'submit');
  assert.equal(remapped.actionFor(press('Enter', 'Enter', { ctrlKey: true })), null);
  assert.deepEqual(remapped.bindings.gradeNA, ['KeyX']); // not a binding: dropped
  assert.equal(parseBinding('Hyper+x'), null);
});

test('a key pressed in the shortcut list becomes a binding that the same press matches', () => {
  const linuxPress = press('KeyX', 'X', { ctrlKey: true, shiftKey: true });
  assert.equal(bindingOf(linuxPress, { mac: false }), 'Ctrl+Shift+KeyX');
  const macPress = press('KeyS', 's', { metaKey: true });
  assert.equal(bindingOf(macPress, { mac: true }), 'Ctrl+KeyS');
  const km = grid({ 'grid.submit': bindingOf(macPress, { mac: true }) }, true);
  assert.equal(km.actionFor(macPress), 'submit');
});

test('macOS is told apart by the platform the browser reports', () => {
  assert.equal(onMac({ platform: 'MacIntel' }), true);
  assert.equal(onMac({ userAgentData: { platform: 'macOS' }, platform: '' }), true);
  assert.equal(onMac({ platform: 'Linux x86_64' }), false);
  assert.equal(onMac({ platform: 'Win32' }), false);
  assert.equal(onMac(undefined), false);
});

test('no shortcut fires while the reader types in a field', () => {
  assert.equal(isTypingTarget({ nodeType: 1, tagName: 'INPUT' }), true);
  assert.equal(isTypingTarget({ nodeType: 1, tagName: 'TEXTAREA' }), true);
  assert.equal(isTypingTarget({ nodeType: 1, tagName: 'DIV', isContentEditable: true }), true);
  assert.equal(isTypingTarget({ nodeType: 1, tagName: 'TD' }), false);
  assert.equal(isTypingTarget(null), false);
});

test('Ctrl+Z undoes (Cmd+Z on macOS); a plain z does nothing', () => {
  assert.equal(grid().actionFor(press('KeyZ', 'z', { ctrlKey: true })), 'undo');
  assert.equal(grid({}, true).actionFor(press('KeyZ', 'z', { metaKey: true })), 'undo');
  assert.equal(grid().actionFor(press('KeyZ', 'z')), null);
});

test('no default key of the viewer is also one of the grid', () => {
  const g = grid();
  const v = viewer();
  for (const [action, texts] of Object.entries(VIEWER_KEYMAP)) {
    for (const text of texts) {
      const b = parseBinding(text);
      const code = b.byCode ? b.key : `Key${b.key.toUpperCase()}`;
      const event = press(code, b.byCode ? b.key : b.key, {
        shiftKey: b.mods.shift, ctrlKey: b.mods.ctrl, altKey: b.mods.alt, metaKey: b.mods.meta,
      });
      assert.equal(v.actionFor(event), action, text);
      assert.equal(g.actionFor(event), null, `${text} is the grid's ${g.actionFor(event)}`);
    }
  }
});
