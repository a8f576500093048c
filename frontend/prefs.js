// Saves the reader's last window/level per sequence: POST {"voi": {...}} to
// prefsUrl with X-CSRFToken, debounced; flushed with keepalive on page hide.

export class VoiPrefs {
  constructor({ url, csrfToken, initial, delayMs = 1000, onError = () => {} }) {
    this.url = url || null;
    this.csrfToken = csrfToken || '';
    this.delayMs = delayMs;
    this.onError = onError;
    this.voi = {};
    if (initial && typeof initial === 'object') {
      for (const [seq, v] of Object.entries(initial)) {
        if (isVoi(v)) {
          this.voi[seq] = { center: Number(v.center), width: Number(v.width) };
        }
      }
    }
    this.timer = null;
    this.pending = false;
    this.saveCount = 0;
    this.lastError = null;
    this._onHide = () => {
      if (document.visibilityState === 'hidden' || !document.visibilityState) {
        this.flush({ keepalive: true });
      }
    };
    document.addEventListener('visibilitychange', this._onHide);
    window.addEventListener('pagehide', () => this.flush({ keepalive: true }));
  }

  get(sequence) {
    return this.voi[sequence] || null;
  }

  set(sequence, center, width) {
    if (!Number.isFinite(center) || !Number.isFinite(width) || width <= 0) {
      return;
    }
    const rounded = { center: round2(center), width: round2(width) };
    const old = this.voi[sequence];
    if (old && old.center === rounded.center && old.width === rounded.width) {
      return;
    }
    this.voi[sequence] = rounded;
    this.pending = true;
    if (!this.url) {
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), this.delayMs);
  }

  flush({ keepalive = false } = {}) {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending || !this.url) {
      return Promise.resolve(false);
    }
    this.pending = false;
    const body = JSON.stringify({ voi: this.voi });
    return fetch(this.url, {
      method: 'POST',
      credentials: 'same-origin',
      keepalive,
      headers: {
        'Content-Type': 'application/json',
        'X-CSRFToken': this.csrfToken,
        'X-Requested-With': 'XMLHttpRequest',
      },
      body,
    }).then(
      (response) => {
        if (!response.ok) {
          throw new Error(`saving window/level failed: HTTP ${response.status}`);
        }
        this.saveCount += 1;
        this.lastError = null;
        return true;
      },
    ).catch((error) => {
      this.lastError = String(error && error.message ? error.message : error);
      this.onError(this.lastError);
      return false;
    });
  }
}

function isVoi(v) {
  return (
    v && typeof v === 'object' &&
    Number.isFinite(Number(v.center)) && Number.isFinite(Number(v.width)) &&
    Number(v.width) > 0
  );
}

function round2(x) {
  return Math.round(x * 100) / 100;
}
