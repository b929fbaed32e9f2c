// argen: autoregressive generation in JavaScript. A small ES module over the wasm core (argen-core.mjs).
//
//   import { loadModel } from 'argen';
//   const model = await loadModel('model.safetensors', { onProgress: (loaded, total) => {} });
//   for await (const ev of model.generate({ prompt: 'In the beginning', maxTokens: 200, signal })) {
//     if (ev.type === 'token') out.textContent += ev.text;
//   }
//   model.dispose();
//
// Helpers for pages: createCanvasPainter (draw an image stream), createAudioPlayer (play an audio
// stream through Web Audio as it is generated), encodeWav.
const isNode = typeof process === 'object' && !!process.versions?.node;
let corePromise = null;
let coreThreads = 1;

// Threads by default: in a cross-origin isolated page, all cores but one (left to the page), at
// most 4; else 1. With one thread the single-threaded core loads.
function defaultThreads() {
  if (!globalThis.crossOriginIsolated || typeof SharedArrayBuffer === 'undefined') return 1;
  return Math.max(1, Math.min(4, (globalThis.navigator?.hardwareConcurrency ?? 1) - 1));
}

// The wasm core, instantiated once per realm (page, worker or Node process): the threaded build
// (argen-core-mt) when more than one thread is asked for, else the single-threaded one.
function core(threads) {
  if (!corePromise) {
    const n = threads ?? defaultThreads();
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`argen: threads must be an integer in 1..64, found ${n}`);
    if (n > 1 && typeof SharedArrayBuffer === 'undefined')
      throw new Error('argen: threads need SharedArrayBuffer, which browsers give cross-origin isolated pages only (COOP/COEP headers)');
    coreThreads = n;
    corePromise = (async () => {
      const { default: create } = n > 1 ? await import('./argen-core-mt.mjs') : await import('./argen-core.mjs');
      const opts = {};
      if (isNode) {
        // Node's fetch cannot read file: URLs, so hand the core its binary directly.
        const { readFile } = await import('fs/promises');
        opts.wasmBinary = await readFile(new URL(n > 1 ? './argen-core-mt.wasm' : './argen-core.wasm', import.meta.url));
      }
      const m = await create(opts);
      if (n > 1) {
        m.setThreads(n);
        // Pooled workers must not keep a Node process alive.
        if (isNode) for (const w of [...(m.PThread?.unusedWorkers ?? []), ...(m.PThread?.runningWorkers ?? [])]) w.unref?.();
      }
      return m;
    })();
  } else if (threads !== undefined && threads !== coreThreads) {
    throw new Error(`argen: the core already runs with ${coreThreads} thread(s); threads is fixed by the first loadModel`);
  }
  return corePromise;
}

