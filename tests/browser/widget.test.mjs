// The guest widget in Debian's Chromium, against the real `bellhop serve --demo` on a free
// loopback port with a temporary data directory. Builds nothing: run it after
// `cargo build`, with BELLHOP_BIN pointing at another binary if need be.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { blockingViolations, openPage as openBrowserPage, screenshots, startDemo } from './harness.mjs';

const ANSWER_MS = 30_000;

let demo;
let base;

before(async () => {
  demo = await startDemo();
  base = demo.base;
});

after(async () => {
  await demo?.stop();
});

function openPage(url, contextOptions = {}) {
  return openBrowserPage(demo.browser, url, contextOptions);
}

/** Opens the panel, asks `question`, and waits for the answer to finish. */
async function ask(page, question) {
  const launcher = page.getByTestId('bellhop-launcher');
  if ((await launcher.getAttribute('aria-expanded')) !== 'true') {
    await launcher.click();
  }
  const answers = page.getByTestId('bellhop-message-assistant');
  const before = await answers.count();
  await page.getByTestId('bellhop-input').fill(question);
  await page.getByTestId('bellhop-send').click();
  const answer = answers.nth(before);
  await answer.and(page.locator('[data-state="done"]')).waitFor({ timeout: ANSWER_MS });
  return answer;
}

/** Records, inside the widget, each text an answer shows while it is still streaming. */
async function watchStreaming(page) {
  await page.evaluate(() => {
    const root = document.querySelector('bellhop-widget').shadowRoot;
    window.streamedTexts = [];
    new MutationObserver((records) => {
      for (const record of records) {
        const message = record.target.closest && record.target.closest('[data-testid="bellhop-message-assistant"]');
        if (message && message.dataset.state === 'streaming' && record.type === 'childList') {
          for (const node of record.addedNodes) {
            if (node.nodeType === Node.TEXT_NODE && node.data) {
              window.streamedTexts.push(node.data);
            }
          }
        }
      }
    }).observe(root, { subtree: true, childList: true });
  });
}

test('widget.js stays under 30 kB gzipped', async () => {
  const source = Buffer.from(await (await fetch(`${base}/widget.js`)).arrayBuffer());
  const size = gzipSync(source, { level: 9 }).length;
  assert.ok(size < 30 * 1024, `widget.js is ${size} bytes gzipped`);
});

test('the widget streams an answer from the demo hotel with a citation', async () => {
  const { context, page, errors } = await openPage(`${base}/demo`);
  await watchStreaming(page);
  const answer = await ask(page, 'What time is breakfast served?');
  assert.equal(await answer.getAttribute('data-abstained'), 'false');
  const text = await answer.innerText();
  assert.match(text, /breakfast/i);
  const streamed = await page.evaluate(() => window.streamedTexts);
  assert.ok(streamed.length > 1, `the answer was shown in pieces as it came: ${JSON.stringify(streamed)}`);
  assert.ok(streamed.every((piece, at) => at === 0 || piece.startsWith(streamed[at - 1])), 'each piece extends the last');

  const chip = answer.getByTestId('bellhop-citation').first();
  await chip.click();
  assert.equal(await chip.getAttribute('aria-expanded'), 'true');
  const source = answer.locator('.source');
  assert.ok(await source.isVisible());
  assert.ok((await source.locator('.source-title').innerText()).length > 0);
  assert.ok((await source.locator('.source-text').innerText()).length > 20);
  if (screenshots) {
    await page.setViewportSize({ width: 1200, height: 760 });
    await page.screenshot({ path: path.join(screenshots, 'widget-desktop.png') });
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test('a follow-up question carries the conversation', async () => {
  const { context, page } = await openPage(`${base}/demo`);
  const bodies = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/ask')) {
      bodies.push(request.postDataJSON());
    }
  });
  const first = await ask(page, 'Is there a swimming pool?');
  const firstText = await first.locator('.body').innerText();
  const second = await ask(page, 'Is it heated?');
  assert.equal(bodies.length, 2);
  assert.deepEqual(bodies[0].messages, []);
  assert.deepEqual(bodies[1].messages, [
    { role: 'user', content: 'Is there a swimming pool?' },
    { role: 'assistant', content: firstText }
  ]);
  assert.equal(await second.getAttribute('data-abstained'), 'false');
  assert.match(await second.innerText(), /pool/i);
  await context.close();
});

test('an unanswerable question shows the fallback, marked as such', async () => {
  const { context, page } = await openPage(`${base}/demo`);
  const answer = await ask(page, 'Is there a casino?');
  assert.equal(await answer.getAttribute('data-abstained'), 'true');
  assert.match(await answer.innerText(), /Reception is happy to help/);
  assert.ok(await answer.locator('.notice').isVisible());
  assert.equal(await answer.getByTestId('bellhop-citation').count(), 0);
  await context.close();
});

test('feedback is recorded and read back through the API', async () => {
  const { context, page } = await openPage(`${base}/demo`);
  const question = 'Can I bring my dog?';
  const answer = await ask(page, question);
  const feedback = page.waitForResponse((response) => response.url().endsWith('/feedback'));
  await answer.getByTestId('bellhop-feedback-down').click();
  assert.equal((await feedback).status(), 204);
  assert.equal(await answer.getByTestId('bellhop-feedback-down').getAttribute('aria-pressed'), 'true');
  const response = await fetch(`${base}/v1/collections/demo-hotel/questions?rating=down`);
  assert.equal(response.status, 200);
  const log = await response.json();
  const logged = log.questions.find((entry) => entry.question === question);
  assert.ok(logged, `the question is logged: ${JSON.stringify(log)}`);
  assert.equal(logged.feedback.rating, 'down');
  assert.equal(log.retention_days, 30);
  await context.close();
});

