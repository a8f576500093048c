// Builds the read page's scripts into static/reader/:
//   reader.js (the viewer, ES module entry), grading.js (the grading grid, ES
//   module entry), decodeImageFrameWorker.js (decode worker, ES module), the
//   chunks they share or import lazily, and the wasm codecs, side by side.
// Names are fixed (no hashes): Django's ManifestStaticFilesStorage hashes them
// and keeps the unhashed copies, so the relative URLs between the files
// (new URL('./x.wasm', import.meta.url), import('./x.js')) keep resolving.
// vtk.js (inside @cornerstonejs/core) needs the `events` package from npm.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

const output = {
  entryFileNames: '[name].js',
  chunkFileNames: '[name].js',
  assetFileNames: '[name][extname]',
};

// The emscripten glue of the codecs has Node-only branches that import
// fs/path; in the browser those branches never run.
function quiet(warning, defaultHandler) {
  const text = String(warning.message || warning);
  if (/Module "(fs|path|url)" has been externalized for browser compatibility/.test(text)) {
    return;
  }
  defaultHandler(warning);
}

export default defineConfig({
  root,
  base: './',
  publicDir: false,
  logLevel: 'warn',
  worker: {
    format: 'es',
    rolldownOptions: { output },
  },
  build: {
    outDir: 'static/reader',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 4096,
    modulePreload: false,
    reportCompressedSize: false,
    rolldownOptions: {
      input: { reader: 'frontend/reader.js', grading: 'frontend/grading.js' },
      output,
      onwarn: quiet,
      checks: { pluginTimings: false },
    },
  },
});
