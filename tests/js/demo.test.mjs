// The demo page end to end in headless Chromium (Debian's, via playwright-core), served by
// scripts/serve.mjs with the bundled models, with and without cross-origin isolation: in every
// panel the output grows while generating, Stop halts it within 100 ms, a second generation works,
// the main thread never blocks for 50 ms or more, and nothing is logged as an error. Screenshots
// (desktop and phone) are written to build/e2e/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { requireFile, root } from './helpers.mjs';
import { modelList, startServer } from '../../scripts/serve.mjs';

const shots = path.join(root, 'build/e2e');
mkdirSync(shots, { recursive: true });
const models = await modelList();
const modalities = [...new Set(models.map((m) => m.modality))];

// How much output a panel shows: characters, non-background pixels, or samples generated.
const measure = {
  text: () => document.querySelector('#panel-text .tokens').textContent.length,
  image: () => {  // finished images, then the pixels of the current one
    const c = document.querySelector('#panel-image canvas.live');
    const done = document.querySelector('#panel-image .grid').children.length;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) n += d[i] !== 0xd8 || d[i + 1] !== 0xdc || d[i + 2] !== 0xe3;
    return done * 1e7 + n;
  },
  audio: () => Number(document.querySelector('#panel-audio .audio-status').textContent.split(' ')[0] || 0),
};
// Settings that make each generation long enough to watch and stop.
const settings = {
  text: async (page) => page.fill('#panel-text [name=maxTokens]', '30000'),
  image: async (page) => page.fill('#panel-image [name=count]', '40'),
  audio: async (page) => {
    await page.fill('#panel-audio [name=seconds]', '20');
    await page.uncheck('#panel-audio [name=play]');
  },
};

