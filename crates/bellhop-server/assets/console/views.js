// Small DOM helpers and formatters. Everything the console shows is built with these:
// text always goes in as text nodes, never as HTML, so nothing a guest typed can run.

/**
 * Creates an element. `props`: attributes (strings), `on*` listeners (functions), `dataset`
 * (an object), and `hidden`/`disabled`/`value`/`checked` as properties.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'dataset') {
      Object.assign(node.dataset, value);
    } else if (['hidden', 'disabled', 'value', 'checked', 'open'].includes(name)) {
      node[name] = value;
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces a node's children. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** Seconds since the epoch as a local `YYYY-MM-DD HH:MM`: short, and sorts as it reads. */
export function formatTime(seconds) {
  if (!seconds) {
    return '—';
  }
  const time = new Date(seconds * 1000);
  const two = (number) => String(number).padStart(2, '0');
  return `${time.getFullYear()}-${two(time.getMonth() + 1)}-${two(time.getDate())} ${two(time.getHours())}:${two(time.getMinutes())}`;
}

/** A share from 0 to 1 as a percentage. */
export function formatShare(share) {
  return `${Math.round(share * 1000) / 10} %`;
}

/** Milliseconds, or a dash. */
export function formatMs(ms) {
  return typeof ms === 'number' ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : '—';
}

/** A score to three places, or a dash. */
export function formatScore(score) {
  return typeof score === 'number' ? score.toFixed(3) : '—';
}

/** The first `limit` characters of a text, with an ellipsis when cut. */
export function excerpt(text, limit = 240) {
  return text.length > limit ? `${text.slice(0, limit).trimEnd()}…` : text;
}

/** A short labelled value, as a description list's pair. */
export function facts(pairs) {
  return el('dl', { class: 'facts' },
    pairs.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
}

/** A small coloured tag. */
export function badge(text, kind = '') {
  return el('span', { class: `badge ${kind}`.trim() }, text);
}

/**
 * A document id for an FAQ answer to `question`: readable where the question's letters are
 * Latin, and the same for the same question (case and spacing aside), so that answering it
 * again replaces the earlier answer. The hash tells apart questions whose readable part is
 * the same (long ones cut short, or ones in other scripts, which leave none).
 */
export function faqDocumentId(question) {
  const normalized = question.toLowerCase().split(/\s+/).filter(Boolean).join(' ');
  const slug = normalized
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return ['faq', slug, fnv1a(normalized)].filter(Boolean).join('-');
}

/** The 32-bit FNV-1a hash of a text's UTF-16 code units, as 8 hex digits. */
function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (let at = 0; at < text.length; at += 1) {
    hash ^= text.charCodeAt(at);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * Makes a tablist keyboard-operable as the ARIA practices describe: arrows, Home and End
 * move between tabs, and only the selected tab is in the tab order.
 */
export function tabs(tablist, onSelect) {
  const all = [...tablist.querySelectorAll('[role="tab"]')];
  const select = (tab, focus) => {
    for (const other of all) {
      const selected = other === tab;
      other.setAttribute('aria-selected', String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute('aria-controls')).hidden = !selected;
    }
    if (focus) {
      tab.focus();
    }
    onSelect(tab.id);
  };
  for (const tab of all) {
    tab.addEventListener('click', () => select(tab, false));
    tab.addEventListener('keydown', (event) => {
      const at = all.indexOf(tab);
      const next = {
        ArrowRight: all[(at + 1) % all.length],
        ArrowLeft: all[(at - 1 + all.length) % all.length],
        Home: all[0],
        End: all[all.length - 1]
      }[event.key];
      if (next) {
        event.preventDefault();
        select(next, true);
      }
    });
  }
  return {
    selected: () => all.find((tab) => tab.getAttribute('aria-selected') === 'true').id,
    select: (id) => select(all.find((tab) => tab.id === id), false)
  };
}

/** Asks for confirmation in the page's dialog; resolves true when confirmed. */
export function confirmAction(text, confirmLabel = 'Delete') {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  const [cancel, confirm] = dialog.querySelectorAll('button');
  confirm.textContent = confirmLabel;
  return new Promise((resolve) => {
    const done = (value) => {
      cancel.removeEventListener('click', onCancel);
      confirm.removeEventListener('click', onConfirm);
      dialog.removeEventListener('cancel', onCancel);
      dialog.close();
      resolve(value);
    };
    const onCancel = () => done(false);
    const onConfirm = () => done(true);
    cancel.addEventListener('click', onCancel);
    confirm.addEventListener('click', onConfirm);
    // Escape closes the dialog with a `cancel` event.
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
  });
}
