// The staff console: signs in with an admin key, then manages collections and documents,
// tries questions as a guest would, and shows what guests asked and what went unanswered.
// Every call goes through the JSON API (see /openapi.json); nothing here is privileged.

import { ApiError, collectionPath, request, session, uploadFile } from './api.js';
import {
  badge, confirmAction, el, excerpt, facts, faqDocumentId, fill, formatMs, formatScore,
  formatShare, formatTime, tabs
} from './views.js';

const $ = (id) => document.getElementById(id);

/** Documents per listing page: the API's largest. */
const DOCUMENT_PAGE = 1000;
/** Listing pages read at most for one collection (its documents, its last update). */
const MAX_DOCUMENT_PAGES = 20;
/** Chunks shown by Try it. */
const TRY_HITS = 8;
/** Questions shown in the conversation log. */
const LOG_LIMIT = 100;

const state = {
  collections: [],
  current: null,
  documents: []
};

let workspaceTabs;

// ---- Signing in and out ----------------------------------------------------------------

function showSignIn(message = '') {
  $('app').hidden = true;
  $('sign-out').hidden = true;
  $('who').textContent = '';
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  $('api-key').focus();
}

function showApp() {
  $('sign-in').hidden = true;
  $('app').hidden = false;
  $('sign-out').hidden = false;
  $('who').textContent = session.key ? 'Signed in with an API key' : 'Signed in: this server has no keys';
}

/** A collection name no one has: asking for it tells an admin key (404) from others (403). */
const PROBE_COLLECTION = 'bellhop-console-admin-probe';

/** Why the API refused the session's key, as the sign-in form says it. */
function refusal(error) {
  if (error.status === 401) {
    return session.key ? 'The key is not valid.' : '';
  }
  if (error.status === 403) {
    return 'This key may not manage collections: sign in with an admin key.';
  }
  return error.message;
}

/**
 * Whether the API takes the session's key (an empty one on a server without keys) as an
 * admin's: null when it does, else why not.
 */
async function trySession() {
  try {
    state.collections = (await request('GET', '/v1/collections')).collections;
  } catch (error) {
    return refusal(error);
  }
  // A query key lists its collections too; only an admin's reads a question log.
  try {
    await request('GET', collectionPath(PROBE_COLLECTION, '/questions?limit=1'));
  } catch (error) {
    if (error.status !== 404) {
      return refusal(error);
    }
  }
  return null;
}

async function signIn(event) {
  event.preventDefault();
  session.key = $('api-key').value.trim();
  const problem = await trySession();
  if (problem !== null) {
    session.key = null;
    showSignIn(problem || 'This server needs an API key.');
    return;
  }
  $('api-key').value = '';
  showApp();
  await renderCollections();
}

function signOut() {
  session.key = null;
  state.current = null;
  state.collections = [];
  showSignIn('Signed out.');
}

/** Any 401 after signing in: the key was revoked or the server restarted with keys. */
function handle(error, target) {
  if (error instanceof ApiError && error.status === 401) {
    session.key = null;
    showSignIn('The server no longer takes this key: sign in again.');
    return;
  }
  if (target) {
    target.textContent = error.message;
    target.classList.add('error');
  }
}

function say(target, text) {
  target.classList.remove('error');
  target.textContent = text;
}

// ---- Collections -----------------------------------------------------------------------

/** Every document of a collection, page by page (at most MAX_DOCUMENT_PAGES pages). */
async function allDocuments(name) {
  const documents = [];
  for (let page = 0; page < MAX_DOCUMENT_PAGES; page += 1) {
    const { documents: batch } = await request(
      'GET', collectionPath(name, `/documents?offset=${page * DOCUMENT_PAGE}&limit=${DOCUMENT_PAGE}`));
    documents.push(...batch);
    if (batch.length < DOCUMENT_PAGE) {
      break;
    }
  }
  return documents;
}