// Bytes from a URL (streamed, with progress), a file path under Node, or bytes the caller already has.
// A download's write to the Cache API is pushed onto `writes`, for the caller to await later.
async function readSource(source, onProgress, cacheName, writes) {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  const url = String(source);
  if (isNode && !/^(https?|data|blob):/.test(url)) {
    const { readFile } = await import('fs/promises');
    const bytes = new Uint8Array(await readFile(url.startsWith('file:') ? new URL(url) : url));
    onProgress?.(bytes.length, bytes.length);
    return bytes;
  }
  // The browser's Cache API keeps whole downloads only, so a reload does not fetch again.
  const cache = cacheName && globalThis.caches ? await caches.open(cacheName).catch(() => null) : null;
  const hit = await cache?.match(url).catch(() => null);
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    onProgress?.(bytes.length, bytes.length);
    return bytes;
  }
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`argen: cannot load model ${url}: ${e.message}`);
  }
  if (!res.ok) throw new Error(`argen: cannot load model ${url}: HTTP ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length')) || 0;
  let bytes;
  if (!res.body) {
    bytes = new Uint8Array(await res.arrayBuffer());
    onProgress?.(bytes.length, total || bytes.length);
  } else {
    const chunks = [];
    let loaded = 0;
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        loaded += value.length;
        onProgress?.(loaded, total);
      }
    } catch (e) {
      throw new Error(`argen: download of ${url} failed after ${loaded}${total ? ` of ${total}` : ''} bytes: ${e.message}`);
    }
    bytes = new Uint8Array(loaded);
    let at = 0;
    for (const c of chunks) bytes.set(c, at), (at += c.length);
  }
  if (total && bytes.length !== total) throw new Error(`argen: download of ${url} was cut short: ${bytes.length} of ${total} bytes`);
  if (cache) writes.push(cache.put(url, new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } })).catch(() => {}));
  return bytes;
}

// Lets timers and events (an AbortController's abort() from another task, a worker's messages)
// run between steps, without the 4 ms clamping of nested setTimeout in browsers: before the first
// step, then once kYieldEveryMs of generation have passed, not before every step (a turn of the
// event loop cost ~50 us, a tenth of a char-lstm token). An abort from another task lands within
// that time plus one step; one from the consumer's own loop, at the next step.
const kYieldEveryMs = 4;
const yieldToEventLoop = typeof setImmediate === 'function'
  ? () => new Promise((r) => setImmediate(r))
  : (() => {
      const ch = new MessageChannel();
      const queue = [];
      ch.port1.onmessage = () => queue.shift()?.();
      return () => new Promise((r) => { queue.push(r); ch.port2.postMessage(0); });
    })();

const dropped = new FinalizationRegistry((handle) => {
  if (handle.disposed) return;
  handle.disposed = true;
  handle.stream.delete();
  handle.streams.delete(handle);
});

export class Model {
  #native;
  #info;
  #streams = new Set();

  constructor(native) {
    this.#native = native;
    this.#info = Object.freeze(native.info());
  }

  /**
   * { arch, modality, name, description, vocabSize, contextLength, parameters, fileSize, metadata,
   *   attentionLayers, attentionHeads, numLabels, labels (names), tokenizer (text), height, width, channels (image), sampleRate (audio) }
   */
  get info() {
    this.#alive();
    return this.#info;
  }

  /**
   * Streams events; bad options throw at the call. Options common to every modality: temperature,
   * topK, topP, minP, repetitionPenalty, repetitionWindow, seed, signal (AbortSignal). The last
   * event is { type: 'done', finishReason: 'stop' | 'length' | 'abort', generated, ... }.
   *
   * Text: { type: 'token', id, text, logprob } per token; done adds promptTokens. Options: prompt,
   * maxTokens, stop (string or array), logprobs (N: token events carry `top`, the N likeliest
   * tokens {id, text, logprob}), attentionLayer (L: token events carry `attention` =
   * { layer, heads: Float32Array[] } over every earlier position).
   *
   * Image (raster order, channel by channel): { type: 'pixel', x, y, channel, value, logprob, prefix }
   * per level (value in 0..levels-1, levels = info.vocabSize), and { type: 'row', y, values }
   * (Uint8Array of width*channels levels) when a row is complete. Options: label (index or name from
   * info.labels; required by class-conditional models), prefix (levels of whole top rows to complete).
   *
   * Audio: { type: 'audio', samples: Float32Array, sampleRate } per chunk. Options: seconds or
   * samples (default 1 s), speaker (index or name), chunkSize (default 1024), priming
   * (Float32Array the generation continues) and primingSampleRate (must equal info.sampleRate).
   */
  generate(options = {}) {
    this.#alive();
    const { signal, ...rest } = options ?? {};
    const info = this.#info;
    // The native calls throw here, at the call, on bad options.
    if (info.modality === 'image') return this.#run(this.#native.generateImage(rest), signal, imageEvents(info));
    if (info.modality === 'audio') {
      if (rest.samples === undefined && rest.seconds === undefined) rest.seconds = 1;
      return this.#run(this.#native.generateAudio(rest), signal, (stream) => {
        const samples = stream.next();
        return samples.length ? [{ type: 'audio', samples, sampleRate: info.sampleRate }] : [];
      });
    }
    const stream = this.#native.generate(rest);
    return this.#run(stream, signal, (s) => s.next(1).map((e) => ({ type: 'token', ...e })), () => ({ promptTokens: stream.promptTokens() }));
  }

  // Drives a native stream: `step(stream)` returns the next events ([] once finished).
  // Drives a native stream: `step(stream)` returns the next events ([] once finished). The stream
  // is registered at once, so dispose() frees it even if the generator is never iterated.
  #run(stream, signal, step, doneExtra = () => ({})) {
    const handle = { stream, disposed: false, streams: this.#streams };
    this.#streams.add(handle);
    const generator = this.#drive(handle, signal, step, doneExtra);
    dropped.register(generator, handle);  // a generator dropped unfinished frees its stream when collected
    return generator;
  }

  async *#drive(handle, signal, step, doneExtra) {
    const { stream } = handle;
    let lastYield = -Infinity;
    try {
      for (;;) {
        if (performance.now() - lastYield >= kYieldEveryMs) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
        if (handle.disposed) throw new Error('argen: the model was disposed during generation');
        if (signal?.aborted) {
          stream.abort();
          break;
        }
        const events = step(stream);
        if (events.length === 0) break;
        yield* events;
      }
      yield { type: 'done', finishReason: stream.finishReason(), generated: stream.generated(), ...doneExtra() };
    } finally {
      if (!handle.disposed) stream.delete();
      handle.disposed = true;
      this.#streams.delete(handle);
    }
  }

  /** Frees the model's memory. Generation in progress ends with an error; later calls throw. */
  dispose() {
    if (!this.#native) return;
    for (const h of this.#streams) {
      h.disposed = true;
      h.stream.delete();
    }
    this.#streams.clear();
    this.#native.delete();
    this.#native = null;
  }

  #alive() {
    if (!this.#native) throw new Error('argen: this model has been disposed');
  }
}

// Image streams: one native call per row (abort latency of one row), expanded to pixel events and
// a row event.
function imageEvents({ width, channels }) {
  const rowLevels = width * channels;
  let row = new Uint8Array(rowLevels);
  return (stream) => {
    const { pos, values, logprobs, prefix } = stream.next(rowLevels);
    const events = [];
    for (let i = 0; i < values.length; i++) {
      const p = pos + i, channel = p % channels, x = Math.floor(p / channels) % width, y = Math.floor(p / rowLevels);
      events.push({ type: 'pixel', x, y, channel, value: values[i], logprob: logprobs[i], prefix: i < prefix });
      row[p % rowLevels] = values[i];
      if (p % rowLevels === rowLevels - 1) {
        events.push({ type: 'row', y, values: row });
        row = new Uint8Array(rowLevels);
      }
    }
    return events;
  };
}

/**
 * Loads a model from a URL, a path (Node), or bytes (Uint8Array / ArrayBuffer). Options:
 * onProgress(loadedBytes, totalBytes) while fetching (total 0 when the server does not say);
 * name (for error messages); cache: the Cache API cache that keeps downloaded models in browsers
 * ('argen-models' by default; false: always fetch); threads: threads for matrix products, fixed by
 * the first loadModel (default: in a cross-origin isolated page all cores but one, at most 4, with
 * the threaded build when that is 2 or more; else 1). Results do not depend on the thread count.
 * weights: 'f32' (default) or 'int8': weight matrices quantized at load to int8 with a scale per
 * row (a quarter of the bytes per step; held-out bits within 0.6% on the bundled models, bench/README.md); a file
 * exported with int8 tensors loads as int8 either way. info.weights says which.
 */
export async function loadModel(source, { onProgress, name, cache = 'argen-models', threads, weights = 'f32' } = {}) {
  if (weights !== 'f32' && weights !== 'int8') throw new Error(`argen: weights must be 'f32' or 'int8', found ${weights}`);
  const writes = [];
  const [m, bytes] = await Promise.all([core(threads), readSource(source, onProgress, cache, writes)]);
  const label = name ?? (typeof source === 'string' ? source : 'model bytes');
  try {
    return new Model(new m.Model(bytes, label, weights));
  } finally {
    // The Cache API write runs while the model loads (it took ~50 ms of a cold start in Chromium),
    // and is done when loadModel returns: a reload right after finds the model cached.
    await Promise.all(writes);
  }
}

/** Threads the core uses for matrix products (after the first loadModel; 1 before). */
export function threads() {
  return coreThreads;
}

/** Native objects (models and streams) alive in the core: for leak checks and diagnostics. */
export async function liveNativeObjects() {
  return (await core()).liveObjects();
}

/** Bytes of wasm memory in use by the core (grows, never shrinks): for leak checks and diagnostics. */
export async function wasmMemoryBytes() {
  return (await core()).HEAP8.length;
}

/**
 * Draws an image stream onto a 2D canvas (or OffscreenCanvas) as it arrives: call draw(ev) with each
 * event. Each pixel is a scale x scale square, drawn when its last channel arrives (gray for one
 * channel, RGB(A) for three or four). Sizes the canvas to the image.
 */
export function createCanvasPainter(canvas, info, { scale = 4 } = {}) {
  const { width, height, channels, vocabSize: levels } = info;
  if (!width || !height) throw new Error('argen: createCanvasPainter needs an image model\'s info');
  canvas.width = width * scale;
  canvas.height = height * scale;
  const ctx = canvas.getContext('2d');
  const px = new Uint8ClampedArray(4);
  return {
    draw(ev) {
      if (ev.type !== 'pixel') return;
      px[ev.channel] = Math.round((ev.value * 255) / (levels - 1));
      if (ev.channel !== channels - 1) return;
      if (channels === 1) px[1] = px[2] = px[0];
      const a = channels === 4 ? px[3] / 255 : 1;
      ctx.fillStyle = `rgba(${px[0]},${px[1]},${px[2]},${a})`;
      ctx.fillRect(ev.x * scale, ev.y * scale, scale, scale);
    },
  };
}

/**
 * Plays an audio stream through Web Audio while it is generated: push(samples) schedules each chunk
 * right after the previous one (gap-free while generation keeps ahead of playback). A chunk that
 * arrives after the previous one finished playing is an underrun: it is counted, and playback
 * restarts `latency` seconds later, the latency doubling with each underrun (up to 2 s) so that a
 * generator slower than real time plays in fewer, longer stretches. `context` is an AudioContext.
 */
export function createAudioPlayer(context, { sampleRate, latency = 0.15 } = {}) {
  let next = 0;
  const sources = new Set();
  const player = {
    underruns: 0,
    scheduledSeconds: 0,
    push(samples) {
      if (!samples.length) return;
      const buffer = context.createBuffer(1, samples.length, sampleRate ?? context.sampleRate);
      buffer.copyToChannel(samples, 0);
      const src = context.createBufferSource();
      src.buffer = buffer;
      src.connect(context.destination);
      const now = context.currentTime;
      if (next === 0) next = now + latency;
      else if (next < now) {
        player.underruns++;
        latency = Math.min(2, latency * 2);
        next = now + latency;
      }
      src.start(next);
      next += buffer.duration;
      player.scheduledSeconds += buffer.duration;
      sources.add(src);
      src.onended = () => sources.delete(src);
    },
    /** Seconds of audio scheduled but not yet played. */
    get bufferedSeconds() {
      return Math.max(0, next - context.currentTime);
    },
    stop() {
      for (const s of sources) s.stop();
      sources.clear();
      next = 0;
    },
  };
  return player;
}

/** A 16-bit PCM mono WAV file of samples in [-1, 1] (clamped). */
export function encodeWav(samples, sampleRate) {
  const n = samples.length;
  const out = new Uint8Array(44 + 2 * n);
  const v = new DataView(out.buffer);
  const text = (at, s) => [...s].forEach((c, i) => (out[at + i] = c.charCodeAt(0)));
  text(0, 'RIFF');
  v.setUint32(4, 36 + 2 * n, true);
  text(8, 'WAVEfmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  text(36, 'data');
  v.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) {
    const x = Number.isNaN(samples[i]) ? 0 : Math.max(-1, Math.min(1, samples[i]));
    v.setInt16(44 + 2 * i, Math.round(x * 32767), true);
  }
  return out;
}
