// The staff console at /admin in Debian's Chromium, against the real `bellhop serve --demo`:
// signing in, uploading a document by drag and drop, trying a question, answering an
// unanswered question from the insights, the conversation log, keyboard use and axe-core.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { blockingViolations, openPage, screenshots, startDemo, startServer } from './harness.mjs';

const ANSWER_MS = 30_000;
const UPLOAD_MS = 60_000;

const KITE_PAGE = `# Kite surfing lessons

The hotel's water sports desk on the beach offers kite surfing lessons from May to September.
A two-hour beginner kite surfing lesson costs EUR 85 per person, board and kite included.
Book kite surfing lessons at reception the day before.
`;
const UNANSWERED = 'Is there a bowling alley?';
const BOWLING_ANSWER = 'Yes: the Harbour Lanes bowling alley on the lower ground floor has four lanes, open daily from 16:00 to 23:00. A lane costs EUR 20 per hour.';

let demo;
let base;

before(async () => {
  demo = await startDemo();
  base = demo.base;
});

after(async () => {
  await demo?.stop();
});

/** Asks the demo hotel as the widget does. */
async function ask(question) {
  const response = await fetch(`${base}/v1/collections/demo-hotel/ask`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ question })
  });
  assert.equal(response.status, 200);
  return response.json();
}

/** Asks the demo hotel in the guest widget on the demo page, as a guest does. */
async function askWidget(question) {
  const { context, page } = await openPage(demo.browser, `${base}/demo`);
  await page.getByTestId('bellhop-launcher').click();
  await page.getByTestId('bellhop-input').fill(question);
  await page.getByTestId('bellhop-send').click();
  const answer = page.getByTestId('bellhop-message-assistant').last();
  await answer.and(page.locator('[data-state="done"]')).waitFor({ timeout: ANSWER_MS });
  const shown = {
    text: await answer.innerText(),
    abstained: await answer.getAttribute('data-abstained'),
    citations: await answer.getByTestId('bellhop-citation').count()
  };
  await context.close();
  return shown;
}

/** Opens the console and waits until it has listed the collections. */
async function openConsole(contextOptions) {
  const opened = await openPage(demo.browser, `${base}/admin`, contextOptions);
  await opened.page.locator('tr[data-collection="demo-hotel"]').waitFor();
  return opened;
}

/** Drops files on the console's drop zone, as a drag from the desktop does. */
async function dropFiles(page, files) {
  const dataTransfer = await page.evaluateHandle((contents) => {
    const transfer = new DataTransfer();
    for (const { name, type, text } of contents) {
      transfer.items.add(new File([text], name, { type }));
    }
    return transfer;
  }, files);
  await page.getByTestId('drop-zone').dispatchEvent('dragover', { dataTransfer });
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer });
}

function cspErrors(errors) {
  return errors.filter((error) => /Content Security Policy|Refused to/i.test(error));
}

test('sign out, and sign in again with the empty key of a server without keys', async () => {
  const { context, page, errors } = await openConsole();
  // No key configured on loopback: the console signed in on its own.
  assert.match(await page.locator('#who').innerText(), /no keys/);
  await page.getByTestId('sign-out').click();
  assert.ok(await page.getByTestId('api-key').isVisible());
  assert.ok(await page.locator('#app').isHidden());
  assert.equal(await page.evaluate(() => sessionStorage.getItem('bellhop.console.key')), null);
  await page.getByTestId('sign-in').click();
  await page.locator('#app').waitFor();
  const row = page.locator('tr[data-collection="demo-hotel"]');
  await row.waitFor();
  const cells = await row.locator('td').allInnerTexts();
  assert.ok(Number(cells[0]) > 10, `documents: ${cells}`);
  assert.ok(Number(cells[1]) >= Number(cells[0]), `chunks: ${cells}`);
  assert.match(cells[2], /MiniLM/);
  await page.waitForFunction(() => !document.querySelector('[data-testid="collection-updated"]').textContent.includes('…'));
  assert.doesNotMatch(await row.getByTestId('collection-updated').innerText(), /never|—/);
  assert.deepEqual(cspErrors(errors), []);
  await context.close();
});

test('collections are created and deleted after a confirmation', async () => {
  const { context, page } = await openConsole();
  await page.getByLabel('New collection').fill('scratch-pad');
  await page.getByRole('button', { name: 'Create' }).click();
  const row = page.locator('tr[data-collection="scratch-pad"]');
  await row.waitFor();
  await row.getByRole('button', { name: 'Delete collection scratch-pad' }).click();
  const dialog = page.getByRole('dialog');
  assert.match(await dialog.innerText(), /scratch-pad/);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  assert.equal(await row.count(), 1, 'cancelled: still there');
  await row.getByRole('button', { name: 'Delete collection scratch-pad' }).click();
  await dialog.getByTestId('confirm-delete').click();
  await row.waitFor({ state: 'detached' });
  await page.getByLabel('New collection').fill('no spaces allowed');
  await page.getByRole('button', { name: 'Create' }).click();
  assert.match(await page.locator('#collections-message').innerText(), /letters, digits/);
  await context.close();
});

