// The reading viewer: STIR and T1 stacks side by side (Cornerstone3D), slices
// scrolled together by position along the stack normal, window/level per
// sequence (kept per reader), presets, pan/zoom, reset.
//
// Contract with the Django template: see frontend/README.md.

import {
  init as coreInit,
  Enums,
  RenderingEngine,
  eventTarget,
  utilities as coreUtils,
} from '@cornerstonejs/core';
import {
  init as toolsInit,
  addTool,
  ToolGroupManager,
  WindowLevelTool,
  PanTool,
  ZoomTool,
  Enums as ToolEnums,
  utilities as toolsUtils,
} from '@cornerstonejs/tools';
import { init as dicomLoaderInit } from '@cornerstonejs/dicom-image-loader';

import { matchSlice, syncMode, clampIndex } from './sync.js';
import {
  effectiveKeymap,
  compileKeymap,
  actionFor,
  isTypingTarget,
  ACTION_LABELS,
} from './keys.js';
import { VoiPrefs } from './prefs.js';

const ENGINE_ID = 'iim-reader';
const TOOL_GROUP_ID = 'iim-reader-tools';
const PAGE_STEP = 5;
const FIRST_IMAGE_TIMEOUT_MS = 60000;
const WHEEL_STEP_PX = 50;

const { MouseBindings, KeyboardBindings } = ToolEnums;
const { toWindowLevel, toLowHighRange } = coreUtils.windowLevel;

class ViewerError extends Error {}

