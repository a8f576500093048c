import test from 'node:test';
import assert from 'node:assert/strict';
import { actionFor, compileKeymap, effectiveKeymap, isTypingTarget, parseBinding } from '../keys.js';

const ev = (code, key, mods = {}) => ({
  code, key, shiftKey: false, ctrlKey: false, altKey: false, metaKey: false, ...mods,
});

test('default bindings', () => {
  const km = compileKeymap(effectiveKeymap({}));
  assert.equal(actionFor(km, ev('ArrowDown', 'ArrowDown')), 'sliceNext');
  assert.equal(actionFor(km, ev('PageUp', 'PageUp')), 'pagePrev');
  assert.equal(actionFor(km, ev('Digit2', '@', { shiftKey: true })), 'preset2');
  assert.equal(actionFor(km, ev('Digit2', '2')), null); // plain digits: grading grid
  assert.equal(actionFor(km, ev('KeyR', 'r')), 'reset');
  assert.equal(actionFor(km, ev('KeyR', 'R', { shiftKey: true })), 'reset');
  assert.equal(actionFor(km, ev('KeyR', 'r', { ctrlKey: true })), null); // browser reload
  assert.equal(actionFor(km, ev('ArrowDown', 'ArrowDown', { ctrlKey: true })), null);
});

test('remapped per reader with viewer.* entries', () => {
  const eff = effectiveKeymap({ 'viewer.sliceNext': ['j', 'ArrowDown'], 'viewer.reset': 'Shift+KeyX', 'grade.1': 'Digit1' });
  assert.deepEqual(eff.sliceNext, ['j', 'ArrowDown']);
  const km = compileKeymap(eff);
  assert.equal(actionFor(km, ev('KeyJ', 'j')), 'sliceNext');
  assert.equal(actionFor(km, ev('KeyX', 'X', { shiftKey: true })), 'reset');
  assert.equal(actionFor(km, ev('KeyR', 'r')), null);
  assert.equal(parseBinding('Hyper+x'), null);
});

test('typing targets', () => {
  assert.equal(isTypingTarget({ nodeType: 1, tagName: 'INPUT' }), true);
  assert.equal(isTypingTarget({ nodeType: 1, tagName: 'TEXTAREA' }), true);
  assert.equal(isTypingTarget({ nodeType: 1, tagName: 'DIV', isContentEditable: true }), true);
  assert.equal(isTypingTarget({ nodeType: 1, tagName: 'BUTTON' }), false);
  assert.equal(isTypingTarget(null), false);
});