async function launch() {
  return chromium.launch({
    executablePath: requireFile('/usr/bin/chromium'),
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
}

async function openPage(browser, port, viewport = { width: 1280, height: 800 }) {
  const page = await (await browser.newContext({ viewport })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  // Long tasks (>= 50 ms) on the main thread, recorded from the start.
  await page.addInitScript(() => {
    self.longTasks = [];
    new PerformanceObserver((l) => self.longTasks.push(...l.getEntries().map((e) => e.duration))).observe({ entryTypes: ['longtask'] });
  });
  await page.goto(`http://127.0.0.1:${port}/`);
  return { page, errors };
}

const ready = (page, m) => page.waitForSelector(`#panel-${m} button[name=generate]:not([disabled])`, { timeout: 60000 });
const finished = (page, m) => page.waitForFunction((m) => document.querySelector(`#panel-${m} button[name=stop]`).disabled, m, { timeout: 120000 });

for (const isolation of [true, false]) {
  test(`demo page, ${isolation ? 'cross-origin isolated' : 'not isolated'}: every panel streams, stops and restarts`, async () => {
    assert.ok(modalities.includes('text'), 'a bundled text model');
    const server = await startServer({ port: 0, isolation });
    const browser = await launch();
    try {
      const { page, errors } = await openPage(browser, server.address().port);
      assert.equal(await page.evaluate(() => self.crossOriginIsolated), isolation);
      await ready(page, 'text');  // isolated: the threaded core with all cores but one (if 2 or more)
      const cores = await page.evaluate(() => navigator.hardwareConcurrency);
      assert.match(await page.textContent('#runtime'), isolation && cores > 2 ? /WebAssembly with \d+ threads/ : /single-threaded WebAssembly/);
      for (const m of modalities) {
        await page.click(`#tab-${m}`);
        await ready(page, m);
        await settings[m](page);
        const before = await page.evaluate(() => self.longTasks.length);
        await page.click(`#panel-${m} button[name=generate]`);
        // The output grows while generating.
        await page.waitForFunction(measure[m], null, { timeout: 30000, polling: 20 });
        const a = await page.evaluate(measure[m]);
        await page.waitForTimeout(800);
        const b = await page.evaluate(measure[m]);
        assert.ok(b > a, `${m}: output grows while generating (${a} -> ${b})`);
        if (isolation) {  // (a screenshot itself is a long task of the page: left out of the check)
          const n = await page.evaluate(() => self.longTasks.length);
          await page.screenshot({ path: path.join(shots, `${m}-generating.png`) });
          await page.evaluate((n) => self.longTasks.splice(n), n);
        }
        // Stop: nothing changes from 100 ms after the click on.
        await page.click(`#panel-${m} button[name=stop]`);
        await page.waitForTimeout(100);
        const c = await page.evaluate(measure[m]);
        await page.waitForTimeout(500);
        assert.equal(await page.evaluate(measure[m]), c, `${m}: output still changes 100 ms after Stop`);
        assert.match(await page.textContent(`#panel-${m} .speed`), /stopped/);
        // A second generation after Stop runs to the end.
        if (m === 'text') await page.fill('#panel-text [name=maxTokens]', '60');
        if (m === 'audio') await page.fill('#panel-audio [name=seconds]', '0.5');
        if (m === 'image') await page.fill('#panel-image [name=count]', '2');
        await page.click(`#panel-${m} button[name=generate]`);
        await finished(page, m);
        assert.match(await page.textContent(`#panel-${m} .speed`), /done/);
        assert.ok(await page.evaluate(measure[m]) > 0);
        const long = await page.evaluate((n) => self.longTasks.slice(n), before);
        assert.deepEqual(long, [], `${m}: main-thread tasks of 50 ms or more during generation: ${long.join(", ")} ms`);
        if (isolation) await page.screenshot({ path: path.join(shots, `${m}.png`) });
      }
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      server.close();
    }
  });
}

test('demo page: audio is not silent and at the model\'s sample rate; WAV download', { skip: !modalities.includes('audio') }, async () => {
  const server = await startServer({ port: 0 });
  const browser = await launch();
  try {
    const { page, errors } = await openPage(browser, server.address().port);
    await page.click('#tab-audio');
    await ready(page, 'audio');
    await page.fill('#panel-audio [name=seconds]', '0.5');
    await page.evaluate(() => {  // a fixed seed (in the collapsed sampling options): the same audio every run
      const f = document.querySelector('#panel-audio form');
      f.randomSeed.checked = false;
      f.seed.value = '1';
    });
    await page.click('#panel-audio button[name=generate]');
    await finished(page, 'audio');
    const wav = await page.evaluate(async () => {
      const href = document.querySelector('#panel-audio a.download').href;
      const v = new DataView(await (await fetch(href)).arrayBuffer());
      let peak = 0;
      for (let i = 44; i < v.byteLength; i += 2) peak = Math.max(peak, Math.abs(v.getInt16(i, true)));
      return { rate: v.getUint32(24, true), samples: (v.byteLength - 44) / 2, peak };
    });
    const model = models.find((m) => m.modality === 'audio');
    const info = await page.evaluate(() => document.querySelector('#panel-audio .model-info').textContent);
    assert.ok(info.length > 0);
    assert.equal(wav.samples, Math.round(0.5 * wav.rate));
    assert.ok(wav.peak > 327, `audio is silent (peak ${wav.peak})`);
    assert.ok(model.url);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

test('demo page with ?threads=2 generates with the threaded core when isolated, float32 and int8 weights', async () => {
  const server = await startServer({ port: 0 });
  const browser = await launch();
  try {
    const page = await (await browser.newContext()).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`http://127.0.0.1:${server.address().port}/?threads=2#text`);
    await ready(page, 'text');
    assert.match(await page.textContent('#runtime'), /WebAssembly with 2 threads/);
    await page.fill('#panel-text [name=maxTokens]', '50');
    await page.click('#panel-text button[name=generate]');
    await finished(page, 'text');
    assert.ok((await page.evaluate(measure.text)) > 50);
    assert.match(await page.textContent('#runtime'), /float32 weights/);
    await page.selectOption('#panel-text [name=weights]', 'int8');  // reloads the model as int8
    await page.waitForFunction(() => /int8 weights/.test(document.querySelector('#runtime').textContent));
    await ready(page, 'text');
    await page.click('#panel-text button[name=generate]');
    await finished(page, 'text');
    assert.ok((await page.evaluate(measure.text)) > 50);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

test('demo page: models are cached (a reload fetches none), a failed download is a clear message', async () => {
  const server = await startServer({ port: 0 });
  const browser = await launch();
  try {
    const { page, errors } = await openPage(browser, server.address().port);
    await ready(page, 'text');
    const fetched = [];
    page.on('request', (r) => r.url().includes('/models/') && fetched.push(r.url()));
    await page.reload();
    await ready(page, 'text');
    assert.deepEqual(fetched, [], 'the model was fetched again after a reload');
    // A model URL that fails: the page says so where the model loads.
    await page.route('**/models/kjv-gpt*', (route) => route.fulfill({ status: 503, body: 'busy' }));
    await page.evaluate(() => caches.delete('argen-models'));
    const option = await page.$eval('#panel-text [name=model]', (s) => [...s.options].find((o) => o.value.includes('kjv-gpt'))?.value);
    if (option) {
      await page.selectOption('#panel-text [name=model]', option);
      await page.waitForSelector('#panel-text .error:not([hidden])');
      assert.match(await page.textContent('#panel-text .error'), /Could not load the model: .*HTTP 503/);
      errors.splice(0, errors.length, ...errors.filter((e) => !/503/.test(e)));  // the browser logs the failed request
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

test('demo page: usable on a 390x844 phone screen (no sideways scrolling), labelled controls', async () => {
  const server = await startServer({ port: 0 });
  const browser = await launch();
  try {
    const { page, errors } = await openPage(browser, server.address().port, { width: 390, height: 844 });
    for (const m of modalities) {
      await page.click(`#tab-${m}`);
      await ready(page, m);
      if (m === 'text') await page.fill('#panel-text [name=maxTokens]', '80');
      if (m === 'audio') await page.fill('#panel-audio [name=seconds]', '0.5');
      if (m === 'image') await page.fill('#panel-image [name=count]', '3');
      await page.click(`#panel-${m} button[name=generate]`);
      await finished(page, m);
      assert.ok(await page.evaluate(() => document.scrollingElement.scrollWidth <= 390), `${m}: wider than the screen`);
      await page.screenshot({ path: path.join(shots, `${m}-phone.png`), fullPage: true });
    }
    // Every visible form control has a label.
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('select, input, textarea')]
      .filter((e) => e.offsetParent && !e.closest('label') && !e.getAttribute('aria-label')).map((e) => e.name));
    assert.deepEqual(unlabelled, []);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});
