// Entry point of the grading grid, loaded by the read page whether or not it has images:
//   <script type="module" src="{% static 'reader/grading.js' %}"></script>
// Exposes window.iimGrading ({state, flush, submit}) for the console and tests.
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
