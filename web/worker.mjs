// Generation off the main thread: this worker owns the model and runs generate(); the page sends
// { type: 'load', url, weights } / { type: 'generate', id, options } / { type: 'stop' } and receives
// progress, loaded, events (batched every ~30 ms, so the page redraws once per batch), error.
import { loadModel, threads as threadCount } from '/pkg/argen.mjs';

let model = null;
let loading = null;  // the load in flight, so generate waits for it
let controller = null;
// ?threads=N on the page's URL overrides argen's default (all cores but one when isolated).
const threads = Number(new URL(self.location.href).searchParams.get('threads')) || undefined;

const post = (msg, transfer = []) => self.postMessage(msg, transfer);

async function load(url, weights) {
  controller?.abort();
  model?.dispose();
  model = null;
  let last = 0;
  const onProgress = (loaded, total) => {
    const now = performance.now();
    if (now - last > 50 || loaded === total) post({ type: 'progress', url, loaded, total }), (last = now);
  };
  try {
    model = await loadModel(url, { onProgress, threads, weights });
    post({ type: 'loaded', url, info: model.info, threads: threadCount() });
  } catch (e) {
    post({ type: 'error', url, message: e.message });
  }
}

async function generate(id, options) {
  await loading;
  if (!model) return post({ type: 'error', id, message: 'no model is loaded' });
  controller?.abort();
  const ctl = (controller = new AbortController());
  let batch = [], transfer = [], last = performance.now();
  const flush = () => {
    post({ type: 'events', id, events: batch }, transfer);
    batch = [], transfer = [], (last = performance.now());
  };
  try {
    for await (const ev of model.generate({ ...options, signal: ctl.signal })) {
      batch.push(ev);
      if (ev.type === 'audio') transfer.push(ev.samples.buffer);
      if (ev.type === 'done' || performance.now() - last > 30) flush();
    }
  } catch (e) {
    if (batch.length) flush();
    post({ type: 'error', id, message: e.message });
  }
}

self.onmessage = ({ data }) => {
  if (data.type === 'load') loading = load(data.url, data.weights);
  else if (data.type === 'generate') generate(data.id, data.options);
  else if (data.type === 'stop') controller?.abort();
};
