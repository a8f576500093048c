// The reading viewer: STIR and T1 stacks side by side (Cornerstone3D), slices scrolled
// together by position along the stack normal, window/level per sequence (kept per reader),
// presets, pan/zoom, reset. Contract with the Django template: see frontend/README.md.
//
// createViewer starts it and returns its public API (window.iimViewer). The parts, each a
// module of frontend/viewer/ sharing one context object (`ctx`, below):
//   series.js    the configuration's series, one record each
//   stacks.js    Cornerstone: engine, viewports, element events, first images, prefetch
//   scroll.js    slices: one series leads, the others follow (pure matching in sync.js)
//   tools.js     mouse tools, window/level, presets, reset
//   keyboard.js  the viewer's shortcuts (keys and labels in keymap.js, engine in keys.js)
//   overlays.js  the text over each viewport; errors.js how failures are shown
//   voi.js       window/level read from and written to a viewport

import { VoiPrefs } from './prefs.js';
import { syncMode } from './sync.js';
import { ViewerError, fail } from './viewer/errors.js';
import { onKeyDown, viewerKeymap } from './viewer/keyboard.js';
import { VIEWER_LABELS } from './viewer/keymap.js';
import { showNotice } from './viewer/overlays.js';
import { startIndexes, scrollBy, setSlice } from './viewer/scroll.js';
import { geometry, readConfig, setUpSeries } from './viewer/series.js';
import { enableStacks, followResizesAndPrefetch, initCornerstone, loadFirstImage } from './viewer/stacks.js';
import { applyPreset, reset } from './viewer/tools.js';
import { currentVoi, round2 } from './viewer/voi.js';

export function createViewer() {
  let resolveReady;
  let rejectReady;
  const ready = new Promise((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // Callers read the failure from dataset.viewerError too; no unhandled noise.
  ready.catch(() => {});

  const ctx = {
    config: null,
    series: [], // per series: see viewer/series.js
    byKey: new Map(),
    byImageId: new Map(), // imageId -> {ser, index}, to place load errors
    engine: null,
    prefs: null, // VoiPrefs
    keymap: null, // keys.js createKeymap
    hovered: null, // key of the series under the mouse
    lastActive: null, // key of the series last scrolled, clicked or hovered
    isReady: false,
    failed: null,
  };

  const api = {
    ready,
    state,
    scrollBy: (key, delta) => scrollBy(ctx, key, delta).then(() => state()),
    setSlice: (key, index) => setSlice(ctx, key, index).then(() => state()),
    applyPreset: (key, i) => applyPreset(ctx, key, i),
    reset: () => reset(ctx),
    keymap: () => ({ bindings: ctx.keymap.bindings, labels: { ...VIEWER_LABELS } }),
    flushPrefs: () => (ctx.prefs ? ctx.prefs.flush() : Promise.resolve(false)),
    syncModes,
    prefsStatus: () =>
      ctx.prefs
        ? { saves: ctx.prefs.saveCount, pending: ctx.prefs.pending, error: ctx.prefs.lastError, voi: { ...ctx.prefs.voi } }
        : null,
  };

  start().then(
    () => {
      ctx.isReady = true;
      document.body.dataset.viewerReady = '1';
      resolveReady(api);
    },
    (error) => {
      fail(ctx, error);
      rejectReady(error);
    },
  );

  return api;

  async function start() {
    ctx.config = readConfig();
    ctx.prefs = new VoiPrefs({
      url: ctx.config.prefsUrl,
      csrfToken: ctx.config.csrfToken || readCookie('csrftoken'),
      initial: ctx.config.prefs && ctx.config.prefs.voi,
      onError: (message) => {
        // Not fatal for reading; visible so it is not silent.
        for (const ser of ctx.series) {
          showNotice(ser, message);
        }
        console.warn('[reader]', message);
      },
    });
    ctx.keymap = viewerKeymap(ctx.config.prefs && ctx.config.prefs.keymap);

    for (const raw of ctx.config.series) {
      const ser = setUpSeries(raw);
      ctx.series.push(ser);
      ctx.byKey.set(ser.key, ser);
      ser.imageIds.forEach((id, index) => ctx.byImageId.set(id, { ser, index }));
    }
    if (!ctx.series.length) {
      throw new ViewerError('No series to show');
    }
    ctx.lastActive = ctx.series[0].key;

    await initCornerstone(ctx);
    enableStacks(ctx);
    startIndexes(ctx);
    await Promise.all(ctx.series.map((ser) => loadFirstImage(ctx, ser)));

    document.addEventListener('keydown', (e) => onKeyDown(ctx, e));
    followResizesAndPrefetch(ctx);
  }

  function state() {
    const out = {};
    for (const ser of ctx.series) {
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
    for (const a of ctx.series) {
      for (const b of ctx.series) {
        if (a !== b) {
          out[`${a.key}->${b.key}`] = syncMode(geometry(a), geometry(b));
        }
      }
    }
    return out;
  }
}

function readCookie(name) {
  const m = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return m ? decodeURIComponent(m[1]) : '';
}
