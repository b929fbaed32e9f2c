// Image and audio generation through the JS API (wasm build): events, options, errors, and the
// same output as the native CLI for the same seed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { argen, collect, goldenCases, nativeBin, requireFile } from './helpers.mjs';

const tmp = mkdtempSync(path.join(tmpdir(), 'argen-media-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const images = goldenCases().filter((g) => g.arch === 'pixelcnn' || g.arch === 'pixelrnn');
const audios = goldenCases().filter((g) => g.arch === 'wavenet');

// The pixels of an 8-bit PNG (any zlib stream; filter type 0 rows, which is what argen writes).
function readPng(file) {
  const b = readFileSync(file);
  const width = b.readUInt32BE(16), height = b.readUInt32BE(20), channels = { 0: 1, 2: 3, 6: 4 }[b[25]];
  const idat = [];
  for (let o = 8; o < b.length;) {
    const n = b.readUInt32BE(o), type = b.toString('latin1', o + 4, o + 8);
    if (type === 'IDAT') idat.push(b.subarray(o + 8, o + 8 + n));
    o += 12 + n;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const px = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * (width * channels + 1)], 0, 'filter type 0');
    px.set(raw.subarray(y * (width * channels + 1) + 1, (y + 1) * (width * channels + 1)), y * width * channels);
  }
  return { width, height, channels, px };
}

test('image models: the same seed gives the same image natively (PNG) and in wasm', async () => {
  assert.ok(images.length >= 4);
  for (const g of images) {
    const m = await argen.loadModel(g.file);
    const { width, height, channels, vocabSize: L } = m.info;
    const opts = { seed: 5, temperature: 1, ...(g.label === null ? {} : { label: g.label }) };
    const events = await collect(m.generate(opts));
    m.dispose();
    const pixels = events.filter((e) => e.type === 'pixel');
    assert.equal(pixels.length, width * height * channels, g.name);
    const wasm = Uint8Array.from(pixels, (e) => Math.round((e.value * 255) / (L - 1)));
    const out = path.join(tmp, `${g.name}.png`);
    const args = ['generate', '--model', g.file, '--out', out, '--seed', '5', '--temperature', '1'];
    if (g.label !== null) args.push('--label', String(g.label));
    execFileSync(requireFile(nativeBin), args, { stdio: 'ignore' });
    const png = readPng(out);
    assert.deepEqual([png.width, png.height, png.channels], [width, height, channels], g.name);
    assert.deepEqual(png.px, wasm, g.name);
  }
});

test('image streams: a pixel event per level in raster order, a row event per row, prefix kept', async () => {
  const g = images.find((c) => c.label !== null);
  const m = await argen.loadModel(g.file);
  const { width: W, height: H, channels: C, vocabSize: L, numLabels } = m.info;
  assert.ok(numLabels > 0);
  const events = await collect(m.generate({ label: 0, seed: 1 }));
  const pixels = events.filter((e) => e.type === 'pixel'), rows = events.filter((e) => e.type === 'row');
  pixels.forEach((e, i) => {
    assert.deepEqual([e.y, e.x, e.channel], [Math.floor(i / (W * C)), Math.floor(i / C) % W, i % C]);
    assert.ok(e.value >= 0 && e.value < L && e.logprob <= 0 && !e.prefix);
  });
  assert.deepEqual(rows.map((r) => r.y), [...Array(H).keys()]);
  rows.forEach((r) => assert.deepEqual([...r.values], pixels.slice(r.y * W * C, (r.y + 1) * W * C).map((e) => e.value)));
  const last = events.at(-1);
  assert.deepEqual([last.type, last.finishReason, last.generated], ['done', 'length', W * H * C]);
  // Completing the top two rows: they come back as given, the rest is sampled.
  const prefix = pixels.slice(0, 2 * W * C).map((e) => (e.value + 1) % L);
  const done = await collect(m.generate({ label: 0, seed: 1, prefix }));
  const px2 = done.filter((e) => e.type === 'pixel');
  assert.deepEqual(px2.slice(0, prefix.length).map((e) => e.value), prefix);
  assert.ok(px2.slice(0, prefix.length).every((e) => e.prefix) && !px2[prefix.length].prefix);
  assert.equal(done.at(-1).generated, W * H * C - prefix.length);
  // Abort after the first row: the stream ends with finishReason 'abort'.
  const ac = new AbortController();
  const cut = [];
  for await (const e of m.generate({ label: 0, signal: ac.signal })) {
    cut.push(e);
    if (e.type === 'row') ac.abort();
  }
  assert.equal(cut.at(-1).finishReason, 'abort');
  assert.ok(cut.filter((e) => e.type === 'pixel').length < W * H * C);
  m.dispose();
});