export function createViewer() {
  let resolveReady;
  let rejectReady;
  const ready = new Promise((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // Callers read the failure from dataset.viewerError too; no unhandled noise.
  ready.catch(() => {});

  const s = {
    config: null,
    series: [], // per series: {key, sequence, label, imageIds, positions, ...}
    byKey: new Map(),
    byImageId: new Map(),
    engine: null,
    prefs: null,
    keymap: null,
    compiledKeymap: [],
    hovered: null,
    lastActive: null,
    isReady: false,
    failed: null,
  };

  const api = {
    ready,
    state,
    scrollBy,
    setSlice,
    applyPreset,
    reset,
    keymap: () => ({ bindings: s.keymap, labels: { ...ACTION_LABELS } }),
    flushPrefs: () => (s.prefs ? s.prefs.flush() : Promise.resolve(false)),
    syncModes,
    prefsStatus: () =>
      s.prefs
        ? { saves: s.prefs.saveCount, pending: s.prefs.pending, error: s.prefs.lastError, voi: { ...s.prefs.voi } }
        : null,
  };

  start().then(
    () => {
      s.isReady = true;
      document.body.dataset.viewerReady = '1';
      resolveReady(api);
    },
    (error) => {
      fail(error);
      rejectReady(error);
    },
  );

  return api;

  // ---------------------------------------------------------------- start-up

  async function start() {
    s.config = readConfig();
    s.prefs = new VoiPrefs({
      url: s.config.prefsUrl,
      csrfToken: s.config.csrfToken || readCookie('csrftoken'),
      initial: s.config.prefs && s.config.prefs.voi,
      onError: (message) => {
        // Not fatal for reading; visible so it is not silent.
        for (const ser of s.series) {
          showNotice(ser, message);
        }
        console.warn('[reader]', message);
      },
    });
    s.keymap = effectiveKeymap(s.config.prefs && s.config.prefs.keymap);
    s.compiledKeymap = compileKeymap(s.keymap);

    for (const raw of s.config.series) {
      const ser = setUpSeries(raw);
      s.series.push(ser);
      s.byKey.set(ser.key, ser);
      ser.imageIds.forEach((id, index) => s.byImageId.set(id, { ser, index }));
    }
    if (!s.series.length) {
      throw new ViewerError('No series to show');
    }
    s.lastActive = s.series[0].key;

    eventTarget.addEventListener(Enums.Events.IMAGE_LOAD_ERROR, onLoadError);
    eventTarget.addEventListener(Enums.Events.IMAGE_LOAD_FAILED, onLoadError);

    await coreInit();
    dicomLoaderInit({
      maxWebWorkers: Math.min(2, Math.max(1, Math.floor((navigator.hardwareConcurrency || 2) / 2))),
    });
    toolsInit();
    setUpTools();

    s.engine = new RenderingEngine(ENGINE_ID);
    for (const ser of s.series) {
      s.engine.enableElement({
        viewportId: ser.key,
        type: Enums.ViewportType.STACK,
        element: ser.element,
        defaultOptions: { background: [0, 0, 0] },
      });
      ser.viewport = s.engine.getViewport(ser.key);
      ToolGroupManager.getToolGroup(TOOL_GROUP_ID).addViewport(ser.key, ENGINE_ID);
      bindElement(ser);
    }

    // Leader starts at its first slice, the others at the matching slice.
    const leader = s.series[0];
    leader.index = 0;
    for (const ser of s.series.slice(1)) {
      ser.index = matchSlice(geometry(leader), leader.index, geometry(ser));
    }

    await Promise.all(s.series.map(loadFirstImage));

    document.addEventListener('keydown', onKeyDown);
    const observer = new ResizeObserver(() => {
      if (s.engine) {
        s.engine.resize(true, true);
      }
    });
    for (const ser of s.series) {
      observer.observe(ser.element);
      toolsUtils.stackPrefetch.enable(ser.element);
      updateOverlay(ser);
    }
  }

  function readConfig() {
    const node = document.getElementById('reader-config');
    if (!node) {
      throw new ViewerError('Reader configuration (#reader-config) is missing');
    }
    let config;
    try {
      config = JSON.parse(node.textContent);
    } catch (error) {
      throw new ViewerError(`Reader configuration is not valid JSON: ${error.message}`);
    }
    if (!config || !Array.isArray(config.series)) {
      throw new ViewerError('Reader configuration has no "series" list');
    }
    return config;
  }

  function setUpSeries(raw) {
    const key = String(raw.key || '');
    const element = key ? document.getElementById(`viewport-${key}`) : null;
    const overlay = key ? document.querySelector(`.viewport-overlay[data-for="${cssEscape(key)}"]`) : null;
    const ser = {
      key,
      sequence: String(raw.sequence || key.toUpperCase()),
      label: String(raw.label || raw.sequence || key),
      imageIds: Array.isArray(raw.imageIds) ? raw.imageIds.map(String) : [],
      positions: Array.isArray(raw.positions) ? raw.positions : null,
      sliceLocations: Array.isArray(raw.sliceLocations) ? raw.sliceLocations : null,
      presets: Array.isArray(raw.presets) ? raw.presets.filter(validPreset) : [],
      element,
      overlay,
      overlayParts: null,
      viewport: null,
      index: 0,
      shownIndex: null,
      sawImage: false,
      error: null,
      dragging: false,
      presetName: null,
      wheelAccumulator: 0,
      errorWaiters: [],
    };
    ser.overlayParts = buildOverlay(ser);
    if (!key) {
      throw new ViewerError('A series in the reader configuration has no "key"');
    }
    if (!element) {
      throw new ViewerError(`No viewport element #viewport-${key} for ${ser.label}`);
    }
    if (!ser.imageIds.length) {
      throw new ViewerError(`${ser.label}: no images in this series`, { cause: ser });
    }
    element.style.background = '#000';
    // Focusable by script only: a click on the image takes the focus out of a
    // text field (so the shortcuts work again) without drawing a focus ring.
    if (!element.hasAttribute('tabindex')) {
      element.tabIndex = -1;
    }
    element.style.outline = 'none';
    updateOverlay(ser);
    return ser;
  }

  function setUpTools() {
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

  function bindElement(ser) {
    const el = ser.element;
    el.addEventListener('contextmenu', (e) => e.preventDefault());
    el.addEventListener('pointerenter', () => {
      s.hovered = ser.key;
      s.lastActive = ser.key;
    });
    el.addEventListener('pointerleave', () => {
      if (s.hovered === ser.key) {
        s.hovered = null;
      }
    });
    el.addEventListener(
      'pointerdown',
      () => {
        s.lastActive = ser.key;
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
        s.lastActive = ser.key;
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
    el.addEventListener('wheel', (e) => onWheel(ser, e), { passive: false, capture: true });

    el.addEventListener(Enums.Events.STACK_NEW_IMAGE, (evt) => {
      ser.sawImage = true;
      ser.shownIndex = evt.detail.imageIdIndex;
      updateOverlay(ser);
    });
    el.addEventListener(Enums.Events.VOI_MODIFIED, () => {
      if (s.isReady && ser.dragging) {
        // Window/level dragged by the reader: remember it for this sequence.
        ser.presetName = null;
        rememberVoi(ser);
      }
      updateOverlay(ser);
    });
  }

  async function loadFirstImage(ser) {
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
    const saved = s.prefs.get(ser.sequence);
    if (saved) {
      setVoi(ser, saved.center, saved.width);
    }
    const rendered = waitForEvent(ser.element, Enums.Events.IMAGE_RENDERED);
    ser.viewport.render();
    await Promise.race([rendered, failure, timeout(FIRST_IMAGE_TIMEOUT_MS, `${ser.label}: timed out rendering the first image`)]);
    updateOverlay(ser);
  }

  // ------------------------------------------------------------------ slices

  function geometry(ser) {
    return {
      count: ser.imageIds.length,
      positions: ser.positions,
      sliceLocations: ser.sliceLocations,
    };
  }

  /** Move series `key` to `index`, the others to their matching slices. */
  function setSlice(key, index) {
    const leader = requireSeries(key);
    const target = clampIndex(Number(index), leader.imageIds.length);
    const jobs = [showSlice(leader, target)];
    for (const ser of s.series) {
      if (ser !== leader) {
        jobs.push(showSlice(ser, matchSlice(geometry(leader), target, geometry(ser))));
      }
    }
    return Promise.all(jobs).then(() => state());
  }

  function scrollBy(key, delta) {
    const leader = requireSeries(key);
    const step = Math.trunc(Number(delta) || 0);
    return setSlice(leader.key, leader.index + step);
  }

  function showSlice(ser, index) {
    if (index === ser.index && ser.shownIndex === index) {
      return Promise.resolve();
    }
    ser.index = index;
    updateOverlay(ser);
    if (!ser.viewport) {
      return Promise.resolve();
    }
    return ser.viewport.setImageIdIndex(index).catch((error) => {
      reportError(ser, `${ser.label}: could not show slice ${index + 1}: ${describe(error)}`);
    });
  }

  function onWheel(ser, e) {
    if (e.ctrlKey || e.metaKey) {
      return; // Ctrl+wheel zooms (ZoomTool).
    }
    e.preventDefault();
    s.lastActive = ser.key;
    let px = e.deltaY;
    if (e.deltaMode === 1) {
      px *= 40;
    } else if (e.deltaMode === 2) {
      px *= 400;
    }
    if (Math.abs(px) >= WHEEL_STEP_PX) {
      // A mouse-wheel notch: one slice.
      ser.wheelAccumulator = 0;
      scrollBy(ser.key, Math.sign(px));
      return;
    }
    // Trackpads send many small deltas: one slice per WHEEL_STEP_PX.
    ser.wheelAccumulator += px;
    const steps = Math.trunc(ser.wheelAccumulator / WHEEL_STEP_PX);
    if (steps) {
      ser.wheelAccumulator -= steps * WHEEL_STEP_PX;
      scrollBy(ser.key, steps);
    }
  }

  // --------------------------------------------------------- window / level

  function currentVoi(ser) {
    const props = ser.viewport ? ser.viewport.getProperties() : null;
    const range = props && props.voiRange;
    if (!range || !Number.isFinite(range.lower) || !Number.isFinite(range.upper)) {
      return null;
    }
    const { windowCenter, windowWidth } = toWindowLevel(range.lower, range.upper);
    return { center: round2(windowCenter), width: round2(windowWidth) };
  }

  function setVoi(ser, center, width) {
    const { lower, upper } = toLowHighRange(width, center);
    ser.viewport.setProperties({ voiRange: { lower, upper } });
    ser.viewport.render();
    updateOverlay(ser);
  }

  function rememberVoi(ser) {
    const voi = currentVoi(ser);
    if (voi) {
      s.prefs.set(ser.sequence, voi.center, voi.width);
    }
  }

  /** Apply preset i (0-based: Shift+1 is preset 0) of series `key`. */
  function applyPreset(key, i) {
    const ser = requireSeries(key);
    const preset = ser.presets[Number(i)];
    if (!preset || !ser.viewport) {
      return false;
    }
    setVoi(ser, Number(preset.center), Number(preset.width));
    ser.presetName = preset.name || null;
    rememberVoi(ser);
    updateOverlay(ser);
    return true;
  }

  /** Reset zoom, pan and window/level of every viewport. */
  function reset() {
    for (const ser of s.series) {
      if (!ser.viewport) {
        continue;
      }
      ser.viewport.resetCamera();
      ser.viewport.resetProperties();
      ser.viewport.render();
      ser.presetName = null;
      rememberVoi(ser);
      updateOverlay(ser);
    }
  }

  // --------------------------------------------------------------- keyboard

  function targetKey() {
    return s.hovered || s.lastActive || (s.series[0] && s.series[0].key);
  }

  function onKeyDown(e) {
    if (e.isComposing || isTypingTarget(e.target) || isTypingTarget(document.activeElement)) {
      return;
    }
    const action = actionFor(s.compiledKeymap, e);
    if (!action) {
      return;
    }
    const key = targetKey();
    if (!key) {
      return;
    }
    e.preventDefault();
    if (e.repeat && (action === 'reset' || action.startsWith('preset'))) {
      return;
    }
    switch (action) {
      case 'slicePrev':
        scrollBy(key, -1);
        break;
      case 'sliceNext':
        scrollBy(key, 1);
        break;
      case 'pagePrev':
        scrollBy(key, -PAGE_STEP);
        break;
      case 'pageNext':
        scrollBy(key, PAGE_STEP);
        break;
      case 'reset':
        reset();
        break;
      default:
        if (action.startsWith('preset')) {
          applyPreset(key, Number(action.slice(6)) - 1);
        }
    }
  }

  // ------------------------------------------------------- state, overlays

  function state() {
    const out = {};
    for (const ser of s.series) {
      out[ser.key] = {
        sequence: ser.sequence,
        index: ser.index,
        shownIndex: ser.shownIndex,
        count: ser.imageIds.length,
        position: ser.positions ? ser.positions[ser.index] ?? null : null,
        sliceLocation: ser.sliceLocations ? ser.sliceLocations[ser.index] ?? null : null,
        voi: currentVoi(ser),
        preset: ser.presetName,
        zoom: ser.viewport && ser.sawImage ? round2(ser.viewport.getZoom()) : null,
        pan: ser.viewport && ser.sawImage ? ser.viewport.getPan().map(round2) : null,
        error: ser.error,
      };
    }
    return out;
  }

  function syncModes() {
    const out = {};
    for (const a of s.series) {
      for (const b of s.series) {
        if (a !== b) {
          out[`${a.key}->${b.key}`] = syncMode(geometry(a), geometry(b));
        }
      }
    }
    return out;
  }

  function buildOverlay(ser) {
    const root = ser.overlay;
    if (!root) {
      return null;
    }
    root.textContent = '';
    const part = (cls) => {
      const div = document.createElement('div');
      div.className = cls;
      root.appendChild(div);
      return div;
    };
    return {
      label: part('viewport-overlay-label'),
      slice: part('viewport-overlay-slice'),
      voi: part('viewport-overlay-voi'),
      notice: part('viewport-overlay-notice'),
      error: part('viewport-overlay-error'),
    };
  }

  function updateOverlay(ser) {
    const parts = ser.overlayParts;
    if (!parts) {
      return;
    }
    parts.label.textContent = ser.label;
    const count = ser.imageIds.length;
    parts.slice.textContent = count ? `${ser.index + 1} / ${count}` : '0 / 0';
    const voi = ser.viewport && ser.sawImage ? currentVoi(ser) : null;
    parts.voi.textContent = voi
      ? `W ${fmt(voi.width)}  L ${fmt(voi.center)}${ser.presetName ? `  (${ser.presetName})` : ''}`
      : '';
    parts.error.textContent = ser.error || '';
    parts.error.hidden = !ser.error;
    parts.notice.hidden = !parts.notice.textContent;
    ser.overlay.dataset.index = String(ser.index);
    ser.overlay.dataset.count = String(count);
  }

  function showNotice(ser, message) {
    if (ser.overlayParts) {
      ser.overlayParts.notice.textContent = message;
      ser.overlayParts.notice.hidden = !message;
    }
  }

  // ------------------------------------------------------------------ errors

  function onLoadError(evt) {
    const detail = evt.detail || {};
    const items = Array.isArray(detail) ? detail : [detail];
    for (const item of items) {
      const imageId = item.imageId || (item.reason && item.reason.imageId);
      const hit = imageId ? s.byImageId.get(imageId) : null;
      const error = item.error || item.reason || item;
      if (hit) {
        reportError(hit.ser, `${hit.ser.label}: could not load slice ${hit.index + 1}: ${describe(error)}`);
      } else {
        fail(new ViewerError(`Could not load an image: ${describe(error)}`));
      }
    }
  }

  function reportError(ser, message) {
    if (!ser.error) {
      ser.error = message;
    }
    console.error('[reader]', message);
    updateOverlay(ser);
    document.body.dataset.viewerError = document.body.dataset.viewerError || message;
    for (const reject of ser.errorWaiters.splice(0)) {
      reject(new ViewerError(message));
    }
  }

  function fail(error) {
    const message = describe(error);
    s.failed = message;
    console.error('[reader]', message);
    document.body.dataset.viewerError = document.body.dataset.viewerError || message;
    const owner = error && error.cause && error.cause.key ? error.cause : null;
    let targets;
    if (owner) {
      // A series that failed its set-up (e.g. no images).
      targets = [owner];
    } else if (s.series.some((ser) => ser.error)) {
      // A series-specific load error: already shown in that overlay.
      targets = [];
    } else {
      targets = s.series.length ? s.series : fallbackOverlays();
    }
    for (const ser of targets) {
      ser.error = ser.error || message;
      if (ser.overlayParts) {
        ser.overlayParts.label.textContent = ser.label || ser.overlayParts.label.textContent;
        ser.overlayParts.error.textContent = ser.error;
        ser.overlayParts.error.hidden = false;
      }
    }
  }

  function fallbackOverlays() {
    // Before the series were set up: write into every overlay on the page.
    return Array.from(document.querySelectorAll('.viewport-overlay')).map((overlay) => {
      const ser = { key: overlay.dataset.for || '', overlay, label: overlay.dataset.for || '' };
      ser.overlayParts = buildOverlay(ser);
      return ser;
    });
  }

  function requireSeries(key) {
    const ser = s.byKey.get(String(key));
    if (!ser) {
      throw new Error(`Unknown series "${key}"`);
    }
    return ser;
  }
}

// -------------------------------------------------------------------- utils

function waitForEvent(element, name) {
  return new Promise((resolve) => {
    element.addEventListener(name, (evt) => resolve(evt), { once: true });
  });
}

function timeout(ms, message) {
  return new Promise((_, reject) => setTimeout(() => reject(new ViewerError(message)), ms));
}

function validPreset(p) {
  return p && Number.isFinite(Number(p.center)) && Number.isFinite(Number(p.width)) && Number(p.width) > 0;
}

function describe(error) {
  if (!error) {
    return 'unknown error';
  }
  if (typeof error === 'string') {
    return error;
  }
  if (error instanceof Error) {
    return error.message || String(error);
  }
  const xhr = error.request || error.xhr;
  const status = error.status ?? (xhr && xhr.status);
  if (status !== undefined && status !== null) {
    const text = error.statusText || (xhr && xhr.statusText) || '';
    return status === 0 ? 'network error' : `HTTP ${status}${text ? ` ${text}` : ''}`;
  }
  if (error.message) {
    return String(error.message);
  }
  if (error.error) {
    return describe(error.error);
  }
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

function fmt(x) {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

function round2(x) {
  return Math.round(x * 100) / 100;
}

function readCookie(name) {
  const m = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return m ? decodeURIComponent(m[1]) : '';
}

function cssEscape(text) {
  return window.CSS && CSS.escape ? CSS.escape(text) : text.replace(/["\\]/g, '\\$&');
}
