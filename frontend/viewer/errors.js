// How a failure reaches the reader: in the overlay of the series it belongs to (or of every
// series when it belongs to none) and in document.body.dataset.viewerError (the first one),
// never silently.

import { buildOverlay, updateOverlay } from './overlays.js';

export class ViewerError extends Error {}

/** A slice of this series failed: shown on it; whoever waits for its first image is told. */
export function reportError(ser, message) {
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

/** The viewer as a whole failed (start-up, or an image of no known series). */
export function fail(ctx, error) {
  const message = describe(error);
  ctx.failed = message;
  console.error('[reader]', message);
  document.body.dataset.viewerError = document.body.dataset.viewerError || message;
  const owner = error && error.cause && error.cause.key ? error.cause : null;
  let targets;
  if (owner) {
    // A series that failed its set-up (e.g. no images).
    targets = [owner];
  } else if (ctx.series.some((ser) => ser.error)) {
    // A series-specific load error: already shown in that overlay.
    targets = [];
  } else {
    targets = ctx.series.length ? ctx.series : fallbackOverlays();
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

/** Cornerstone's IMAGE_LOAD_ERROR / IMAGE_LOAD_FAILED: to the series of the image. */
export function onLoadError(ctx, evt) {
  const detail = evt.detail || {};
  const items = Array.isArray(detail) ? detail : [detail];
  for (const item of items) {
    const imageId = item.imageId || (item.reason && item.reason.imageId);
    const hit = imageId ? ctx.byImageId.get(imageId) : null;
    const error = item.error || item.reason || item;
    if (hit) {
      reportError(hit.ser, `${hit.ser.label}: could not load slice ${hit.index + 1}: ${describe(error)}`);
    } else {
      fail(ctx, new ViewerError(`Could not load an image: ${describe(error)}`));
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

/** A readable message for whatever a loader or a promise rejected with. */
export function describe(error) {
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