test('image options: bad labels, prefixes and unknown options throw at the call, naming the problem', async () => {
  const g = images.find((c) => c.label !== null);
  const m = await argen.loadModel(g.file);
  const n = m.info.numLabels;
  assert.throws(() => m.generate({}), /class-conditional/);
  assert.throws(() => m.generate({ label: n }), new RegExp(`label ${n} is out of range`));
  assert.throws(() => m.generate({ label: 'no such class' }), /no label named 'no such class'/);
  assert.throws(() => m.generate({ label: 0, prefix: [1, 2, 3] }), /prefix has 3 levels/);
  assert.throws(() => m.generate({ label: 0, prefix: 'abc' }), /prefix' must be an array/);
  assert.throws(() => m.generate({ label: 0, maxTokens: 3 }), /unknown generate option 'maxTokens'/);
  if (m.info.labels.length) {  // a label by name
    const a = await collect(m.generate({ label: m.info.labels[1], seed: 2 }));
    const b = await collect(m.generate({ label: 1, seed: 2 }));
    assert.deepEqual(a.map((e) => e.value), b.map((e) => e.value));
  }
  m.dispose();
});

test('audio models: the same seed gives the same samples natively (WAV) and in wasm, any chunk size', async () => {
  assert.ok(audios.length >= 3);
  for (const g of audios) {
    const m = await argen.loadModel(g.file);
    const speaker = g.speaker === null ? {} : { speaker: g.speaker };
    const events = await collect(m.generate({ samples: 500, seed: 3, chunkSize: 128, ...speaker }));
    const chunks = events.filter((e) => e.type === 'audio');
    assert.ok(chunks.every((c) => c.sampleRate === m.info.sampleRate && c.samples instanceof Float32Array && c.samples.length <= 128));
    const all = new Float32Array(chunks.reduce((n, c) => n + c.samples.length, 0));
    chunks.reduce((at, c) => (all.set(c.samples, at), at + c.samples.length), 0);
    assert.equal(all.length, 500);
    assert.ok(all.some((x) => Math.abs(x) > 1e-3), 'not silent');
    const other = await collect(m.generate({ samples: 500, seed: 3, chunkSize: 10000, ...speaker }));
    assert.deepEqual(other.find((e) => e.type === 'audio').samples, all);
    assert.deepEqual(events.at(-1), { type: 'done', finishReason: 'length', generated: 500 });
    const out = path.join(tmp, `${g.name}.wav`);
    const args = ['generate', '--model', g.file, '--out', out, '--samples', '500', '--seed', '3', '--temperature', '1'];
    if (g.speaker !== null) args.push('--speaker', String(g.speaker));
    execFileSync(requireFile(nativeBin), args, { stdio: 'ignore' });
    assert.deepEqual(new Uint8Array(readFileSync(out)), argen.encodeWav(all, m.info.sampleRate), g.name);
    m.dispose();
  }
});

test('audio options: bad speakers and priming audio throw at the call, naming the problem', async () => {
  const g = audios.find((c) => c.speaker !== null);
  const m = await argen.loadModel(g.file);
  const n = m.info.numLabels;
  assert.throws(() => m.generate({}), /speaker-conditioned/);
  assert.throws(() => m.generate({ speaker: n }), new RegExp(`speaker ${n} is out of range`));
  assert.throws(() => m.generate({ speaker: 0, priming: new Float32Array([0, NaN]) }), /priming sample 1 is NaN/);
  assert.throws(() => m.generate({ speaker: 0, priming: new Float32Array(4), primingSampleRate: 8000 }), /8000 Hz/);
  assert.throws(() => m.generate({ speaker: 0, priming: [0, 1] }), /Float32Array/);
  assert.throws(() => m.generate({ speaker: 0, seconds: 1, samples: 5 }), /not both/);
  assert.throws(() => m.generate({ speaker: 0, chunkSize: 0 }), /chunkSize/);
  // Priming changes what follows; the priming audio itself is not repeated.
  const a = await collect(m.generate({ speaker: 0, samples: 64, seed: 1 }));
  const b = await collect(m.generate({ speaker: 0, samples: 64, seed: 1, priming: new Float32Array([0.3, -0.3, 0.2]) }));
  assert.equal(b[0].samples.length, 64);
  assert.notDeepEqual(a[0].samples, b[0].samples);
  m.dispose();
});

test('createCanvasPainter draws each pixel as a scaled square once its channels are in', async () => {
  const g = images.find((c) => c.label !== null);
  const m = await argen.loadModel(g.file);
  const rects = [];
  const ctx = { fillStyle: '', fillRect: (x, y, w, h) => rects.push([x, y, w, h, ctx.fillStyle]) };
  const canvas = { getContext: () => ctx };
  const painter = argen.createCanvasPainter(canvas, m.info, { scale: 3 });
  const { width: W, height: H, channels: C, vocabSize: L } = m.info;
  assert.deepEqual([canvas.width, canvas.height], [3 * W, 3 * H]);
  const pixels = [];
  for await (const e of m.generate({ label: 1, seed: 4 })) {
    painter.draw(e);
    if (e.type === 'pixel') pixels.push(e);
  }
  assert.equal(rects.length, W * H);
  const v = (e) => Math.round((e.value * 255) / (L - 1));
  const [r, gg, b] = pixels.slice(C * (W + 1), C * (W + 2));  // pixel (1, 1)
  const want = C === 1 ? [v(r), v(r), v(r)] : [v(r), v(gg), v(b)];
  assert.deepEqual(rects[W + 1], [3, 3, 3, 3, `rgba(${want.join(',')},1)`]);
  m.dispose();
});

test('encodeWav writes a 16-bit PCM mono RIFF file', () => {
  const wav = argen.encodeWav(new Float32Array([0, 1, -1, 2, 0.5]), 16000);
  const v = new DataView(wav.buffer);
  assert.equal(new TextDecoder().decode(wav.subarray(0, 4)), 'RIFF');
  assert.equal(v.getUint32(24, true), 16000);
  assert.equal(v.getUint16(34, true), 16);
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => v.getInt16(44 + 2 * i, true)), [0, 32767, -32767, 32767, 16384]);
});

