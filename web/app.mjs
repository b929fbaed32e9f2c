// The demo page: one panel per modality with bundled models (from /models.json). Each panel owns a
// Web Worker (worker.mjs) that loads its model and generates; this thread only draws what arrives.
import { createAudioPlayer, createCanvasPainter, encodeWav } from '/pkg/argen.mjs';

const $ = (root, sel) => root.querySelector(sel);
const h = (tag, props = {}, ...children) => {
  const el = Object.assign(document.createElement(tag), props);
  el.append(...children);
  return el;
};
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const rate = (n, ms) => (ms > 0 ? (n * 1000) / ms : 0);
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

// The first panel's worker starts with the page, while the model list downloads; the panel shown
// first takes it (and any error it had meanwhile), the others start their own when first shown.
const startWorker = () => new Worker(`worker.mjs${location.search}`, { type: 'module' });
let firstWorker = startWorker(), firstWorkerError = null;
firstWorker.onerror = (e) => (firstWorkerError = e);

class Panel {
  constructor(modality, models, defaults) {
    this.modality = modality;
    this.models = models;
    this.el = document.getElementById('panel').content.firstElementChild.cloneNode(true);
    this.form = $(this.el, 'form');
    this.output = $(this.el, '.output');
    this.el.id = `panel-${modality}`;
    this.el.setAttribute('aria-labelledby', `tab-${modality}`);
    this.form.temperature.value = defaults.temperature;
    const select = this.form.model;
    for (const m of models) {
      const params = m.parameters >= 1e6 ? `${(m.parameters / 1e6).toFixed(1)}M` : `${Math.round(m.parameters / 1e3)}k`;
      select.append(h('option', { value: m.url, textContent: `${m.name} · ${m.arch}, ${params} parameters, ${mb(m.bytes)}` }));
    }
    select.onchange = () => this.load();
    this.form.weights.onchange = () => this.load();
    this.form.onsubmit = (e) => (e.preventDefault(), this.start());
    this.form.stop.onclick = () => this.stop();
    this.id = 0;
    this.running = false;
  }

  // The panel's worker and model load when it is first shown (the first one's worker has started).
  show() {
    if (this.worker) return;
    const early = firstWorker;
    firstWorker = null;
    this.worker = early ?? startWorker();
    this.worker.onmessage = ({ data }) => this.message(data);
    this.worker.onerror = (e) => this.error(`worker failed: ${e.message ?? 'unknown error'}`);
    if (early && firstWorkerError) this.worker.onerror(firstWorkerError);
    this.load();
  }

  load() {
    const m = this.models.find((x) => x.url === this.form.model.value);
    this.stop();
    this.info = null;
    this.error(null);
    this.form.generate.disabled = true;
    $(this.el, '.model-info').textContent = [m.description, m.trainedOn && `Trained on: ${m.trainedOn}.`].filter(Boolean).join(' ');
    const bar = $(this.el, '.load');
    bar.hidden = false;
    $(bar, 'progress').value = 0;
    $(bar, '.load-text').textContent = `loading ${m.name}…`;
    this.worker.postMessage({ type: 'load', url: m.url, weights: this.form.weights.value });
  }

  message(d) {
    if (d.type === 'progress') {
      const bar = $(this.el, '.load');
      $(bar, 'progress').value = d.total ? d.loaded / d.total : 0;
      $(bar, '.load-text').textContent = `${mb(d.loaded)} of ${d.total ? mb(d.total) : '?'}`;
    } else if (d.type === 'loaded') {
      $(this.el, '.load').hidden = true;
      this.info = d.info;
      this.form.generate.disabled = false;
      $(document, '#runtime').textContent = `${self.crossOriginIsolated ? 'cross-origin isolated' : 'not cross-origin isolated'} · ` +
        (d.threads > 1 ? `WebAssembly with ${d.threads} threads` : 'single-threaded WebAssembly') +
        ` · ${d.info.weights === 'int8' ? 'int8' : 'float32'} weights`;
      this.loaded(d.info);
    } else if (d.type === 'error') {
      if (d.url) $(this.el, '.load').hidden = true;
      if (d.id === undefined || d.id === this.id) this.finish();
      this.error(d.url ? `Could not load the model: ${d.message}` : d.message);
    } else if (d.type === 'events' && d.id === this.id && this.running) {
      const done = d.events.at(-1)?.type === 'done' ? d.events.pop() : null;
      if (d.events.length) this.events(d.events);
      this.showSpeed();
      if (done && !this.again(done)) this.finish(done);
    }
  }

