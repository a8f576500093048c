// DICOM pages: the import job's progress bar (polls the job's JSON status) and the series
// preview (16-bit PNG slices windowed here). A module file: the CSP forbids inline scripts.

const POLL_MS = 1000;

function watchImportJob(card) {
  const url = card.dataset.statusUrl;
  const bar = card.querySelector("#import-progress");
  const status = card.querySelector("#import-status");
  const counts = card.querySelector("#import-counts");
  async function poll() {
    let job;
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      job = await response.json();
    } catch (error) {
      status.textContent = "connection lost, retrying";
      setTimeout(poll, POLL_MS * 3);
      return;
    }
    bar.setAttribute("aria-valuenow", String(job.percent));
    bar.firstElementChild.style.width = `${job.percent}%`;
    status.textContent = job.status;
    counts.textContent = job.files_total && job.files_done >= job.files_total && !job.finished
      ? `${job.files_total} ${files(job.files_total)} read; storing series`
      : `${job.files_done} of ${job.files_total} ${files(job.files_total)} read`;
    if (job.finished) {
      window.location.reload(); // the server renders the per-file report
    } else {
      setTimeout(poll, POLL_MS);
    }
  }
  poll();
}

// --- 16-bit grey PNG decoding: the browser's own decoders reduce samples to 8 bits. --------

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

async function decodeGrey16(buffer) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  let offset = 8; // PNG signature
  let width = 0, height = 0;
  const idat = [];
  while (offset < bytes.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = view.getUint32(offset + 8);
      height = view.getUint32(offset + 12);
      if (data[8] !== 16 || data[9] !== 0 || data[12] !== 0) throw new Error("not a 16-bit grey PNG");
    } else if (type === "IDAT") {
      idat.push(data);
    }
    offset += 12 + length;
  }
  const stream = new Blob(idat).stream().pipeThrough(new DecompressionStream("deflate"));
  const raw = new Uint8Array(await new Response(stream).arrayBuffer());
  const stride = width * 2, bpp = 2;
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride, prev = row - stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[row + x - bpp] : 0;
      const b = y > 0 ? out[prev + x] : 0;
      const c = x >= bpp && y > 0 ? out[prev + x - bpp] : 0;
      const predictor = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter];
      out[row + x] = (line[x] + predictor) & 0xff;
    }
  }
  const values = new Uint16Array(width * height);
  for (let i = 0; i < values.length; i++) values[i] = (out[2 * i] << 8) | out[2 * i + 1];
  return { width, height, values };
}

async function drawSlice(canvas, index) {
  const url = canvas.dataset.urlTemplate.replace(/\/0\.png$/, `/${index}.png`);
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) return;
  const header = (name, fallback) => Number(response.headers.get(name) ?? fallback);
  const center = header("X-Window-Center", 0), width = Math.max(header("X-Window-Width", 1), 1);
  const offset = header("X-Value-Offset", 0);
  const slope = header("X-Rescale-Slope", 1), intercept = header("X-Rescale-Intercept", 0);
  const image = await decodeGrey16(await response.arrayBuffer());
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(image.width, image.height);
  const low = center - width / 2;
  for (let i = 0; i < image.values.length; i++) {
    const value = (image.values[i] + offset) * slope + intercept;
    const grey = Math.max(0, Math.min(255, Math.round(((value - low) / width) * 255)));
    pixels.data.set([grey, grey, grey, 255], i * 4);
  }
  context.putImageData(pixels, 0, 0);
}

function previewSeries(card) {
  const canvas = card.querySelector("canvas.slice");
  const slider = card.querySelector("input.slice-index");
  if (!canvas || !slider) return;
  let pending = null;
  const show = () => {
    clearTimeout(pending);
    pending = setTimeout(() => drawSlice(canvas, Number(slider.value)), 60);
  };
  slider.addEventListener("input", show);
  drawSlice(canvas, Number(slider.value));
}

const job = document.getElementById("import-job");
if (job && job.dataset.finished !== "true") watchImportJob(job);
document.querySelectorAll(".series-preview").forEach(previewSeries);

function files(n) {
  return n === 1 ? "file" : "files";
}
