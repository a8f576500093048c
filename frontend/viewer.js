// The reading viewer: STIR and T1 stacks side by side (Cornerstone3D), slices scrolled
// together by position along the patient axis within one orientation, station, position and
// gaps on the overlay, orientation markers, window/level per sequence (kept per reader),
// presets, pan/zoom linked, reset, and region levels (the grid's cursor brings the stacks to
// its group's level; a key pins it). Contract with the Django template: frontend/README.md.
//
// createViewer starts it and returns its public API (window.iimViewer). The parts, each a
// module of frontend/viewer/ sharing one context object (`ctx`, below):
//   series.js    the configuration's series, one record each
//   stacks.js    Cornerstone: engine, viewports, element events, first images, prefetch
//   scroll.js    slices: one series leads, its sync group follows (pure matching in sync.js)
//   tools.js     mouse tools (and their list for `?`), window/level, presets, reset
//   link.js      zoom/pan linked within a sync group (Cornerstone synchronizer)
//   levels.js    region levels: following the grid's cursor, pinning a level
//   frame.js     orientation markers (orientation.js) and buttons on each viewport's frame
//   stackinfo.js station, position, gaps, overlay text, level lookup (pure)
//   keyboard.js  the viewer's shortcuts (keys and labels in keymap.js, engine in keys.js)
//   overlays.js  the text over each viewport; errors.js how failures are shown
//   voi.js       window/level read from and written to a viewport

import { Enums } from '@cornerstonejs/core';

import { VoiPrefs } from './prefs.js';
import { syncMode } from './sync.js';
import { ViewerError, fail } from './viewer/errors.js';
import { buildFrame, updateFrame } from './viewer/frame.js';
import { onKeyDown, viewerKeymap } from './viewer/keyboard.js';
import { VIEWER_LABELS } from './viewer/keymap.js';
import { goToGroup, listenToGrid, pinLevel, startAtLevel, startGroup } from './viewer/levels.js';
import { setLinked, setUpLink } from './viewer/link.js';
import { showNotice } from './viewer/overlays.js';
import { startIndexes, scrollBy, setSlice } from './viewer/scroll.js';
import { geometry, readConfig, setUpSeries } from './viewer/series.js';
import { gapText, levelLeader, stationAt, stationCountOf } from './viewer/stackinfo.js';
import {
  ENGINE_ID, enableStacks, followResizesAndPrefetch, initCornerstone, loadFirstImage,
  cacheStatus,
} from './viewer/stacks.js';
import { MOUSE_GESTURES, applyPreset, applyPresetAll, reset, setUpReferenceLines } from './viewer/tools.js';
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
    referenceLines: null, // {source, targets} when an axial and a coronal/sagittal stack are shown
    linked: true, // zoom/pan linked within a sync group (link.js)
    linkSynchronizers: [],
    gridGroup: null, // the group of the grid's cursor, as the grid last told (levels.js)
    shownGroup: null, // the group whose level the stacks were last brought to (or opened at)
    csrfToken: '',
    lastPinMessage: null,
    refreshFrames,
    toggleLink: () => {
      setLinked(ctx, !ctx.linked);
      refreshFrames();
      return ctx.linked;
    },
  };

  const api = {
    ready,
    state,
    cacheStatus: () => cacheStatus(ctx),
    scrollBy: (key, delta) => scrollBy(ctx, key, delta).then(() => state()),
    setSlice: (key, index) => setSlice(ctx, key, index).then(() => state()),
    applyPreset: (key, i) => applyPreset(ctx, key, i),
    applyPresetAll: (i) => applyPresetAll(ctx, i),
    reset: () => reset(ctx),
    setLinked: (on) => {
      setLinked(ctx, on);
      refreshFrames();
      return ctx.linked;
    },
    pinLevel: (group) => pinLevel(ctx, group).then((answer) => ({ ...answer, state: state() })),
    goToGroup: (group) => goToGroup(ctx, group).then((moved) => ({ moved, state: state() })),
    levels: () => ({ ...(ctx.config && ctx.config.levels) }),
    referenceLines: () => ctx.referenceLines,
    keymap: () => ({
      bindings: ctx.keymap.bindings,
      labels: { ...VIEWER_LABELS },
      gestures: MOUSE_GESTURES.map((g) => ({ ...g })),
    }),
    flushPrefs: () => (ctx.prefs ? ctx.prefs.flush() : Promise.resolve(false)),
    syncModes,
    prefsStatus: () =>
      ctx.prefs
        ? { saves: ctx.prefs.saveCount, pending: ctx.prefs.pending, error: ctx.prefs.lastError, voi: { ...ctx.prefs.voi } }
        : null,
  };

  listenToGrid(ctx);
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
    ctx.csrfToken = ctx.config.csrfToken || readCookie('csrftoken');
    ctx.prefs = new VoiPrefs({
      url: ctx.config.prefsUrl,
      csrfToken: ctx.csrfToken,
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
      ser.frameParts = buildFrame(ser, {
        onPreset: (i) => applyPreset(ctx, ser.key, i),
        onLink: () => ctx.toggleLink(),
      });
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
    setUpLink(ctx, ENGINE_ID);
    refreshFrames();
    const lineSource = ctx.series.find((ser) => ser.orientation === 'axial') || levelLeader(ctx.series);
    const redrawLines = setUpReferenceLines(ctx, lineSource);
    if (redrawLines) {
      lineSource.element.addEventListener(Enums.Events.STACK_NEW_IMAGE, () => redrawLines());
    }
    // Open at the level of the grid's first (or current) row's group when it is known.
    const group = startGroup(ctx);
    ctx.shownGroup = group;
    startIndexes(ctx, group ? startAtLevel(ctx, group) : null);
    await Promise.all(ctx.series.map((ser) => loadFirstImage(ctx, ser)));

    document.addEventListener('keydown', (e) => onKeyDown(ctx, e));
    followResizesAndPrefetch(ctx);
    // The grid may have moved to another group while the images loaded.
    if (ctx.gridGroup && ctx.gridGroup !== ctx.shownGroup) {
      ctx.shownGroup = ctx.gridGroup;
      await goToGroup(ctx, ctx.gridGroup);
    }
  }

  function refreshFrames() {
    const linkKey = ctx.keymap ? (ctx.keymap.bindings.linkZoomPan || [])[0] : null;
    for (const ser of ctx.series) {
      updateFrame(ser, { linked: ctx.linked, linkable: Boolean(ser.linkable), linkKey });
    }
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
        station: stationAt(ser, ser.index),
        stationCount: stationCountOf(ser),
        gap: gapText(ser, ser.index) || null,
        orientation: ser.orientation,
        syncGroup: ser.syncGroup,
        markers: ser.markers ? { ...ser.markers } : null,
        linked: Boolean(ctx.linked && ser.linkable),
        voi: currentVoi(ser),
        preset: ser.presetName,
        presetIndex: ser.presetIndex ?? null,
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