  start() {
    if (!this.info) return;
    this.stop();
    this.error(null);
    const f = this.form;
    if (f.randomSeed.checked) f.seed.value = Math.floor(Math.random() * 1e9);
    const options = {
      seed: Number(f.seed.value) || 0, temperature: Number(f.temperature.value), topK: Number(f.topK.value) || 0,
      topP: Number(f.topP.value) || 1, ...this.options(),
    };
    this.id++;
    this.running = true;
    this.count = 0;
    this.t0 = performance.now();
    f.stop.disabled = false;
    this.options_ = options;
    this.begin(options);
    this.worker.postMessage({ type: 'generate', id: this.id, options });
  }

  // Panels that generate a series (images) start the next one here and return true.
  again() { return false; }

  // Stops drawing at once (events still in flight are dropped) and asks the worker to abort.
  stop() {
    if (!this.running) return;
    this.worker.postMessage({ type: 'stop' });
    this.finish({ finishReason: 'abort' });
  }

  finish(done) {
    if (!this.running) return;
    this.running = false;
    this.form.stop.disabled = true;
    this.end(done);
    this.showSpeed(done ? (done.finishReason === 'abort' ? ' · stopped' : ' · done') : '');
  }

  showSpeed(suffix = '') {
    const ms = performance.now() - this.t0;
    $(this.el, '.speed').value = this.count ? `${this.speed(this.count, ms)}${suffix}` : suffix.replace(' · ', '');
  }

  error(message) {
    const p = $(this.el, '.error');
    p.hidden = !message;
    p.textContent = message ?? '';
  }

  // Per modality:
  loaded() {}
  options() { return {}; }
  begin() {}
  events() {}
  end() {}
  speed() { return ''; }
}

class TextPanel extends Panel {
  constructor(models) {
    super('text', models, { temperature: 0.8 });
    $(this.form, '.modality-controls').append(
      h('label', { className: 'wide' }, 'Prompt', h('textarea', { name: 'prompt', rows: 2, value: 'And it came to pass' })),
      h('label', {}, 'Length (tokens) ', h('input', { name: 'maxTokens', type: 'number', min: 1, max: 100000, value: 300 })),
      h('label', { className: 'attention-toggle' }, h('input', { name: 'attention', type: 'checkbox' }), ' show attention'),
    );
    this.text = h('div', { className: 'tokens', tabIndex: 0, role: 'log', ariaLabel: 'Generated text. Arrow keys move between tokens.' });
    this.tip = h('div', { className: 'tip', role: 'tooltip', hidden: true });
    this.output.append(
      h('p', { className: 'legend' }, 'Each token is shaded by how unlikely the model found it (white: certain, orange: a surprise). Hover or focus a token for the alternatives.'),
      this.text, this.tip);
    this.text.addEventListener('mouseover', (e) => e.target.dataset.i !== undefined && this.inspect(e.target));
    this.text.addEventListener('focusin', (e) => e.target.dataset.i !== undefined && this.inspect(e.target));
    this.text.addEventListener('mouseleave', () => (this.tip.hidden = true));
    this.text.addEventListener('keydown', (e) => this.key(e));
  }

  loaded(info) {
    const t = $(this.form, '.attention-toggle');
    t.hidden = !info.attentionLayers;
    this.form.attention.checked &&= !!info.attentionLayers;
  }

  options() {
    const o = { prompt: this.form.prompt.value, maxTokens: Math.max(1, Number(this.form.maxTokens.value) || 1), logprobs: 5 };
    if (this.form.attention.checked && this.info.attentionLayers) o.attentionLayer = this.info.attentionLayers - 1;
    return o;
  }

