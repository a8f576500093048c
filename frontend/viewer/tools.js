// The mouse tools and window/level. Left drag: window/level of that viewport only (STIR and
// T1 keep their own); middle drag or Shift+left drag: pan; right drag or Ctrl+wheel: zoom.
// Presets and R (reset) set window/level too; every change made by the reader is remembered
// per sequence in the reader's prefs.

import {
  addTool,
  ToolGroupManager,
  WindowLevelTool,
  PanTool,
  ZoomTool,
  Enums as ToolEnums,
} from '@cornerstonejs/tools';

import { updateOverlay } from './overlays.js';
import { requireSeries } from './series.js';
import { applyVoi, currentVoi } from './voi.js';

export const TOOL_GROUP_ID = 'iim-reader-tools';

const { MouseBindings, KeyboardBindings } = ToolEnums;

export function setUpTools() {
  for (const Tool of [WindowLevelTool, PanTool, ZoomTool]) {
    addTool(Tool);
  }
  const group = ToolGroupManager.createToolGroup(TOOL_GROUP_ID);
  group.addTool(WindowLevelTool.toolName);
  group.addTool(PanTool.toolName);
  group.addTool(ZoomTool.toolName);
  group.setToolActive(WindowLevelTool.toolName, {
    bindings: [{ mouseButton: MouseBindings.Primary }],
  });
  group.setToolActive(PanTool.toolName, {
    bindings: [
      { mouseButton: MouseBindings.Auxiliary },
      { mouseButton: MouseBindings.Primary, modifierKey: KeyboardBindings.Shift },
    ],
  });
  group.setToolActive(ZoomTool.toolName, {
    bindings: [
      { mouseButton: MouseBindings.Secondary },
      { mouseButton: MouseBindings.Wheel, modifierKey: KeyboardBindings.Ctrl },
    ],
  });
}

/** Show this series with this window/level. */
export function setVoi(ser, center, width) {
  applyVoi(ser, center, width);
  updateOverlay(ser);
}

/** Keep the series' window/level now as the reader's for its sequence. */
export function rememberVoi(ctx, ser) {
  const voi = currentVoi(ser);
  if (voi) {
    ctx.prefs.set(ser.sequence, voi.center, voi.width);
  }
}

/** Apply preset i (0-based: Shift+1 is preset 0) of series `key`. */
export function applyPreset(ctx, key, i) {
  const ser = requireSeries(ctx, key);
  const preset = ser.presets[Number(i)];
  if (!preset || !ser.viewport) {
    return false;
  }
  setVoi(ser, Number(preset.center), Number(preset.width));
  ser.presetName = preset.name || null;
  rememberVoi(ctx, ser);
  updateOverlay(ser);
  return true;
}

/** Reset zoom, pan and window/level of every viewport. */
export function reset(ctx) {
  for (const ser of ctx.series) {
    if (!ser.viewport) {
      continue;
    }
    ser.viewport.resetCamera();
    ser.viewport.resetProperties();
    ser.viewport.render();
    ser.presetName = null;
    rememberVoi(ctx, ser);
    updateOverlay(ser);
  }
}
