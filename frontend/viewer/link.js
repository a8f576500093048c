// Zoom and pan linked between the viewports of one sync group (one orientation): Cornerstone's
// zoom/pan synchronizer per group of two or more stacks, on by default, toggled by a key (l)
// or the frame's link button. Window/level and slices are not its business (voi per sequence,
// slices by position in scroll.js).

import { synchronizers } from '@cornerstonejs/tools';

import { syncGroups } from '../sync.js';

const { createZoomPanSynchronizer } = synchronizers;

/** One synchronizer per sync group with more than one stack; all enabled when `linked`. */
export function setUpLink(ctx, engineId) {
  ctx.linkSynchronizers = [];
  for (const group of syncGroups(ctx.series)) {
    if (group.length < 2) {
      continue;
    }
    const sync = createZoomPanSynchronizer(`iim-zoom-pan-${group[0].syncGroup}`);
    for (const ser of group) {
      sync.add({ renderingEngineId: engineId, viewportId: ser.key });
      ser.linkable = true;
    }
    sync.setEnabled(ctx.linked);
    ctx.linkSynchronizers.push(sync);
  }
}

/**
 * Link or unlink. Linking again brings the other viewports of each group to the zoom and pan
 * of the one used last (else the group's first), so they match at once.
 */
export function setLinked(ctx, linked) {
  const was = ctx.linked;
  ctx.linked = Boolean(linked);
  for (const sync of ctx.linkSynchronizers || []) {
    sync.setEnabled(ctx.linked);
  }
  if (ctx.linked && !was) {
    for (const group of syncGroups(ctx.series)) {
      const source = group.find((ser) => ser.key === (ctx.hovered || ctx.lastActive)) || group[0];
      if (group.length < 2 || !source.viewport || !source.sawImage) {
        continue;
      }
      for (const ser of group) {
        if (ser !== source && ser.viewport && ser.sawImage) {
          ser.viewport.setZoom(source.viewport.getZoom());
          ser.viewport.setPan(source.viewport.getPan());
          ser.viewport.render();
        }
      }
    }
  }
  return ctx.linked;
}