  // Text goes into one block per line, so each append lays out the last line only (one paragraph
  // of thousands of spans would be laid out whole on every frame).
  begin(options) {
    this.tokens = [];
    this.tip.hidden = true;
    this.text.replaceChildren();
    this.line = null;
    const lines = options.prompt.split('\n');
    lines.forEach((l, i) => {
      this.newLine().append(h('span', { className: 'prompt', textContent: l }));
      if (i < lines.length - 1) this.line.append(h('span', { className: 'nl', textContent: '↵' }));
    });
  }

  newLine() {
    this.line = h('div', { className: 'line' });
    this.text.append(this.line);
    return this.line;
  }

  events(events) {
    for (const ev of events) {
      const p = Math.exp(ev.logprob);
      const parts = ev.text.split('\n');  // a newline shows as ↵ (with its shading) and ends the line
      const span = h('span', { className: 'tok', textContent: parts.join('↵\n').replace(/\n/g, ''), tabIndex: -1 });
      span.dataset.i = this.tokens.length;
      span.style.backgroundColor = `hsla(32, 100%, 55%, ${(1 - p) * 0.85})`;
      this.tokens.push({ ...ev, span });
      this.line.append(span);
      if (parts.length > 1) this.newLine();
      this.count++;
    }
    // Follow the end of the text unless the reader scrolled up; reading the layout once per frame.
    const follow = this.text.scrollTop + this.text.clientHeight >= this.text.scrollHeight - 24;
    const last = this.tokens.at(-1);
    if (last?.attention) this.shadeAttention(this.tokens.length - 1);
    if (follow && !this.scrolling) {
      this.scrolling = true;
      requestAnimationFrame(() => ((this.text.scrollTop = this.text.scrollHeight), (this.scrolling = false)));
    }
  }

  speed(n, ms) { return `${fmt(rate(n, ms))} tokens/s`; }

  // Underlines the earlier tokens by the attention (mean over heads) that predicted token i.
  shadeAttention(i) {
    const att = this.tokens[i]?.attention;
    if (!att) return;
    const positions = att.heads[0].length, prompt = positions - i;
    const mean = new Float32Array(positions);
    for (const row of att.heads) row.forEach((w, j) => (mean[j] += w / att.heads.length));
    const max = Math.max(...mean);
    this.tokens.forEach((t, k) => {
      const w = k < i ? mean[prompt + k] / max : 0;
      t.span.style.boxShadow = w > 0.02 ? `inset 0 -3px 0 rgba(40, 90, 220, ${w})` : '';
    });
    const promptWeight = mean.slice(0, prompt).reduce((a, b) => a + b, 0);
    for (const el of this.text.querySelectorAll('.prompt')) el.style.boxShadow = `inset 0 -3px 0 rgba(40, 90, 220, ${Math.min(1, promptWeight)})`;
  }

  inspect(span) {
    const t = this.tokens[Number(span.dataset.i)];
    if (!t) return;
    const show = (s) => JSON.stringify(s).slice(1, -1) || '∅';
    this.tip.replaceChildren(
      h('div', {}, h('b', { textContent: show(t.text) }), ` p = ${Math.exp(t.logprob).toFixed(3)}`),
      h('ol', {}, ...(t.top ?? []).map((a) => h('li', {}, h('code', { textContent: show(a.text) }), ` ${Math.exp(a.logprob).toFixed(3)}`))));
    if (t.attention) {
      this.tip.append(h('div', { className: 'hint', textContent: 'underlined: attention that predicted this token' }));
      this.shadeAttention(Number(span.dataset.i));
    }
    const r = span.getBoundingClientRect(), o = this.output.getBoundingClientRect();
    this.tip.style.left = `${Math.min(r.left - o.left, o.width - 200)}px`;
    this.tip.style.top = `${r.bottom - o.top + 4}px`;
    this.tip.hidden = false;
  }

  key(e) {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    const cur = Number(document.activeElement?.dataset?.i ?? -1);
    const next = Math.max(0, Math.min(this.tokens.length - 1, cur + (e.key === 'ArrowRight' ? 1 : -1)));
    this.tokens[next]?.span.focus();
    e.preventDefault();
  }
}

