// Active reading time, stored with the read for effort and learning-curve analyses: seconds
// with the page visible and the reader active (key, mouse, wheel) in the last minute, reported
// every 30 s and when the page goes away. A submitted read (not being amended) counts no time.

const IDLE_AFTER_MS = 60000;
const REPORT_EVERY_MS = 30000;
const MAX_SECONDS_PER_REPORT = 300; // what the server accepts in one report

export function trackActiveTime({ document, window, grading }) {
  let lastInput = Date.now();
  let activeSeconds = 0;
  for (const type of ['keydown', 'mousemove', 'wheel', 'mousedown']) {
    document.addEventListener(type, () => (lastInput = Date.now()), { passive: true, capture: true });
  }
  window.setInterval(() => {
    if (document.visibilityState === 'visible' && Date.now() - lastInput < IDLE_AFTER_MS) {
      activeSeconds += 1;
    }
  }, 1000);

  function report(keepalive = false) {
    if (!activeSeconds || grading.locked()) {
      return;
    }
    const seconds = Math.min(activeSeconds, MAX_SECONDS_PER_REPORT);
    activeSeconds = 0;
    grading.post(grading.urls.activity, { seconds }, { keepalive }).catch(() => {});
  }

  window.setInterval(() => report(), REPORT_EVERY_MS);
  return { report };
}
