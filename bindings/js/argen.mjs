// argen: autoregressive generation in JavaScript. A small ES module over the wasm core (argen-core.mjs).
//
//   import { loadModel } from 'argen';
//   const model = await loadModel('model.safetensors', { onProgress: (loaded, total) => {} });
//   for await (const ev of model.generate({ prompt: 'In the beginning', maxTokens: 200, signal })) {
//     if (ev.type === 'token') out.textContent += ev.text;
//   }
//   model.dispose();
import createArgenCore from './argen-core.mjs';

const isNode = typeof process === 'object' && !!process.versions?.node;
let corePromise = null;

// The wasm core, instantiated once per realm (page, worker or Node process).
function core() {
  if (!corePromise) {
    corePromise = (async () => {
      const opts = {};
      if (isNode) {
        // Node's fetch cannot read file: URLs, so hand the core its binary directly.
        const { readFile } = await import('fs/promises');
        opts.wasmBinary = await readFile(new URL('./argen-core.wasm', import.meta.url));
      }
      return createArgenCore(opts);
    })();
  }
  return corePromise;
}

// Bytes from a URL (streamed, with progress), a file path under Node, or bytes the caller already has.
async function readSource(source, onProgress) {
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
  const res = await fetch(url);
  if (!res.ok) throw new Error(`argen: cannot load model ${url}: HTTP ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length')) || 0;
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onProgress?.(bytes.length, total || bytes.length);
    return bytes;
  }
  const chunks = [];
  let loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress?.(loaded, total);
  }
  if (total && loaded !== total) throw new Error(`argen: download of ${url} was cut short: ${loaded} of ${total} bytes`);
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) bytes.set(c, at), (at += c.length);
  return bytes;
}

// Lets timers and events (an AbortController's abort()) run between steps, without the 4 ms
// clamping of nested setTimeout in browsers.
const yieldToEventLoop = typeof setImmediate === 'function'
  ? () => new Promise((r) => setImmediate(r))
  : (() => {
      const ch = new MessageChannel();
      const queue = [];
      ch.port1.onmessage = () => queue.shift()?.();
      return () => new Promise((r) => { queue.push(r); ch.port2.postMessage(0); });
    })();

export class Model {
  #native;
  #info;
  #streams = new Set();

  constructor(native) {
    this.#native = native;
    this.#info = Object.freeze(native.info());
  }

  /** { arch, modality, name, description, vocabSize, contextLength, parameters, fileSize, tokenizer, metadata } */
  get info() {
    this.#alive();
    return this.#info;
  }

  /**
   * Streams events: { type: 'token', id, text, logprob } per token, then one
   * { type: 'done', finishReason: 'stop' | 'length' | 'abort', generated, promptTokens }.
   * Options: prompt, maxTokens, temperature, topK, topP, minP, repetitionPenalty, repetitionWindow,
   * seed, stop (string or array), signal (AbortSignal), logprobs (N: each token event also carries
   * `top`, the N likeliest tokens {id, text, logprob}), attentionLayer (L: token events carry
   * `attention` = { layer, heads: Float32Array[] } over every earlier position). Bad options throw at the call.
   */
  generate(options = {}) {
    this.#alive();
    const { signal, ...rest } = options ?? {};
    const stream = this.#native.generate(rest);  // throws here, at the call, on bad options or prompt
    return this.#run(stream, signal);
  }

  async *#run(stream, signal) {
    const handle = { stream, disposed: false };
    this.#streams.add(handle);
    try {
      for (;;) {
        await yieldToEventLoop();
        if (handle.disposed) throw new Error('argen: the model was disposed during generation');
        if (signal?.aborted) {
          stream.abort();
          break;
        }
        const events = stream.next(1);
        if (events.length === 0) break;
        for (const e of events) yield { type: 'token', ...e };
      }
      yield { type: 'done', finishReason: stream.finishReason(), generated: stream.generated(), promptTokens: stream.promptTokens() };
    } finally {
      if (!handle.disposed) stream.delete();
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

/** Loads a model from a URL, a path (Node), or bytes (Uint8Array / ArrayBuffer). */
export async function loadModel(source, { onProgress, name } = {}) {
  const [m, bytes] = await Promise.all([core(), readSource(source, onProgress)]);
  const label = name ?? (typeof source === 'string' ? source : 'model bytes');
  return new Model(new m.Model(bytes, label));
}

/** Bytes of wasm memory in use by the core (grows, never shrinks): for leak checks and diagnostics. */
export async function wasmMemoryBytes() {
  return (await core()).HEAP8.length;
}
