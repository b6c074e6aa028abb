/*
 * The bellhop guest widget: a chat launcher and panel that answers from one collection.
 *
 *   <script src="https://HOST/widget.js" data-collection="demo-hotel" data-key="PUBLIC_KEY" async></script>
 *
 * Optional: data-title, data-accent (#rgb or #rrggbb), data-lang, data-welcome,
 * data-position (bottom-right or bottom-left).
 *
 * Everything lives in an open shadow root, so the page's CSS cannot reach it and its CSS
 * cannot reach the page. It sets no cookies, and runs no inline script and no eval, so a
 * page with a strict Content-Security-Policy only needs to allow HOST in script-src and
 * connect-src.
 */
(function () {
  'use strict';

  // Filled in by the server with widget.css when it serves this file.
  var WIDGET_CSS = "__BELLHOP_WIDGET_CSS__";

  var HISTORY_TURNS = 6;
  var MAX_QUESTION_CHARS = 2000;
  var RTL_LANGUAGES = ['ar', 'fa', 'he', 'ur'];

  var STRINGS = {
    en: {
      title: 'Ask us', welcome: 'Hello! Ask me anything about the hotel.',
      open: 'Open chat', close: 'Close chat', input: 'Your question', placeholder: 'Ask a question…',
      send: 'Send', you: 'You', assistant: 'Concierge', conversation: 'Conversation',
      sources: 'Sources', source: 'Source', helpful: 'Helpful', unhelpful: 'Not helpful',
      rate: 'Was this answer helpful?', thanks: 'Thank you for your feedback.',
      abstained: 'Not in our information', writing: 'Writing…',
      failed: 'Sorry, something went wrong. Please try again.',
      busy: 'Too many questions at once. Please try again in a moment.'
    },
    de: {
      title: 'Fragen Sie uns', welcome: 'Hallo! Fragen Sie mich alles über das Hotel.',
      open: 'Chat öffnen', close: 'Chat schließen', input: 'Ihre Frage', placeholder: 'Stellen Sie eine Frage…',
      send: 'Senden', you: 'Sie', assistant: 'Concierge', conversation: 'Unterhaltung',
      sources: 'Quellen', source: 'Quelle', helpful: 'Hilfreich', unhelpful: 'Nicht hilfreich',
      rate: 'War diese Antwort hilfreich?', thanks: 'Danke für Ihre Rückmeldung.',
      abstained: 'Nicht in unseren Informationen', writing: 'Schreibt…',
      failed: 'Leider ist etwas schiefgegangen. Bitte versuchen Sie es erneut.',
      busy: 'Zu viele Fragen auf einmal. Bitte versuchen Sie es gleich noch einmal.'
    },
    fr: {
      title: 'Posez-nous une question', welcome: 'Bonjour ! Posez-moi vos questions sur l’hôtel.',
      open: 'Ouvrir le chat', close: 'Fermer le chat', input: 'Votre question', placeholder: 'Posez une question…',
      send: 'Envoyer', you: 'Vous', assistant: 'Concierge', conversation: 'Conversation',
      sources: 'Sources', source: 'Source', helpful: 'Utile', unhelpful: 'Pas utile',
      rate: 'Cette réponse vous a-t-elle aidé ?', thanks: 'Merci pour votre avis.',
      abstained: 'Absent de nos informations', writing: 'Rédaction…',
      failed: 'Désolé, une erreur est survenue. Veuillez réessayer.',
      busy: 'Trop de questions à la fois. Veuillez réessayer dans un instant.'
    },
    es: {
      title: 'Pregúntenos', welcome: '¡Hola! Pregúnteme lo que quiera sobre el hotel.',
      open: 'Abrir chat', close: 'Cerrar chat', input: 'Su pregunta', placeholder: 'Haga una pregunta…',
      send: 'Enviar', you: 'Usted', assistant: 'Conserje', conversation: 'Conversación',
      sources: 'Fuentes', source: 'Fuente', helpful: 'Útil', unhelpful: 'No es útil',
      rate: '¿Le ha sido útil esta respuesta?', thanks: 'Gracias por su opinión.',
      abstained: 'No figura en nuestra información', writing: 'Escribiendo…',
      failed: 'Lo sentimos, algo ha fallado. Inténtelo de nuevo.',
      busy: 'Demasiadas preguntas a la vez. Inténtelo de nuevo en un momento.'
    }
  };

  var script = document.currentScript ||
    document.querySelector('script[data-collection][src*="widget.js"]');
  if (!script || !script.dataset.collection) {
    return;
  }
  var config = readConfig(script);
  var text = STRINGS[config.lang.split('-')[0]] || STRINGS.en;

  /** The settings a page gives on the script tag. */
  function readConfig(tag) {
    var data = tag.dataset;
    var position = data.position === 'bottom-left' ? 'bottom-left' : 'bottom-right';
    return {
      origin: new URL(tag.src, document.baseURI).origin,
      collection: data.collection,
      key: data.key || '',
      title: data.title || '',
      welcome: data.welcome || '',
      accent: /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(data.accent || '') ? data.accent : '',
      lang: (data.lang || document.documentElement.lang || navigator.language || 'en').toLowerCase(),
      position: position
    };
  }

  /** Creates an element with attributes and children; text is never parsed as HTML. */
  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === false || value === null || value === undefined) {
        return;
      }
      if (name === 'text') {
        node.textContent = value;
      } else if (name.slice(0, 2) === 'on') {
        node.addEventListener(name.slice(2), value);
      } else {
        node.setAttribute(name, value === true ? '' : String(value));
      }
    });
    (children || []).forEach(function (child) {
      node.append(child);
    });
    return node;
  }

  /** An inline SVG icon from one path. */
  function icon(path) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    var shape = document.createElementNS(ns, 'path');
    shape.setAttribute('d', path);
    svg.append(shape);
    return svg;
  }

  var ICONS = {
    chat: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z',
    close: 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z',
    send: 'M3 20.5 21 12 3 3.5V10l12 2-12 2z',
    up: 'M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6V3a1.5 1.5 0 0 0-.4-1L13.2 1 6.6 7.6A2 2 0 0 0 6 9v10a2 2 0 0 0 2 2h9a2 2 0 0 0 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z',
    down: 'M22 3h-4v12h4V3zM2 14a2 2 0 0 0 2 2h6.3l-1 4.6V21c0 .4.2.8.4 1l1.1 1 6.6-6.6c.4-.4.6-.9.6-1.4V5a2 2 0 0 0-2-2H7a2 2 0 0 0-1.8 1.2l-3 7.1c-.1.2-.2.5-.2.7v2z'
  };

  /** The text colour readable on an accent colour. */
  function textOn(hex) {
    var digits = hex.slice(1);
    if (digits.length === 3) {
      digits = digits.replace(/./g, '$&$&');
    }
    var channels = [0, 2, 4].map(function (at) {
      var c = parseInt(digits.slice(at, at + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
    return luminance > 0.18 ? '#111111' : '#ffffff';
  }

  // ---- The server ------------------------------------------------------------------------

  function apiUrl(path) {
    return config.origin + '/v1/collections/' + encodeURIComponent(config.collection) + path;
  }

  function post(path, body, signal) {
    var headers = { 'Content-Type': 'application/json' };
    if (config.key) {
      headers.Authorization = 'Bearer ' + config.key;
    }
    return fetch(apiUrl(path), {
      method: 'POST',
      headers: headers,
      body: JSON.stringify(body),
      credentials: 'omit',
      mode: 'cors',
      signal: signal
    });
  }

  /** An error response as the text a guest sees. */
  function failure(response) {
    if (response.status === 429) {
      var retry = response.headers.get('Retry-After');
      return { message: text.busy, retryAfter: retry ? Number(retry) : null };
    }
    return { message: text.failed };
  }

  /**
   * Reads a text/event-stream body and calls onEvent(name, data) for each message (the
   * WHATWG rules: `event` and `data` fields, `:` comments, a blank line ends a message).
   */
  function readEventStream(response, onEvent) {
    var reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    var buffer = '';
    var name = '';
    var data = [];
    function line(raw) {
      if (raw === '') {
        if (data.length) {
          onEvent(name || 'message', data.join('\n'));
        }
        name = '';
        data = [];
        return;
      }
      if (raw[0] === ':') {
        return;
      }
      var colon = raw.indexOf(':');
      var field = colon < 0 ? raw : raw.slice(0, colon);
      var value = colon < 0 ? '' : raw.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') {
        name = value;
      } else if (field === 'data') {
        data.push(value);
      }
    }
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          if (buffer) {
            line(buffer);
          }
          line('');
          return;
        }
        buffer += chunk.value;
        var lines = buffer.split(/\r\n|\r|\n/);
        buffer = lines.pop();
        lines.forEach(line);
        return pump();
      });
    }
    return pump();
  }

  // ---- The page parts ----------------------------------------------------------------------

  var host = el('bellhop-widget', { 'data-collection': config.collection });
  var root = host.attachShadow({ mode: 'open' });
  applyStyles(root);

  var ids = 0;
  function uniqueId(prefix) {
    ids += 1;
    return 'bellhop-' + prefix + '-' + ids;
  }

  var language = config.lang.split('-')[0];
  var container = el('div', {
    class: 'bellhop ' + config.position,
    lang: config.lang,
    dir: RTL_LANGUAGES.indexOf(language) >= 0 ? 'rtl' : 'ltr'
  });
  if (config.accent) {
    // CSSOM writes are not inline styles, so a strict style-src allows them.
    container.style.setProperty('--bellhop-accent', config.accent);
    container.style.setProperty('--bellhop-on-accent', textOn(config.accent));
  }

  var titleText = config.title || text.title;
  var titleId = uniqueId('title');
  var panelId = uniqueId('panel');

  var launcher = el('button', {
    type: 'button',
    class: 'launcher',
    'data-testid': 'bellhop-launcher',
    'aria-haspopup': 'dialog',
    'aria-expanded': 'false',
    'aria-controls': panelId,
    'aria-label': text.open + ': ' + titleText,
    onclick: function () {
      setOpen(panel.hidden);
    }
  }, [icon(ICONS.chat)]);

  var log = el('div', {
    class: 'log',
    role: 'log',
    'aria-live': 'polite',
    'aria-label': text.conversation,
    tabindex: '0'
  });

  var status = el('p', { class: 'visually-hidden', role: 'status' });

  var input = el('input', {
    type: 'text',
    class: 'input',
    id: uniqueId('input'),
    'data-testid': 'bellhop-input',
    dir: 'auto',
    autocomplete: 'off',
    maxlength: String(MAX_QUESTION_CHARS),
    placeholder: text.placeholder
  });
  var send = el('button', {
    type: 'submit',
    class: 'send',
    'data-testid': 'bellhop-send',
    'aria-label': text.send
  }, [icon(ICONS.send)]);
  var composer = el('form', { class: 'composer', onsubmit: onSubmit }, [
    el('label', { class: 'visually-hidden', for: input.id, text: text.input }),
    input,
    send
  ]);

  var panel = el('div', {
    class: 'panel',
    id: panelId,
    role: 'dialog',
    'aria-modal': 'true',
    'aria-labelledby': titleId,
    hidden: true,
    onkeydown: onPanelKey
  }, [
    el('div', { class: 'header' }, [
      el('h2', { id: titleId, class: 'title', dir: 'auto', text: titleText }),
      el('button', {
        type: 'button',
        class: 'close',
        'aria-label': text.close,
        onclick: function () {
          setOpen(false);
        }
      }, [icon(ICONS.close)])
    ]),
    log,
    status,
    composer
  ]);

  log.append(el('div', {
    class: 'message assistant welcome',
    'data-testid': 'bellhop-welcome',
    dir: 'auto',
    text: config.welcome || text.welcome
  }));

  container.append(panel, launcher);
  root.append(container);

  function mount() {
    document.body.append(host);
  }
  if (document.body) {
    mount();
  } else {
    document.addEventListener('DOMContentLoaded', mount);
  }

  /**
   * Styles inside the shadow root. A constructed stylesheet is not an inline style, so a
   * strict style-src does not block it; browsers without them get widget.css from HOST.
   */
  function applyStyles(shadow) {
    if ('adoptedStyleSheets' in ShadowRoot.prototype && 'replaceSync' in CSSStyleSheet.prototype) {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(WIDGET_CSS);
      shadow.adoptedStyleSheets = [sheet];
    } else {
      shadow.append(el('link', { rel: 'stylesheet', href: config.origin + '/widget.css' }));
    }
  }

  // ---- Opening, closing and the focus trap ------------------------------------------------

  function setOpen(open) {
    panel.hidden = !open;
    container.classList.toggle('open', open);
    launcher.setAttribute('aria-expanded', String(open));
    if (open) {
      input.focus();
    } else {
      launcher.focus();
    }
  }

  function focusable() {
    return Array.prototype.filter.call(
      panel.querySelectorAll('button, input, [tabindex="0"], [href]'),
      function (node) {
        return !node.disabled && !node.closest('[hidden]');
      }
    );
  }

  function onPanelKey(event) {
    if (event.key === 'Escape') {
      event.preventDefault();
      setOpen(false);
      return;
    }
    if (event.key !== 'Tab') {
      return;
    }
    var nodes = focusable();
    if (!nodes.length) {
      return;
    }
    var first = nodes[0];
    var last = nodes[nodes.length - 1];
    var active = root.activeElement;
    if (event.shiftKey && (active === first || !panel.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  }

  // ---- The conversation -------------------------------------------------------------------

  var history = [];
  var asking = false;

  function onSubmit(event) {
    event.preventDefault();
    var question = input.value.trim();
    if (!question || asking) {
      return;
    }
    input.value = '';
    ask(question);
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function ask(question) {
    asking = true;
    send.disabled = true;
    log.append(el('div', { class: 'message user', 'data-testid': 'bellhop-message-user' }, [
      el('span', { class: 'visually-hidden', text: text.you + ': ' }),
      el('span', { dir: 'auto', text: question })
    ]));
    var answer = new AnswerView();
    log.append(answer.node);
    scrollToEnd();
    var messages = history.slice(-2 * HISTORY_TURNS);
    post('/ask', { question: question, stream: true, messages: messages })
      .then(function (response) {
        if (!response.ok) {
          answer.fail(failure(response));
          return;
        }
        var done = null;
        return readEventStream(response, function (name, data) {
          var payload = JSON.parse(data);
          if (name === 'delta') {
            answer.append(payload.text);
          } else if (name === 'done') {
            done = payload;
          } else if (name === 'error') {
            answer.fail({ message: text.failed });
          }
        }).then(function () {
          if (!done) {
            answer.fail({ message: text.failed });
            return;
          }
          answer.finish(done);
          history.push({ role: 'user', content: question });
          history.push({ role: 'assistant', content: done.answer });
        });
      })
      .catch(function () {
        answer.fail({ message: text.failed });
      })
      .then(function () {
        asking = false;
        send.disabled = false;
        scrollToEnd();
      });
  }

  /** One assistant message: streamed text, then its sources and feedback buttons. */
  function AnswerView() {
    this.body = el('div', { class: 'body', dir: 'auto' });
    this.node = el('div', {
      class: 'message assistant',
      'data-testid': 'bellhop-message-assistant',
      'data-state': 'streaming',
      'data-abstained': 'false',
      'aria-busy': 'true'
    }, [el('span', { class: 'visually-hidden', text: text.assistant + ': ' }), this.body]);
    this.written = '';
    this.node.append(el('span', { class: 'typing', 'aria-hidden': 'true', text: text.writing }));
  }

  AnswerView.prototype.append = function (delta) {
    this.written += delta;
    this.body.textContent = this.written;
    scrollToEnd();
  };

  AnswerView.prototype.settle = function (state) {
    var typing = this.node.querySelector('.typing');
    if (typing) {
      typing.remove();
    }
    this.node.setAttribute('data-state', state);
    this.node.setAttribute('aria-busy', 'false');
  };

  AnswerView.prototype.fail = function (problem) {
    this.body.textContent = problem.message;
    this.node.classList.add('error');
    this.settle('error');
  };

  AnswerView.prototype.finish = function (done) {
    this.body.textContent = done.answer;
    if (done.abstained) {
      this.node.setAttribute('data-abstained', 'true');
      this.node.insertBefore(
        el('p', { class: 'notice', text: text.abstained }),
        this.body
      );
    }
    var citations = done.citations || [];
    if (citations.length) {
      this.node.append(sourcesView(citations));
    }
    if (done.id) {
      this.node.append(feedbackView(done.id));
    }
    this.settle('done');
  };

  /** Numbered chips; each opens its source's title, section and text. */
  function sourcesView(citations) {
    var details = el('div', { class: 'source', id: uniqueId('source'), hidden: true, role: 'region' });
    var chips = citations.map(function (citation) {
      var chip = el('button', {
        type: 'button',
        class: 'chip',
        'data-testid': 'bellhop-citation',
        'aria-expanded': 'false',
        title: citation.title,
        onclick: function () {
          var opening = chip.getAttribute('aria-expanded') !== 'true';
          chips.forEach(function (other) {
            other.setAttribute('aria-expanded', 'false');
          });
          details.hidden = !opening;
          if (opening) {
            chip.setAttribute('aria-expanded', 'true');
            showSource(details, citation);
            details.scrollIntoView({ block: 'nearest' });
          }
        }
      }, [
        el('span', { class: 'visually-hidden', text: text.source + ' ' }),
        el('span', { class: 'chip-number', text: String(citation.index) }),
        el('span', { class: 'visually-hidden', text: ': ' }),
        el('span', { class: 'chip-title', dir: 'auto', text: citation.title })
      ]);
      chip.setAttribute('aria-controls', details.id);
      return chip;
    });
    return el('div', { class: 'sources' }, [
      el('p', { class: 'sources-label', text: text.sources }),
      el('div', { class: 'chips' }, chips),
      details
    ]);
  }

  function showSource(details, citation) {
    var section = (citation.section || []).join(' › ');
    details.replaceChildren(
      el('h3', { class: 'source-title', dir: 'auto', text: citation.title }),
      section ? el('p', { class: 'source-section', dir: 'auto', text: section }) : '',
      el('p', { class: 'source-text', dir: 'auto', text: citation.text })
    );
    details.setAttribute('aria-label', text.source + ' ' + citation.index);
  }

  /** Thumbs up and down, sent to the server; pressing the other one changes the verdict. */
  function feedbackView(answerId) {
    var buttons = [];
    function rate(rating, button) {
      buttons.forEach(function (other) {
        other.setAttribute('aria-pressed', String(other === button));
      });
      post('/feedback', { answer_id: answerId, rating: rating })
        .then(function (response) {
          status.textContent = response.ok ? text.thanks : failure(response).message;
        })
        .catch(function () {
          status.textContent = text.failed;
        });
    }
    [['up', text.helpful, ICONS.up], ['down', text.unhelpful, ICONS.down]].forEach(function (choice) {
      var button = el('button', {
        type: 'button',
        class: 'rate',
        'data-testid': 'bellhop-feedback-' + choice[0],
        'aria-pressed': 'false',
        'aria-label': choice[1],
        title: choice[1],
        onclick: function () {
          rate(choice[0], button);
        }
      }, [icon(choice[2])]);
      buttons.push(button);
    });
    return el('div', { class: 'feedback', role: 'group', 'aria-label': text.rate }, buttons);
  }
})();
