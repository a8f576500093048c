// The viewer's shortcuts (keys and labels in keymap.js, engine in ../keys.js): slices, pages
// of slices, window presets and reset, acting on the viewport under the mouse (else the last
// one used).

import { createKeymap, isTypingTarget } from '../keys.js';
import { VIEWER_KEYMAP } from './keymap.js';
import { scrollBy } from './scroll.js';
import { applyPreset, reset } from './tools.js';

const PAGE_STEP = 5;

export function viewerKeymap(overrides) {
  return createKeymap({ defaults: VIEWER_KEYMAP, overrides, prefix: 'viewer' });
}

function targetKey(ctx) {
  return ctx.hovered || ctx.lastActive || (ctx.series[0] && ctx.series[0].key);
}

export function onKeyDown(ctx, e) {
  if (e.isComposing || isTypingTarget(e.target) || isTypingTarget(document.activeElement)) {
    return;
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
  if (e.repeat && (action === 'reset' || action.startsWith('preset'))) {
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
    default:
      if (action.startsWith('preset')) {
        applyPreset(ctx, key, Number(action.slice(6)) - 1);
      }
  }
}
