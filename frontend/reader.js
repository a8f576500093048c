// Entry point loaded by the read page:
//   <script type="module" src="{% static 'reader/reader.js' %}"></script>
// Exposes window.iimViewer (see frontend/README.md).
import { createViewer } from './viewer.js';

function boot() {
  if (window.iimViewer) {
    return;
  }
  window.iimViewer = createViewer();
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', boot, { once: true });
} else {
  boot();
}
