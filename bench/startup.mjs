// Start-up in a page: headless Chromium opens the demo (scripts/serve.mjs, bundled models) and the
// time from navigation to the first generated token is measured, with an empty browser cache (the
// model downloads) and again after a reload (the model comes from the Cache API). Prints JSON.
import { chromium } from 'playwright-core';
import { startServer } from '../scripts/serve.mjs';

const server = await startServer({ port: 0 });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await (await browser.newContext()).newPage();
const url = `http://127.0.0.1:${server.address().port}/`;
const out = {};
for (const run of ['cold', 'cached']) {
  const t0 = Date.now();
  if (run === 'cold') await page.goto(url); else await page.reload();
  await page.waitForSelector('#panel-text button[name=generate]:not([disabled])', { timeout: 60000 });
  const ready = Date.now() - t0;
  await page.fill('#panel-text [name=maxTokens]', '20');
  await page.click('#panel-text button[name=generate]');
  await page.waitForFunction(() => document.querySelectorAll('#panel-text .tok').length > 0, null, { polling: 5 });
  out[run] = { model_ready_ms: ready, first_token_ms: Date.now() - t0 };
}
console.log(JSON.stringify(out));
await browser.close();
server.close();
