// The Cornerstone side of the stacks: initialising Cornerstone and its DICOM decoder, one
// stack viewport per series on one rendering engine, each element's pointer, wheel and image
// events, the first image of each series, then prefetch and following resizes.

import {
  init as coreInit,
  Enums,
  RenderingEngine,
  cache,
  eventTarget,
  imageLoadPoolManager,
} from '@cornerstonejs/core';
import {
  init as toolsInit,
  ToolGroupManager,
  utilities as toolsUtils,
} from '@cornerstonejs/tools';
import { init as dicomLoaderInit } from '@cornerstonejs/dicom-image-loader';

import { ViewerError, onLoadError } from './errors.js';
import { markersOfImage, showMarkers } from './frame.js';
import { updateOverlay } from './overlays.js';
import { onWheel } from './scroll.js';
import { TOOL_GROUP_ID, rememberVoi, setUpTools, setVoi } from './tools.js';

export const ENGINE_ID = 'iim-reader';
const FIRST_IMAGE_TIMEOUT_MS = 60000;

/** Cornerstone, its decoder (1-2 web workers) and the tool group, once per page. */
export async function initCornerstone(ctx) {
  eventTarget.addEventListener(Enums.Events.IMAGE_LOAD_ERROR, (evt) => onLoadError(ctx, evt));
  eventTarget.addEventListener(Enums.Events.IMAGE_LOAD_FAILED, (evt) => onLoadError(ctx, evt));

  await coreInit();
  dicomLoaderInit({
    maxWebWorkers: Math.min(2, Math.max(1, Math.floor((navigator.hardwareConcurrency || 2) / 2))),
  });
  toolsInit();
  setUpTools();
}

/** A stack viewport on each series' element, with the tools and the element's events. */
export function enableStacks(ctx) {
  ctx.engine = new RenderingEngine(ENGINE_ID);
  for (const ser of ctx.series) {
    ctx.engine.enableElement({
      viewportId: ser.key,
      type: Enums.ViewportType.STACK,
      element: ser.element,
      defaultOptions: { background: [0, 0, 0] },
    });
    ser.viewport = ctx.engine.getViewport(ser.key);
    ToolGroupManager.getToolGroup(TOOL_GROUP_ID).addViewport(ser.key, ENGINE_ID);
    bindElement(ctx, ser);
  }
}

function bindElement(ctx, ser) {
  const el = ser.element;
  el.addEventListener('contextmenu', (e) => e.preventDefault());
  el.addEventListener('pointerenter', () => {
    ctx.hovered = ser.key;
    ctx.lastActive = ser.key;
  });
  el.addEventListener('pointerleave', () => {
    if (ctx.hovered === ser.key) {
      ctx.hovered = null;
    }
  });
  el.addEventListener(
    'pointerdown',
    () => {
      ctx.lastActive = ser.key;
      ser.dragging = true;
      if (document.activeElement !== el) {
        el.focus({ preventScroll: true });
      }
    },
    true,
  );
  el.addEventListener(
    'mousedown',
    () => {
      ctx.lastActive = ser.key;
      ser.dragging = true;
    },
    true,
  );
  const endDrag = () => {
    ser.dragging = false;
  };
  window.addEventListener('pointerup', endDrag, true);
  window.addEventListener('mouseup', endDrag, true);
  window.addEventListener('blur', endDrag);
  el.addEventListener('wheel', (e) => onWheel(ctx, ser, e), { passive: false, capture: true });

  el.addEventListener(Enums.Events.STACK_NEW_IMAGE, (evt) => {
    ser.sawImage = true;
    ser.shownIndex = evt.detail.imageIdIndex;
    // Each image its own markers: the stations of a stack may differ in orientation.
    showMarkers(ser, markersOfImage(evt.detail.imageId || ser.imageIds[ser.shownIndex]));
    updateOverlay(ser);
  });
  el.addEventListener(Enums.Events.VOI_MODIFIED, () => {
    if (ctx.isReady && ser.dragging) {
      // Window/level dragged by the reader: remember it for this sequence.
      ser.presetName = null;
      ser.presetIndex = null;
      rememberVoi(ctx, ser);
      ctx.refreshFrames();
    }
    updateOverlay(ser);
  });
}

/** The series' stack at its start index, rendered with the reader's window/level. */
export async function loadFirstImage(ctx, ser) {
  const failure = new Promise((_, reject) => ser.errorWaiters.push(reject));
  failure.catch(() => {});
  const newImage = waitForEvent(ser.element, Enums.Events.STACK_NEW_IMAGE);
  await Promise.race([ser.viewport.setStack(ser.imageIds, ser.index), failure]);
  if (ser.error) {
    throw new ViewerError(ser.error);
  }
  if (!ser.sawImage) {
    await Promise.race([newImage, failure, timeout(FIRST_IMAGE_TIMEOUT_MS, `${ser.label}: timed out loading the first image`)]);
  }
  if (ser.error) {
    throw new ViewerError(ser.error);
  }
  const saved = ctx.prefs.get(ser.sequence);
  if (saved) {
    setVoi(ser, saved.center, saved.width);
  }
  const rendered = waitForEvent(ser.element, Enums.Events.IMAGE_RENDERED);
  ser.viewport.render();
  await Promise.race([rendered, failure, timeout(FIRST_IMAGE_TIMEOUT_MS, `${ser.label}: timed out rendering the first image`)]);
  updateOverlay(ser);
}

// Prefetch requests in flight at once. Uncapped, a whole-body study queues 400+ requests and a
// jump (to a group's level) waits behind all of them; the browser keeps about 6 per host busy
// either way (bench/viewer.py: a jump to the last slice 7-9 s uncapped, under 0.3 s capped).
const PREFETCH_IN_FLIGHT = 8;

/** After the first images: the viewports follow their elements' size, and slices prefetch. */
export function followResizesAndPrefetch(ctx) {
  imageLoadPoolManager.setMaxSimultaneousRequests(Enums.RequestType.Prefetch, PREFETCH_IN_FLIGHT);
  const observer = new ResizeObserver(() => {
    if (ctx.engine) {
      ctx.engine.resize(true, true);
    }
  });
  for (const ser of ctx.series) {
    observer.observe(ser.element);
    toolsUtils.stackPrefetch.enable(ser.element);
    updateOverlay(ser);
  }
}

function waitForEvent(element, name) {
  return new Promise((resolve) => {
    element.addEventListener(name, (evt) => resolve(evt), { once: true });
  });
}

function timeout(ms, message) {
  return new Promise((_, reject) => setTimeout(() => reject(new ViewerError(message)), ms));
}

/** How many images of each stack are decoded and in Cornerstone's cache (benchmarks, tests). */
export function cacheStatus(ctx) {
  const out = {};
  for (const ser of ctx.series) {
    out[ser.key] = {
      loaded: ser.imageIds.filter((id) => cache.isLoaded(id)).length,
      count: ser.imageIds.length,
    };
  }
  return out;
}