async function renderCollections() {
  const rows = $('collection-rows');
  try {
    state.collections = (await request('GET', '/v1/collections')).collections;
  } catch (error) {
    handle(error, $('collections-message'));
    return;
  }
  if (state.collections.length === 0) {
    fill(rows, el('tr', {}, el('td', { colspan: 6 }, 'No collection yet: create one below.')));
  } else {
    fill(rows, state.collections.map((collection) => {
      const updated = el('td', { dataset: { testid: 'collection-updated' } }, '…');
      const current = state.current === collection.name;
      const row = el('tr', { 'aria-current': current ? 'true' : null, dataset: { collection: collection.name } },
        el('th', { scope: 'row' },
          el('button', {
            type: 'button', class: 'link', 'aria-pressed': String(current),
            onclick: () => choose(collection.name)
          }, collection.name)),
        el('td', { class: 'num' }, collection.documents),
        el('td', { class: 'num' }, collection.chunks),
        el('td', {}, collection.model),
        updated,
        el('td', {},
          el('button', {
            type: 'button', class: 'danger small', 'aria-label': `Delete collection ${collection.name}`,
            onclick: () => deleteCollection(collection.name)
          }, 'Delete')));
      // The last update is the newest document's: the collection itself keeps no time.
      allDocuments(collection.name).then((documents) => {
        const newest = Math.max(0, ...documents.map((document) => document.updated_at));
        updated.textContent = newest ? formatTime(newest) : 'never';
      }, () => {
        updated.textContent = '—';
      });
      return row;
    }));
  }
  if (!state.current && state.collections.length > 0) {
    await choose(state.collections[0].name);
  } else if (state.current && !state.collections.some((c) => c.name === state.current)) {
    state.current = null;
    fill($('workspace-title'), 'No collection chosen');
  }
}

async function createCollection(event) {
  event.preventDefault();
  const input = $('new-collection');
  const name = input.value.trim();
  const message = $('collections-message');
  if (!input.checkValidity() || !name) {
    handle(new Error('A collection name is 1-64 letters, digits, - or _, starting with a letter or digit.'), message);
    input.focus();
    return;
  }
  try {
    await request('POST', '/v1/collections', { name });
    input.value = '';
    say(message, `Collection ${name} created.`);
    state.current = null;
    await renderCollections();
    await choose(name);
  } catch (error) {
    handle(error, message);
  }
}

async function deleteCollection(name) {
  const confirmed = await confirmAction(
    `Delete the collection ${name} with all its documents and its question log? This cannot be undone.`,
    `Delete ${name}`);
  if (!confirmed) {
    return;
  }
  const message = $('collections-message');
  try {
    await request('DELETE', collectionPath(name));
    say(message, `Collection ${name} deleted.`);
    if (state.current === name) {
      state.current = null;
    }
    await renderCollections();
  } catch (error) {
    handle(error, message);
  }
}

async function choose(name) {
  state.current = name;
  fill($('workspace-title'), 'Collection ', el('span', { class: 'name' }, name));
  for (const row of $('collection-rows').querySelectorAll('tr[data-collection]')) {
    const current = row.dataset.collection === name;
    if (current) {
      row.setAttribute('aria-current', 'true');
    } else {
      row.removeAttribute('aria-current');
    }
    row.querySelector('button.link')?.setAttribute('aria-pressed', String(current));
  }
  fill($('uploads'));
  fill($('try-result'));
  $('chunks').hidden = true;
  await refreshPanel(workspaceTabs.selected());
}

function refreshPanel(tabId) {
  if (!state.current) {
    return Promise.resolve();
  }
  switch (tabId) {
    case 'tab-documents': return renderDocuments();
    case 'tab-insights': return renderInsights();
    case 'tab-log': return renderLog();
    default: return Promise.resolve();
  }
}

// ---- Documents -------------------------------------------------------------------------

async function renderDocuments() {
  const name = state.current;
  try {
    state.documents = await allDocuments(name);
  } catch (error) {
    handle(error, $('documents-message'));
    return;
  }
  if (name === state.current) {
    showDocuments();
  }
}

