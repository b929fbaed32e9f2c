// Start-up in a page: headless Chromium opens the demo (scripts/serve.mjs, bundled models) and
// measures, on the page's own clock from navigation start, when the text panel's Generate button is
// enabled (the model is loaded) and how long the first generated token then takes to appear after
// the click: with an empty browser cache (the model downloads) and again after a reload (the model
// comes from the Cache API). first_token_ms = model_ready_ms + click-to-first-token: a user who
// clicks the moment the button is enabled. The page clock leaves out the test driver's own round
// trips (its polling for the button and its click took 0.1-0.4 s here). Prints JSON.
import { chromium } from 'playwright-core';
import { startServer } from '../scripts/serve.mjs';

const server = await startServer({ port: 0 });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await (await browser.newContext()).newPage();
// In every document from its start: timestamps (ms since navigation start) of the button's enabling,
// the click (the form's submit) and the first token element.
await page.addInitScript(() => {
  const t = (globalThis.__startup = {});
  document.addEventListener('submit', () => (t.click ??= performance.now()), true);
  new MutationObserver(() => {
    const button = document.querySelector('#panel-text button[name=generate]');
    if (t.ready === undefined && button && !button.disabled) t.ready = performance.now();
    if (t.first === undefined && document.querySelector('#panel-text .tok')) t.first = performance.now();
  }).observe(document, { subtree: true, childList: true, attributes: true });
});
const url = `http://127.0.0.1:${server.address().port}/`;
const out = {};
for (const run of ['cold', 'cached']) {
  if (run === 'cold') await page.goto(url); else await page.reload();
  await page.waitForSelector('#panel-text button[name=generate]:not([disabled])', { timeout: 60000 });
  await page.fill('#panel-text [name=maxTokens]', '20');
  await page.click('#panel-text button[name=generate]');
  await page.waitForFunction(() => globalThis.__startup.first !== undefined, null, { polling: 5, timeout: 60000 });
  const t = await page.evaluate(() => globalThis.__startup);
  out[run] = { model_ready_ms: Math.round(t.ready), first_token_ms: Math.round(t.ready + t.first - t.click) };
}
console.log(JSON.stringify(out));
await browser.close();
server.close();
