// The viewer's shortcuts (keys and labels in keymap.js, engine in ../keys.js): slices, pages
// of slices, window presets (one viewport or both), reset, zoom/pan link and pinning a
// region's level, acting on the viewport under the mouse (else the last one used).

import { createKeymap, isTypingTarget } from '../keys.js';
import { VIEWER_KEYMAP } from './keymap.js';
import { pinLevel } from './levels.js';
import { scrollBy } from './scroll.js';
import { applyPreset, applyPresetAll, reset } from './tools.js';

const PAGE_STEP = 5;
const ONCE = /^(reset|preset|linkZoomPan|pinLevel)/; // not repeated while the key is held

export function viewerKeymap(overrides) {
  return createKeymap({ defaults: VIEWER_KEYMAP, overrides, prefix: 'viewer' });
}

export function targetKey(ctx) {
  return ctx.hovered || ctx.lastActive || (ctx.series[0] && ctx.series[0].key);
}

export function onKeyDown(ctx, e) {
  if (e.isComposing || isTypingTarget(e.target) || isTypingTarget(document.activeElement)) {
    return;
  }
  if (document.querySelector('dialog[open]')) {
    return; // the shortcut list or the amend dialog has the keyboard
  }
  const action = ctx.keymap.actionFor(e);
  if (!action) {
    return;
  }
  const key = targetKey(ctx);
  if (!key) {
    return;
  }
  e.preventDefault();
  if (e.repeat && ONCE.test(action)) {
    return;
  }
  switch (action) {
    case 'slicePrev':
      scrollBy(ctx, key, -1);
      break;
    case 'sliceNext':
      scrollBy(ctx, key, 1);
      break;
    case 'pagePrev':
      scrollBy(ctx, key, -PAGE_STEP);
      break;
    case 'pageNext':
      scrollBy(ctx, key, PAGE_STEP);
      break;
    case 'reset':
      reset(ctx);
      break;
    case 'linkZoomPan':
      ctx.toggleLink();
      break;
    case 'pinLevel':
      pinLevel(ctx);
      break;
    default:
      if (action.startsWith('presetBoth')) {
        applyPresetAll(ctx, Number(action.slice(10)) - 1);
      } else if (action.startsWith('preset')) {
        applyPreset(ctx, key, Number(action.slice(6)) - 1);
      }
  }
}