test('createAudioPlayer schedules chunks back to back, counts underruns and buffers longer after each', () => {
  const starts = [];
  const ctx = {
    currentTime: 10, sampleRate: 48000, destination: {},
    createBuffer: (ch, n, rate) => ({ duration: n / rate, copyToChannel() {} }),
    createBufferSource: () => ({ connect() {}, start: (t) => starts.push(t), stop() {} }),
  };
  const player = argen.createAudioPlayer(ctx, { sampleRate: 16000, latency: 0.1 });
  for (let i = 0; i < 4; i++) {
    player.push(new Float32Array(1600));  // 0.1 s each, produced faster than real time
    ctx.currentTime += 0.05;
  }
  assert.deepEqual(starts.map((t) => +t.toFixed(6)), [10.1, 10.2, 10.3, 10.4]);  // gap-free
  assert.equal(player.underruns, 0);
  assert.ok(Math.abs(player.bufferedSeconds - 0.3) < 1e-9);
  ctx.currentTime = 11;  // the queue ran dry: restart later, with twice the latency
  player.push(new Float32Array(1600));
  assert.equal(player.underruns, 1);
  assert.equal(+starts.at(-1).toFixed(6), 11.2);
  ctx.currentTime = 12;
  player.push(new Float32Array(1600));
  assert.equal(player.underruns, 2);
  assert.equal(+starts.at(-1).toFixed(6), 12.4);
});