test('a page with hostile CSS and a strict CSP still shows a working widget', async () => {
  const { context, page } = await openPage('about:blank');
  const errors = [];
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  const hostile = `${base}/hostile-page`;
  const hostileCss = `${base}/hostile.css`;
  // Only the page's own stylesheet file and bellhop's script and API are allowed: no inline
  // styles, no inline script, no eval, and not widget.css either.
  const policy = `default-src 'none'; script-src ${base}/widget.js; connect-src ${base}; style-src ${hostileCss}`;
  await page.route(hostile, (route) => route.fulfill({
    contentType: 'text/html',
    headers: { 'Content-Security-Policy': policy },
    body: `<!doctype html><html lang="en"><head><title>Hostile</title><link rel="stylesheet" href="${hostileCss}"></head>
      <body><h1>A site with aggressive styles</h1>
      <script src="${base}/widget.js" data-collection="demo-hotel" data-accent="#7a1f5c" async></script></body></html>`
  }));
  await page.route(hostileCss, (route) => route.fulfill({
    contentType: 'text/css',
    body: `html { font-size: 4px !important; }
      * { font: 40px/3 "Comic Sans MS", cursive !important; color: lime !important; background: black !important;
          box-sizing: content-box !important; letter-spacing: 6px !important; }
      button, input, div, form { display: none !important; visibility: hidden !important; }
      bellhop-widget, body > * { display: none !important; opacity: 0 !important; }
      [data-testid] { display: none !important; }`
  }));
  await page.goto(hostile);
  const launcher = page.getByTestId('bellhop-launcher');
  await launcher.waitFor({ state: 'visible' });
  const box = await launcher.boundingBox();
  assert.ok(box.width >= 50 && box.width <= 60, `the launcher keeps its size: ${JSON.stringify(box)}`);
  const answer = await ask(page, 'Is there parking at the hotel?');
  assert.match(await answer.innerText(), /park/i);
  const font = await page.getByTestId('bellhop-input').evaluate((node) => getComputedStyle(node).fontSize);
  assert.equal(font, '15px');
  const accent = await page.getByTestId('bellhop-send').evaluate((node) => getComputedStyle(node).backgroundColor);
  assert.equal(accent, 'rgb(122, 31, 92)');
  assert.deepEqual(errors.filter((error) => /Content Security Policy/i.test(error)), []);
  await context.close();
});

test('on a 360 px phone the panel takes the whole screen', async () => {
  const { context, page } = await openPage(`${base}/demo`, {
    viewport: { width: 360, height: 740 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2
  });
  const answer = await ask(page, 'What is the Wi-Fi password?');
  assert.ok(await answer.isVisible());
  const panel = await page.locator('.panel').boundingBox();
  assert.deepEqual(panel, { x: 0, y: 0, width: 360, height: 740 });
  for (const testId of ['bellhop-input', 'bellhop-send']) {
    const box = await page.getByTestId(testId).boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 360, `${testId} fits: ${JSON.stringify(box)}`);
  }
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(scrollWidth <= 360, `nothing scrolls sideways: ${scrollWidth}`);
  if (screenshots) {
    await page.screenshot({ path: path.join(screenshots, 'widget-phone.png') });
  }
  await context.close();
});

test('keyboard only: open, trapped focus, Escape closes', async () => {
  const { context, page } = await openPage(`${base}/demo`);
  const launcher = page.getByTestId('bellhop-launcher');
  await launcher.focus();
  await page.keyboard.press('Enter');
  const inWidget = () => page.evaluate(() => {
    const root = document.querySelector('bellhop-widget').shadowRoot;
    const active = root.activeElement;
    return active ? (active.dataset.testid || active.className) : null;
  });
  assert.equal(await inWidget(), 'bellhop-input');
  await page.keyboard.type('مرحبا، هل يوجد مسبح؟');
  await page.keyboard.press('Enter');
  await page.getByTestId('bellhop-message-assistant').and(page.locator('[data-state="done"]')).waitFor({ timeout: ANSWER_MS });
  const userDirection = await page.getByTestId('bellhop-message-user').locator('[dir="auto"]')
    .evaluate((node) => getComputedStyle(node).direction);
  assert.equal(userDirection, 'rtl');
  const panelNodes = new Set();
  for (let step = 0; step < 12; step += 1) {
    await page.keyboard.press('Tab');
    const focused = await inWidget();
    assert.ok(focused, 'focus stays inside the widget');
    assert.notEqual(focused, 'bellhop-launcher', 'focus stays inside the open panel');
    panelNodes.add(focused);
  }
  assert.ok(panelNodes.size >= 3, `tab cycles through the panel: ${[...panelNodes]}`);
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('.panel').isHidden(), true);
  assert.equal(await inWidget(), 'bellhop-launcher');
  assert.equal(await launcher.getAttribute('aria-expanded'), 'false');
  await context.close();
});

test('axe-core finds no serious or critical violation in the open widget', async () => {
  // The page's CSP would refuse the injected axe script; the widget's own code runs as ever.
  const { context, page } = await openPage(`${base}/demo`, { bypassCSP: true });
  const answer = await ask(page, 'How late is check-out?');
  await answer.getByTestId('bellhop-citation').first().click();
  assert.deepEqual(await blockingViolations(page, { include: [['bellhop-widget']] }), []);
  await context.close();
});