class ImagePanel extends Panel {
  constructor(models) {
    super('image', models, { temperature: 1 });
    $(this.form, '.modality-controls').append(
      h('label', { className: 'label-pick' }, 'Class ', h('select', { name: 'label' })),
      h('label', {}, 'Images ', h('input', { name: 'count', type: 'number', min: 1, max: 100, value: 4 })),
    );
    this.canvas = h('canvas', { className: 'live', role: 'img', ariaLabel: 'Image being generated' });
    this.grid = h('div', { className: 'grid', ariaLabel: 'Finished samples' });
    this.output.append(h('div', { className: 'image-row' }, this.canvas, this.grid));
  }

  loaded(info) {
    const sel = this.form.label;
    const keep = sel.value;
    sel.replaceChildren(...Array.from({ length: info.numLabels }, (_, i) => h('option', { value: i, textContent: info.labels[i] ?? `class ${i}` })));
    if (keep && keep < info.numLabels) sel.value = keep;
    $(this.form, '.label-pick').hidden = !info.numLabels;
    this.painter = createCanvasPainter(this.canvas, info, { scale: Math.max(1, Math.floor(280 / info.width)) });
  }

  options() { return this.info.numLabels ? { label: Number(this.form.label.value) } : {}; }

  begin(options) {
    this.left ??= 0;
    if (options) this.left = Math.max(1, Number(this.form.count.value) || 1);
    const ctx = this.canvas.getContext('2d');
    ctx.fillStyle = '#d8dce3';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  events(events) {
    for (const ev of events) {
      this.painter.draw(ev);
      if (ev.type === 'pixel') this.count++;
    }
  }

  // The next image of the series, with the next seed.
  again(done) {
    this.end(done);
    if (--this.left <= 0) return false;
    this.options_.seed++;
    this.begin();
    this.worker.postMessage({ type: 'generate', id: this.id, options: this.options_ });
    return true;
  }

  end(done) {
    if (done?.finishReason !== 'length' || done === this.thumbed) return;
    this.thumbed = done;
    const { width, height } = this.info;
    const thumb = h('canvas', { width: width * 2, height: height * 2, title: this.info.labels[this.form.label.value] ?? '' });
    thumb.getContext('2d').drawImage(this.canvas, 0, 0, width * 2, height * 2);
    this.grid.prepend(h('figure', {}, thumb, h('figcaption', { textContent: thumb.title })));
    while (this.grid.children.length > 24) this.grid.lastChild.remove();
  }

  speed(n, ms) { return `${fmt(rate(n, ms))} pixels/s`; }
}

class AudioPanel extends Panel {
  constructor(models) {
    super('audio', models, { temperature: 1 });
    $(this.form, '.modality-controls').append(
      h('label', { className: 'label-pick' }, 'Voice or instrument ', h('select', { name: 'speaker' })),
      h('label', {}, 'Length (seconds) ', h('input', { name: 'seconds', type: 'number', min: 0.1, max: 60, step: 0.1, value: 3 })),
      h('label', {}, h('input', { name: 'play', type: 'checkbox', checked: true }), ' play while generating'),
    );
    this.wave = h('canvas', { className: 'wave', width: 720, height: 140, role: 'img', ariaLabel: 'Waveform of the generated audio' });
    this.download = h('a', { className: 'download', textContent: 'Download WAV', hidden: true });
    this.status = h('p', { className: 'audio-status', ariaLive: 'polite' });
    this.output.append(this.wave, h('div', { className: 'audio-row' }, this.status, this.download));
  }

  loaded(info) {
    const sel = this.form.speaker;
    sel.replaceChildren(...Array.from({ length: info.numLabels }, (_, i) => h('option', { value: i, textContent: info.labels[i] ?? `speaker ${i}` })));
    $(this.form, '.label-pick').hidden = !info.numLabels;
  }

  options() {
    const o = { seconds: Math.max(0.1, Number(this.form.seconds.value) || 1), chunkSize: 512 };
    if (this.info.numLabels) o.speaker = Number(this.form.speaker.value);
    return o;
  }