function showDocuments() {
  const search = $('document-search').value.trim().toLowerCase();
  const shown = state.documents.filter((document) => !search
    || document.title.toLowerCase().includes(search)
    || document.id.toLowerCase().includes(search)
    || document.source.toLowerCase().includes(search));
  say($('documents-message'), search
    ? `${shown.length} of ${state.documents.length} documents match.`
    : `${state.documents.length} documents.`);
  fill($('document-rows'), shown.map((document) => el('tr', { dataset: { document: document.id } },
    el('th', { scope: 'row' }, document.title || document.id),
    el('td', {}, el('code', {}, document.id)),
    el('td', {}, document.source),
    el('td', { class: 'num' }, document.chunks),
    el('td', {}, formatTime(document.updated_at)),
    el('td', { class: 'actions' },
      el('button', {
        type: 'button', class: 'secondary small', 'aria-label': `Show the chunks of ${document.title || document.id}`,
        onclick: () => showChunks(document)
      }, 'Chunks'),
      el('button', {
        type: 'button', class: 'danger small', 'aria-label': `Delete document ${document.title || document.id}`,
        onclick: () => deleteDocument(document)
      }, 'Delete')))));
}

async function deleteDocument(document) {
  const label = document.title || document.id;
  if (!await confirmAction(`Delete the document “${label}” and its ${document.chunks} chunks?`)) {
    return;
  }
  try {
    await request('DELETE', collectionPath(state.current, `/documents/${encodeURIComponent(document.id)}`));
    say($('documents-message'), `Deleted “${label}”.`);
    await Promise.all([renderDocuments(), renderCollections()]);
  } catch (error) {
    handle(error, $('documents-message'));
  }
}

/**
 * A document's chunks: the API lists chunks only as search hits, so this is a dense search
 * restricted to the document, for as many hits as it has chunks (up to the API's 100).
 */
async function showChunks(document) {
  const section = $('chunks');
  const list = $('chunk-list');
  const label = document.title || document.id;
  fill($('chunks-title'), `Chunks of “${label}”`);
  section.hidden = false;
  fill(list, el('li', {}, 'Loading…'));
  try {
    const { hits } = await request('POST', collectionPath(state.current, '/search'), {
      query: label,
      mode: 'dense',
      k: Math.max(1, Math.min(document.chunks, 100)),
      filter: { document_id: document.id }
    });
    hits.sort((a, b) => a.chunk_id - b.chunk_id);
    fill(list, hits.map((hit) => el('li', { dataset: { testid: 'chunk' } },
      hit.section.length ? el('p', { class: 'section' }, hit.section.join(' › ')) : null,
      el('p', {}, hit.text))));
    if (document.chunks > hits.length) {
      list.append(el('li', { class: 'hint' }, `${hits.length} of its ${document.chunks} chunks are shown.`));
    }
  } catch (error) {
    fill(list, el('li', { class: 'error' }, error.message));
  }
  $('chunks-title').tabIndex = -1;
  $('chunks-title').focus();
}

/** Uploads files one after another, each with its own progress bar and outcome. */
async function uploadFiles(files) {
  const collection = state.current;
  if (!collection || files.length === 0) {
    return;
  }
  const items = [...files].map((file) => {
    const progress = el('progress', { max: 1, value: 0, 'aria-label': `Upload of ${file.name}` });
    const status = el('span', { class: 'status' }, 'waiting');
    const item = el('li', { dataset: { file: file.name, state: 'waiting' } },
      el('span', { class: 'file-name' }, file.name), progress, status);
    $('uploads').append(item);
    return { file, item, progress, status };
  });
  for (const { file, item, progress, status } of items) {
    item.dataset.state = 'uploading';
    status.textContent = 'uploading';
    try {
      const report = await uploadFile(collection, file, (fraction) => {
        progress.value = fraction;
        if (fraction >= 1) {
          status.textContent = 'reading and embedding…';
        }
      });
      const result = report.files[0];
      item.dataset.state = 'done';
      status.textContent = result.status === 'unchanged'
        ? 'unchanged: already in the collection'
        : `added: ${result.documents} document${result.documents === 1 ? '' : 's'}, ${result.chunks} chunks`;
    } catch (error) {
      if (error.status === 401) {
        handle(error);
        return;
      }
      item.dataset.state = 'failed';
      item.classList.add('error');
      status.textContent = `failed: ${error.message}`;
    }
  }
  if (collection === state.current) {
    await Promise.all([renderDocuments(), renderCollections()]);
  }
}

