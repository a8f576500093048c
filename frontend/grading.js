// Entry point of the grading grid, loaded by the read page whether or not it has images:
//   <script type="module" src="{% static 'reader/grading.js' %}"></script>
// Exposes window.iimGrading ({state, flush, submit, cursor}) for the console and tests; tells
// the viewer where its cursor is by the document event "iim:grid-cursor" (grading/page.js).
import { startGrading } from './grading/page.js';

function boot() {
  if (window.iimGrading) {
    return;
  }
  window.iimGrading = startGrading({ document, window });
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', boot, { once: true });
} else {
  boot();
}