  begin(options) {
    this.chunks = [];
    this.total = Math.round(options.seconds * this.info.sampleRate);
    this.download.hidden = true;
    if (this.download.href) URL.revokeObjectURL(this.download.href);
    this.player = null;
    if (this.form.play.checked) {
      this.context ??= new AudioContext({ sampleRate: this.info.sampleRate });
      this.context.resume();
      this.player = createAudioPlayer(this.context, { sampleRate: this.info.sampleRate });
    }
    const ctx = this.wave.getContext('2d');
    ctx.fillStyle = '#f4f6f9';
    ctx.fillRect(0, 0, this.wave.width, this.wave.height);
    ctx.fillStyle = '#3558c7';
  }

  events(events) {
    const ctx = this.wave.getContext('2d'), { width, height } = this.wave, per = this.total / width;
    for (const ev of events) {
      if (ev.type !== 'audio') continue;
      const from = this.count;
      this.chunks.push(ev.samples);
      this.count += ev.samples.length;
      this.player?.push(ev.samples);
      // The columns this chunk covers: min..max of its samples.
      for (let x = Math.floor(from / per); x < Math.min(width, Math.ceil(this.count / per)); x++) {
        let lo = 1, hi = -1;
        for (let i = Math.max(from, Math.floor(x * per)); i < Math.min(this.count, Math.floor((x + 1) * per)); i++) {
          const s = ev.samples[i - from];
          lo = Math.min(lo, s), hi = Math.max(hi, s);
        }
        if (hi >= lo) ctx.fillRect(x, ((1 - hi) * height) / 2, 1, Math.max(1, ((hi - lo) * height) / 2));
      }
    }
  }

  end(done) {
    if (done?.finishReason === 'abort') this.player?.stop();
    if (!this.count) return;
    const all = new Float32Array(this.count);
    this.chunks.reduce((at, c) => (all.set(c, at), at + c.length), 0);
    this.download.href = URL.createObjectURL(new Blob([encodeWav(all, this.info.sampleRate)], { type: 'audio/wav' }));
    this.download.download = `argen-${this.info.name || 'audio'}.wav`;
    this.download.hidden = false;
  }

  speed(n, ms) {
    const r = rate(n, ms), rtf = r / this.info.sampleRate;
    this.status.textContent = `${(n / this.info.sampleRate).toFixed(2)} s generated` +
      (this.player ? ` · ${this.player.underruns} underrun${this.player.underruns === 1 ? '' : 's'}` : '');
    return `${fmt(r)} samples/s · ${rtf.toFixed(2)}× real time`;
  }
}

const kinds = { text: ['Text', TextPanel], image: ['Images', ImagePanel], audio: ['Audio', AudioPanel] };

async function main() {
  $(document, '#runtime').textContent = self.crossOriginIsolated ? 'cross-origin isolated' : 'not cross-origin isolated';
  const tabs = $(document, '#tabs'), main = $(document, 'main');
  let models;
  try {
    const res = await fetch('/models.json');
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    models = await res.json();
  } catch (e) {
    main.append(h('p', { className: 'error', role: 'alert', textContent: `Could not read the model list: ${e.message}` }));
    firstWorker.terminate();
    return;
  }
  const panels = [];
  for (const [modality, [title, Kind]] of Object.entries(kinds)) {
    const list = models.filter((m) => m.modality === modality);
    if (!list.length) continue;  // a panel appears when its models exist
    const panel = new Kind(list);
    const tab = h('button', { id: `tab-${modality}`, role: 'tab', textContent: title, type: 'button' });
    tab.setAttribute('aria-controls', panel.el.id);
    panels.push({ tab, panel });
    tabs.append(tab);
    main.append(panel.el);
  }
  const select = (i) => {
    panels.forEach(({ tab, panel }, k) => {
      tab.setAttribute('aria-selected', String(k === i));
      tab.tabIndex = k === i ? 0 : -1;
      panel.el.hidden = k !== i;
    });
    panels[i].panel.show();
    history.replaceState(null, '', `#${panels[i].panel.modality}`);
  };
  panels.forEach(({ tab }, i) => {
    tab.onclick = () => select(i);
    tab.onkeydown = (e) => {
      const d = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (!d) return;
      const j = (i + d + panels.length) % panels.length;
      select(j);
      panels[j].tab.focus();
    };
  });
  const start = panels.findIndex(({ panel }) => `#${panel.modality}` === location.hash);
  select(Math.max(0, start));
}

main();