function setUpDropZone() {
  const zone = $('drop');
  const input = $('file-input');
  input.addEventListener('change', () => {
    uploadFiles(input.files).finally(() => {
      input.value = '';
    });
  });
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    uploadFiles(event.dataTransfer.files);
  });
}

// ---- Try it ----------------------------------------------------------------------------

/** A retriever's match of a hit: its score and rank, or dashes. */
function found(hit, retriever) {
  const match = hit.found_by.find((entry) => entry.retriever === retriever);
  return match ? `${formatScore(match.score)} (#${match.rank})` : '—';
}

async function tryQuestion(event) {
  event.preventDefault();
  const question = $('try-question').value.trim();
  const result = $('try-result');
  if (!question) {
    fill(result, el('p', { class: 'error', role: 'alert' }, 'Type a question first.'));
    return;
  }
  fill(result, el('p', {}, 'Asking…'));
  try {
    // The answer carries no retrieval scores: the same question as a hybrid search shows
    // what each retriever found.
    const [answer, search] = await Promise.all([
      request('POST', collectionPath(state.current, '/ask'), { question }),
      request('POST', collectionPath(state.current, '/search'), { query: question, mode: 'hybrid', k: TRY_HITS })
    ]);
    const cited = new Set(answer.citations.map((citation) => citation.chunk_id));
    const evidence = answer.answerability;
    fill(result,
      el('section', { class: 'answer', 'aria-labelledby': 'try-answer-title', dataset: { testid: 'try-answer', abstained: String(answer.abstained) } },
        el('h3', { id: 'try-answer-title' }, 'Answer ',
          answer.abstained ? badge('abstained', 'warn') : badge('answered', 'ok'),
          answer.degraded ? badge('degraded', 'warn') : null,
          answer.cached ? badge('cached') : null),
        el('p', { class: 'answer-text' }, answer.answer),
        facts([
          ['Generator', answer.generator + (answer.reason ? ` (${answer.reason})` : '')],
          ['Decision', `${evidence.answerable ? 'answerable' : 'not answerable'}: ${evidence.reason}`],
          ['Dense score', formatScore(evidence.dense_score)],
          ['Term coverage', formatShare(evidence.term_coverage)],
          ['Key terms', evidence.key_terms.join(', ') || '—'],
          ['Missing terms', evidence.missing_terms.join(', ') || '—'],
          ['Language', answer.question_language || '—'],
          ['Retrieval', formatMs(answer.timings.retrieval_ms)],
          ['First token', formatMs(answer.timings.first_token_ms)],
          ['Total', formatMs(answer.timings.total_ms)],
          ['Search (hybrid)', `${formatMs(search.timings.total_ms)} (embedding ${formatMs(search.timings.embed_ms)})`]
        ])),
      el('section', { class: 'hits', 'aria-labelledby': 'try-hits-title' },
        el('h3', { id: 'try-hits-title' }, 'Retrieved chunks'),
        el('div', { class: 'table-wrap' },
          el('table', { dataset: { testid: 'try-hits' } },
            el('caption', { class: 'visually-hidden' }, 'Chunks a hybrid search finds, with each retriever\'s score and rank'),
            el('thead', {}, el('tr', {},
              ['#', 'Chunk', 'Hybrid', 'Dense (rank)', 'Keyword (rank)'].map((title) => el('th', { scope: 'col' }, title)))),
            el('tbody', {}, search.hits.map((hit, at) => el('tr', {},
              el('td', { class: 'num' }, at + 1),
              el('td', {},
                el('strong', {}, hit.title), cited.has(hit.chunk_id) ? badge('cited', 'ok') : null,
                el('p', { class: 'hint' }, excerpt(hit.text))),
              el('td', { class: 'num' }, formatScore(hit.score)),
              el('td', { class: 'num' }, found(hit, 'dense')),
              el('td', { class: 'num' }, found(hit, 'keyword')))))))));
  } catch (error) {
    fill(result, el('p', { class: 'error', role: 'alert' }, error.message));
    handle(error);
  }
}

