// Region-aware navigation: the levels (positions along the patient axis, mm) of functional
// groups, from the configuration's `levels` (the coordinator's study levels, or the reader's
// own pins). The grading grid tells where its cursor is with an event on the document:
//
//   document.dispatchEvent(new CustomEvent('iim:grid-cursor', {detail: {group, muscle, ...}}))
//
// When the cursor moves to a row of another group whose level is known, the stacks go there
// (the level leader, see stackinfo.js, leads; its sync group follows as in scroll.js). The
// pin key (p) POSTs "this slice is the level of the cursor's group" to `levelsUrl`.

import { flashMessage } from './overlays.js';
import { setSlice } from './scroll.js';
import { formatMm, indexAtLevel, levelLeader, levelOf, pinSource } from './stackinfo.js';

export const GRID_CURSOR_EVENT = 'iim:grid-cursor';

/** Follow the grid's cursor (from the start: the viewer may be loading when it first moves). */
export function listenToGrid(ctx) {
  document.addEventListener(GRID_CURSOR_EVENT, (evt) => {
    const group = evt.detail && evt.detail.group ? String(evt.detail.group) : null;
    if (!group) {
      return;
    }
    ctx.gridGroup = group;
    if (!ctx.isReady || group === ctx.shownGroup) {
      return;
    }
    ctx.shownGroup = group;
    goToGroup(ctx, group);
  });
}

/**
 * The group the page's grid starts on: the cursor's if the grid told us already, else the
 * focused cell's, else the first row's; null on a page without a grid.
 */
export function startGroup(ctx) {
  if (ctx.gridGroup) {
    return ctx.gridGroup;
  }
  const focused = document.activeElement && document.activeElement.closest
    ? document.activeElement.closest('[data-group]')
    : null;
  const first = focused || document.querySelector('.muscle-row[data-group], td.cell[data-group]');
  return first ? first.dataset.group : null;
}

/** {key, index} where the stacks open for this group's known level, or null (the head end). */
export function startAtLevel(ctx, group) {
  const mm = levelOf(ctx.config.levels, group);
  const leader = mm === null ? null : levelLeader(ctx.series);
  const index = leader ? indexAtLevel(leader, mm) : null;
  return index === null ? null : { key: leader.key, index };
}

/** Bring the stacks to the group's known level; false when it has none (nothing moves). */
export function goToGroup(ctx, group) {
  const start = startAtLevel(ctx, group);
  if (!start) {
    return Promise.resolve(false);
  }
  return setSlice(ctx, start.key, start.index).then(() => true);
}

/** The name the grid gives a group (its heading row), else its slug. */
export function groupName(group) {
  const heading = document.querySelector(`[data-group-heading="${cssEscape(group)}"]`);
  const text = heading ? heading.textContent.trim() : '';
  return text || group;
}

/**
 * Pin the cursor's group at the focused stack's position (an axial one's, if the focused
 * stack is not axial). Resolves {ok, levels} or {ok: false, message}; shows the outcome.
 */
export async function pinLevel(ctx, group = null) {
  const target = group || startGroup(ctx);
  const focused = ctx.byKey.get(ctx.hovered || ctx.lastActive) || ctx.series[0];
  const tell = (message, failed = true) => {
    for (const ser of ctx.series) {
      flashMessage(ser, message, { failed });
    }
    ctx.lastPinMessage = message;
  };
  if (!target) {
    tell('No grid row chosen: no level pinned');
    return { ok: false, message: ctx.lastPinMessage };
  }
  const source = pinSource(ctx.series, focused);
  if (!source) {
    tell('This slice has no position: no level pinned');
    return { ok: false, message: ctx.lastPinMessage };
  }
  const url = ctx.config.levelsUrl;
  if (!url) {
    tell('Levels cannot be saved on this page');
    return { ok: false, message: ctx.lastPinMessage };
  }
  const name = groupName(target);
  let response;
  let body;
  try {
    response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': ctx.csrfToken },
      body: JSON.stringify({ group: target, position: source.position }),
    });
    body = await response.json().catch(() => null);
  } catch (error) {
    tell(`Level of ${name} not saved: ${error.message || 'network error'}`);
    return { ok: false, message: ctx.lastPinMessage };
  }
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : `HTTP ${response.status}`;
    tell(`Level of ${name} not saved: ${detail}`);
    return { ok: false, message: ctx.lastPinMessage };
  }
  if (body && body.levels && typeof body.levels === 'object') {
    ctx.config.levels = body.levels;
  } else {
    ctx.config.levels = { ...(ctx.config.levels || {}), [target]: { position: source.position, source: 'read' } };
  }
  ctx.shownGroup = target;
  tell(`Level of ${name}: ${formatMm(source.position)} mm`, false);
  return { ok: true, levels: ctx.config.levels, message: ctx.lastPinMessage };
}

function cssEscape(text) {
  return window.CSS && CSS.escape ? CSS.escape(text) : String(text).replace(/["\\]/g, '\\$&');
}