test('an uploaded document answers, and an unanswered question gets an answer from the insights', async () => {
  const { context, page, errors } = await openConsole();
  await page.locator('tr[data-collection="demo-hotel"]').getByRole('button', { name: 'demo-hotel', exact: true }).click();

  // Two files dropped at once: one is read, one is refused, each shown by its name.
  await dropFiles(page, [
    { name: 'kite-surfing.md', type: 'text/markdown', text: KITE_PAGE },
    { name: 'floor-plan.xyz', type: 'application/octet-stream', text: 'not a document' }
  ]);
  const kite = page.locator('[data-testid="uploads"] li[data-file="kite-surfing.md"]');
  const refused = page.locator('[data-testid="uploads"] li[data-file="floor-plan.xyz"]');
  await kite.and(page.locator('[data-state="done"]')).waitFor({ timeout: UPLOAD_MS });
  await refused.and(page.locator('[data-state="failed"]')).waitFor({ timeout: UPLOAD_MS });
  assert.match(await kite.innerText(), /added: 1 document/);
  assert.equal(await kite.locator('progress').evaluate((bar) => bar.value), 1);
  assert.match(await refused.innerText(), /floor-plan\.xyz.*unsupported file type/);

  // The new document is listed, found by name, and its chunks can be read.
  await page.getByTestId('document-search').fill('kite');
  const listed = page.locator('tr[data-document="kite-surfing.md"]');
  await listed.waitFor();
  assert.equal(await page.locator('#document-rows tr').count(), 1);
  await listed.getByRole('button', { name: /Show the chunks/ }).click();
  await page.getByTestId('chunk').first().waitFor();
  assert.match(await page.locator('#chunk-list').innerText(), /EUR 85/);

  // The guest widget answers from it, and so does the API, citing it.
  const kiteShown = await askWidget('How much is a kite surfing lesson?');
  assert.equal(kiteShown.abstained, 'false', kiteShown.text);
  assert.match(kiteShown.text, /85/);
  assert.ok(kiteShown.citations > 0, kiteShown.text);
  const kiteAnswer = await ask('How much is a kite surfing lesson?');
  assert.ok(kiteAnswer.citations.some((citation) => citation.document_id === 'kite-surfing.md'));

  // Try it shows the answer beside the chunks with both retrievers' scores.
  await page.getByRole('tab', { name: 'Try it' }).click();
  await page.getByTestId('try-question').fill('How much is a kite surfing lesson?');
  await page.getByTestId('try-ask').click();
  const tried = page.getByTestId('try-answer');
  await tried.waitFor({ timeout: ANSWER_MS });
  assert.equal(await tried.getAttribute('data-abstained'), 'false');
  assert.match(await tried.innerText(), /85/);
  assert.match(await tried.innerText(), /Generator\s+\S+/);
  assert.match(await tried.innerText(), /Decision\s+answerable/);
  const hits = page.getByTestId('try-hits').locator('tbody tr');
  assert.ok(await hits.count() > 0);
  assert.match(await hits.first().innerText(), /Kite surfing/);
  assert.match(await hits.first().innerText(), /\d\.\d{3} \(#\d+\)/, 'a retriever\'s score and rank');
  assert.match(await hits.first().locator('.badge').innerText(), /cited/);
  if (screenshots) {
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.screenshot({ path: path.join(screenshots, 'console.png') });
  }

  // A guest asks what the documents do not say: it shows among the unanswered questions.
  const unanswered = await ask(UNANSWERED);
  assert.equal(unanswered.abstained, true, JSON.stringify(unanswered));
  // Asked again by another guest, with other capitals and spacing: the same question.
  const again = await ask('is there a  bowling alley?');
  assert.equal(again.abstained, true, JSON.stringify(again));
  await page.getByRole('tab', { name: 'Insights' }).click();
  const group = page.getByTestId('question-group').filter({ hasText: UNANSWERED });
  await group.waitFor();
  assert.match(await group.innerText(), /asked 2×/);
  assert.match(await group.innerText(), /not answered 2×/);
  assert.match(await page.getByTestId('insights').innerText(), /Not answered/);
  await group.getByTestId('answer-text').fill(BOWLING_ANSWER);
  await group.getByTestId('add-answer').click();
  await group.getByText(/Added as document faq-is-there-a-bowling-alley/).waitFor();

  // The staff member's answer is the guest's answer now, in the widget and from the API.
  const shown = await askWidget(UNANSWERED);
  assert.equal(shown.abstained, 'false', shown.text);
  assert.match(shown.text, /bowling/i);
  const answered = await ask(UNANSWERED);
  assert.equal(answered.abstained, false, JSON.stringify(answered));
  assert.match(answered.answer, /bowling/i);
  assert.ok(answered.citations.some((citation) => citation.document_id.startsWith('faq-is-there-a-bowling-alley-')));

  // The conversation log shows the questions with the retention.
  await page.getByRole('tab', { name: 'Conversations' }).click();
  const log = page.getByTestId('conversation-log');
  await log.getByText(UNANSWERED).first().waitFor();
  assert.equal(await log.getByTestId('retention').innerText(), '30 days');
  assert.ok(await log.locator('tr[data-abstained="true"]').count() >= 2);
  assert.deepEqual(cspErrors(errors), []);
  await context.close();
});

test('the tabs work from the keyboard', async () => {
  const { context, page } = await openConsole();
  const documents = page.getByRole('tab', { name: 'Documents' });
  await documents.focus();
  await page.keyboard.press('ArrowRight');
  const tryIt = page.getByRole('tab', { name: 'Try it' });
  assert.equal(await tryIt.getAttribute('aria-selected'), 'true');
  assert.equal(await tryIt.evaluate((tab) => tab === document.activeElement), true);
  assert.ok(await page.locator('#panel-try').isVisible());
  await page.keyboard.press('End');
  assert.equal(await page.getByRole('tab', { name: 'Conversations' }).getAttribute('aria-selected'), 'true');
  await page.keyboard.press('Home');
  assert.equal(await documents.getAttribute('aria-selected'), 'true');
  // The focus ring is visible.
  const outline = await documents.evaluate((tab) => getComputedStyle(tab).outlineStyle);
  assert.equal(outline, 'solid');
  await context.close();
});

test('axe-core finds no serious or critical violation in the console', async () => {
  // The console's CSP would refuse the injected axe script; its own code runs as ever.
  const { context, page } = await openConsole({ bypassCSP: true });
  await page.locator('#document-rows tr').first().waitFor();
  assert.deepEqual(await blockingViolations(page), [], 'documents');
  await page.getByRole('tab', { name: 'Insights' }).click();
  await page.getByTestId('question-group').first().waitFor();
  assert.deepEqual(await blockingViolations(page), [], 'insights');
  await page.getByRole('tab', { name: 'Try it' }).click();
  await page.getByTestId('try-question').fill('When is breakfast served?');
  await page.getByTestId('try-ask').click();
  await page.getByTestId('try-answer').waitFor({ timeout: ANSWER_MS });
  assert.deepEqual(await blockingViolations(page), [], 'try it');
  await page.getByRole('tab', { name: 'Conversations' }).click();
  await page.getByTestId('retention').waitFor();
  assert.deepEqual(await blockingViolations(page), [], 'conversations');
  await context.close();
});

test('with keys: a wrong key and a query key are refused, an admin key signs in for the tab', async () => {
  const sha256 = (key) => createHash('sha256').update(key).digest('hex');
  const keyed = await startServer({
    demo: false,
    config: `[[keys]]
name = "ops"
sha256 = "${sha256('console-admin-secret')}"
role = "admin"

[[keys]]
name = "front-desk"
sha256 = "${sha256('front-desk-secret')}"
role = "query"
collections = ["hotel"]
`
  });
  try {
    const { context, page, errors } = await openPage(demo.browser, `${keyed.base}/admin`);
    const key = page.getByTestId('api-key');
    await key.waitFor();
    assert.ok(await page.locator('#app').isHidden(), 'nothing shown before signing in');
    await page.getByTestId('sign-in').click();
    await page.locator('#sign-in-error').getByText(/needs an API key/).waitFor();
    await key.fill('not-a-key');
    await page.getByTestId('sign-in').click();
    await page.locator('#sign-in-error').getByText('The key is not valid.').waitFor();
    await key.fill('front-desk-secret');
    await page.getByTestId('sign-in').click();
    await page.locator('#sign-in-error').getByText(/sign in with an admin key/).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('bellhop.console.key')), null);

    await key.fill('console-admin-secret');
    await page.keyboard.press('Enter');
    await page.locator('#app').waitFor();
    assert.match(await page.locator('#who').innerText(), /Signed in with an API key/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('bellhop.console.key')), 'console-admin-secret');
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing outlives the tab');
    await page.getByLabel('New collection').fill('hotel');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.locator('tr[data-collection="hotel"]').waitFor();
    // A reload in the same tab stays signed in; signing out forgets the key.
    await page.reload();
    await page.locator('tr[data-collection="hotel"]').waitFor();
    await page.getByTestId('sign-out').click();
    await key.waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('bellhop.console.key')), null);
    await page.reload();
    await key.waitFor();
    assert.ok(await page.locator('#app').isHidden());
    assert.deepEqual(cspErrors(errors), []);
    await context.close();
  } finally {
    keyed.stop();
  }
});