// ---- Insights --------------------------------------------------------------------------

async function renderInsights() {
  const target = $('insights');
  const days = $('insight-days').value;
  fill(target, el('p', {}, 'Loading…'));
  let insights;
  try {
    insights = await request('GET', collectionPath(state.current, `/insights?days=${days}`));
  } catch (error) {
    fill(target, el('p', { class: 'error' }, error.message));
    handle(error);
    return;
  }
  const busiest = Math.max(1, ...insights.per_day.map((day) => day.questions));
  fill(target,
    facts([
      ['Questions', insights.questions + (insights.truncated ? ' (the newest 1000)' : '')],
      ['Not answered', formatShare(insights.abstained_share)],
      ['Voted down', formatShare(insights.down_voted_share)],
      ['Log kept for', `${insights.retention_days} days`]
    ]),
    el('h3', {}, 'Questions per day'),
    el('table', { class: 'days', dataset: { testid: 'per-day' } },
      el('caption', { class: 'visually-hidden' }, 'Questions per day, with how many were not answered and voted down'),
      el('thead', {}, el('tr', {},
        ['Day', 'Questions', 'Not answered', 'Voted down'].map((title) => el('th', { scope: 'col' }, title)))),
      el('tbody', {}, insights.per_day.map((day) => {
        const bar = el('span', { class: 'bar', 'aria-hidden': 'true' });
        // Set through the CSSOM, which the page's style-src policy allows.
        bar.style.inlineSize = `${(day.questions / busiest) * 100}%`;
        return el('tr', {},
          el('th', { scope: 'row' }, day.day),
          el('td', { class: 'num with-bar' }, el('span', { class: 'bar-track' }, bar), String(day.questions)),
          el('td', { class: 'num' }, day.abstained),
          el('td', { class: 'num' }, day.down_voted));
      }))),
    el('h3', {}, 'Unanswered and voted-down questions'),
    insights.groups.length === 0
      ? el('p', {}, 'None in this period: every question was answered and nobody voted an answer down.')
      : el('ol', { class: 'groups' }, insights.groups.map(renderGroup)));
}

function renderGroup(group, at) {
  const titleId = `group-${at}`;
  const answerId = `group-${at}-answer`;
  const note = el('p', { class: 'message', role: 'status', 'aria-live': 'polite' });
  const form = el('form', { class: 'add-answer', novalidate: true, 'aria-labelledby': `${titleId}-add` },
    el('h4', { id: `${titleId}-add` }, 'Add an answer'),
    el('label', { for: answerId }, `The answer guests should get to “${group.question}”`),
    el('textarea', { id: answerId, rows: 3, required: true, maxlength: 20000, dataset: { testid: 'answer-text' } }),
    el('button', { type: 'submit', dataset: { testid: 'add-answer' } }, 'Add to the collection'),
    note);
  form.addEventListener('submit', (event) => addAnswer(event, group, form, note));
  return el('li', { class: 'group', 'aria-labelledby': titleId, dataset: { testid: 'question-group' } },
    el('p', { class: 'question', id: titleId }, group.question),
    el('p', {},
      badge(`asked ${group.count}×`),
      group.abstained ? badge(`not answered ${group.abstained}×`, 'warn') : null,
      group.down_voted ? badge(`voted down ${group.down_voted}×`, 'bad') : null,
      el('span', { class: 'hint' }, ` last asked ${formatTime(group.last_asked_at)}`)),
    group.examples.length > 1
      ? el('details', {}, el('summary', {}, `${group.examples.length} wordings`),
        el('ul', {}, group.examples.map((example) => el('li', {}, example))))
      : null,
    form);
}

