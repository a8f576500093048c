// The mouse tools and window/level. Left drag: window/level of that viewport only (STIR and
// T1 keep their own); middle drag or Shift+left drag: pan; right drag or Ctrl+wheel: zoom.
// Presets and R (reset) set window/level too; every change made by the reader is remembered
// per sequence in the reader's prefs.

import {
  addTool,
  ToolGroupManager,
  WindowLevelTool,
  PanTool,
  ReferenceLinesTool,
  ZoomTool,
  Enums as ToolEnums,
} from '@cornerstonejs/tools';

import { updateOverlay } from './overlays.js';
import { requireSeries } from './series.js';
import { applyVoi, currentVoi } from './voi.js';

export const TOOL_GROUP_ID = 'iim-reader-tools';

/**
 * Every mouse gesture of the viewer, for the `?` list (grading/help.js reads it through
 * iimViewer.keymap().gestures). Keep in step with setUpTools below and scroll.js's onWheel.
 */
export const MOUSE_GESTURES = Object.freeze([
  { gesture: 'Wheel', action: 'Next / previous slice (one per notch; the same orientation follows)' },
  { gesture: 'Left drag', action: 'Window/level of that viewport' },
  { gesture: 'Middle drag, Shift+left drag', action: 'Pan' },
  { gesture: 'Right drag, Ctrl+wheel', action: 'Zoom' },
  { gesture: 'Preset buttons (top right of a viewport)', action: 'Window/level preset of that viewport' },
  { gesture: 'Link button (top right of a viewport)', action: 'Link or unlink zoom/pan between the viewports' },
]);

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

/**
 * Where an axial stack and a coronal or sagittal one are both shown: the axial slice drawn as
 * a line on the others (Cornerstone's ReferenceLinesTool, source = `source`'s viewport). The
 * frames of reference are not compared (stations of one study may each have their own).
 * Returns a function to call when the source shows another slice (redraws the line), or null.
 */
export function setUpReferenceLines(ctx, source) {
  const others = ctx.series.filter((ser) => ser.orientation === 'coronal' || ser.orientation === 'sagittal');
  if (!source || !others.length) {
    return null;
  }
  addTool(ReferenceLinesTool);
  const group = ToolGroupManager.getToolGroup(TOOL_GROUP_ID);
  group.addTool(ReferenceLinesTool.toolName, {
    sourceViewportId: source.key,
    enforceSameFrameOfReference: false,
    showFullDimension: true,
  });
  group.setToolEnabled(ReferenceLinesTool.toolName);
  ctx.referenceLines = { source: source.key, targets: others.map((ser) => ser.key) };
  return () => group.setToolConfiguration(ReferenceLinesTool.toolName, { sourceViewportId: source.key });
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

/** Apply preset i (0-based: key 1 is preset 0) of series `key`. */
export function applyPreset(ctx, key, i) {
  const ser = requireSeries(ctx, key);
  const preset = ser.presets[Number(i)];
  if (!preset || !ser.viewport) {
    return false;
  }
  setVoi(ser, Number(preset.center), Number(preset.width));
  ser.presetName = preset.name || null;
  ser.presetIndex = Number(i);
  rememberVoi(ctx, ser);
  updateOverlay(ser);
  ctx.refreshFrames();
  return true;
}

/** Preset i of every series, each its own sequence's; true if any had one. */
export function applyPresetAll(ctx, i) {
  let any = false;
  for (const ser of ctx.series) {
    any = applyPreset(ctx, ser.key, i) || any;
  }
  return any;
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
    ser.presetIndex = null;
    rememberVoi(ctx, ser);
    updateOverlay(ser);
  }
  ctx.refreshFrames();
}