/** Writes a short FAQ document, titled with the question, so that it gets answered. */
async function addAnswer(event, group, form, note) {
  event.preventDefault();
  const text = form.querySelector('textarea').value.trim();
  if (!text) {
    note.classList.add('error');
    note.textContent = 'Write the answer first.';
    form.querySelector('textarea').focus();
    return;
  }
  const id = faqDocumentId(group.question);
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    await request('POST', collectionPath(state.current, '/documents'), {
      documents: [{ id, title: group.question, text, source: 'console', metadata: { kind: 'faq' } }]
    });
    note.classList.remove('error');
    note.textContent = `Added as document ${id}: guests asking this now get that answer.`;
    form.closest('li').dataset.answered = 'true';
    renderCollections();
  } catch (error) {
    note.classList.add('error');
    note.textContent = error.message;
    handle(error);
  } finally {
    button.disabled = false;
  }
}

// ---- Conversation log ------------------------------------------------------------------

async function renderLog() {
  const target = $('log');
  fill(target, el('p', {}, 'Loading…'));
  let log;
  try {
    log = await request('GET', collectionPath(state.current, `/questions?limit=${LOG_LIMIT}`));
  } catch (error) {
    fill(target, el('p', { class: 'error' }, error.message));
    handle(error);
    return;
  }
  fill(target,
    el('p', {}, `The newest ${LOG_LIMIT} questions at most. Questions, answers and feedback are kept for `,
      el('strong', { dataset: { testid: 'retention' } }, `${log.retention_days} days`),
      ', then deleted; who asked is never recorded.'),
    log.questions.length === 0
      ? el('p', {}, 'No questions yet.')
      : el('div', { class: 'table-wrap' }, el('table', {},
        el('caption', { class: 'visually-hidden' }, 'Recent questions, newest first'),
        el('thead', {}, el('tr', {},
          ['Asked', 'Question', 'Answer', 'Feedback'].map((title) => el('th', { scope: 'col' }, title)))),
        el('tbody', {}, log.questions.map((entry) => el('tr', { dataset: { abstained: String(entry.abstained) } },
          el('td', {}, formatTime(entry.asked_at)),
          el('th', { scope: 'row' }, entry.question),
          el('td', {}, entry.abstained ? badge('not answered', 'warn') : null, ' ', excerpt(entry.answer, 200)),
          el('td', {}, entry.feedback
            ? [badge(entry.feedback.rating === 'up' ? 'helpful' : 'not helpful', entry.feedback.rating === 'up' ? 'ok' : 'bad'),
              entry.feedback.comment ? el('p', { class: 'hint' }, entry.feedback.comment) : null]
            : '—')))))));
}

// ---- Start -----------------------------------------------------------------------------

async function start() {
  workspaceTabs = tabs($('tabs'), (id) => {
    refreshPanel(id);
  });
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  $('create-collection').addEventListener('submit', createCollection);
  $('document-search').addEventListener('input', showDocuments);
  $('try-form').addEventListener('submit', tryQuestion);
  $('insight-days').addEventListener('change', renderInsights);
  $('insights-refresh').addEventListener('click', renderInsights);
  setUpDropZone();

  // A server without keys answers without one: sign in with the empty key at once.
  if (!session.signedIn) {
    session.key = '';
    if (await trySession() !== null) {
      session.key = null;
      showSignIn();
      return;
    }
  } else {
    const problem = await trySession();
    if (problem !== null) {
      session.key = null;
      showSignIn(problem);
      return;
    }
  }
  showApp();
  await renderCollections();
}

start();
