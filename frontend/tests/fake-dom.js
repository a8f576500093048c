// Just enough of a DOM for the grid's page code (grading/page.js, view.js, help.js) to run under
// node: elements with text, data-*, classes, events and simple selectors, and the read page's
// grid elements as templates/scoring/read.html lays them out.

export class FakeElement {
  constructor(tagName, { id = '', className = '', dataset = {}, text = '' } = {}) {
    this.nodeType = 1;
    this.tagName = tagName.toUpperCase();
    this.id = id;
    this.className = className;
    this.dataset = { ...dataset };
    this.children = [];
    this.parent = null;
    this.text = text;
    this.listeners = new Map();
    this.attributes = {};
    this.hidden = false;
    this.open = false;
    this.title = '';
    this.value = '';
    this.ownerDocument = null;
  }

  get textContent() {
    return this.children.length ? this.children.map((c) => c.textContent).join('') : this.text;
  }

  set textContent(text) {
    this.children = [];
    this.text = String(text);
  }

  get classList() {
    const names = () => new Set(this.className.split(/\s+/).filter(Boolean));
    const set = (s) => (this.className = [...s].join(' '));
    return {
      contains: (name) => names().has(name),
      add: (...add) => set(new Set([...names(), ...add])),
      remove: (...remove) => set([...names()].filter((n) => !remove.includes(n))),
      toggle: (name, on = !names().has(name)) => {
        const s = names();
        if (on) {
          s.add(name);
        } else {
          s.delete(name);
        }
        set(s);
        return on;
      },
    };
  }

  get cells() {
    return this.children.filter((c) => c.tagName === 'TD');
  }

  append(...nodes) {
    for (const node of nodes) {
      const child = typeof node === 'string' ? { textContent: node } : node;
      child.parent = this;
      this.children.push(child);
    }
  }

  replaceChildren(...nodes) {
    this.children = [];
    this.text = '';
    this.append(...nodes);
  }

  insertCell() {
    const td = new FakeElement('td');
    this.append(td);
    return td;
  }

  setAttribute(name, value) {
    this.attributes[name] = String(value);
  }

  getAttribute(name) {
    return this.attributes[name] ?? null;
  }

  addEventListener(type, listener) {
    if (!this.listeners.has(type)) {
      this.listeners.set(type, []);
    }
    this.listeners.get(type).push(listener);
  }

  removeEventListener(type, listener) {
    this.listeners.set(type, (this.listeners.get(type) || []).filter((l) => l !== listener));
  }

  dispatchEvent(event) {
    for (const listener of this.listeners.get(event.type) || []) {
      listener(event);
    }
    return true;
  }

  focus() {
    if (this.ownerDocument) {
      this.ownerDocument.activeElement = this;
    }
  }

  scrollIntoView() {}

  showModal() {
    this.open = true;
  }

  close() {
    this.open = false;
  }

  /** Every element below this one, in document order. */
  descendants() {
    return this.children.filter((c) => c.nodeType === 1).flatMap((c) => [c, ...c.descendants()]);
  }

  matches(selector) {
    const [, tag, id, classes, attrs] = /^(\w*)(?:#([\w-]+))?((?:\.[\w-]+)*)((?:\[\w+\])*)$/.exec(selector);
    return (!tag || this.tagName === tag.toUpperCase())
      && (!id || this.id === id)
      && classes.split('.').filter(Boolean).every((c) => this.classList.contains(c))
      && [...attrs.matchAll(/\[(\w+)\]/g)].every(([, a]) => Boolean(this[a] || a in this.attributes));
  }

  /** Selectors of compound parts joined by spaces (descendants), e.g. "#shortcut-table tbody". */
  querySelectorAll(selector) {
    let found = [this];
    for (const part of selector.trim().split(/\s+/)) {
      found = [...new Set(found.flatMap((el) => el.descendants().filter((d) => d.matches(part))))];
    }
    return found;
  }

  querySelector(selector) {
    return this.querySelectorAll(selector)[0] ?? null;
  }
}

export class FakeDocument extends FakeElement {
  constructor() {
    super('#document');
    this.nodeType = 9;
    this.body = this.adopt(new FakeElement('body'));
    this.append(this.body);
    this.activeElement = this.body;
    this.visibilityState = 'visible';
    this.readyState = 'complete';
  }

  adopt(element) {
    element.ownerDocument = this;
    for (const child of element.descendants()) {
      child.ownerDocument = this;
    }
    return element;
  }

  createElement(tag) {
    return this.adopt(new FakeElement(tag));
  }

  getElementById(id) {
    return this.descendants().find((el) => el.id === id) ?? null;
  }
}

/** A key press as the browser reports it, sent to the focused element's document. */
export function pressKey(document, code, key, mods = {}) {
  const event = {
    type: 'keydown', code, key, shiftKey: false, ctrlKey: false, altKey: false, metaKey: false,
    target: document.activeElement, defaultPrevented: false,
    preventDefault() {
      this.defaultPrevented = true;
    },
    stopPropagation() {},
    ...mods,
  };
  document.dispatchEvent(event);
  return event;
}

/**
 * The read page's elements the grid uses: the grid of `grid`'s cells (td.cell with
 * data-muscle/side/sequence/group), the bar, the dialogs, and the JSON of #grading-config and
 * #grade-scale.
 */
export function readPage({ grid, config, scale }) {
  const document = new FakeDocument();
  const el = (tag, id, props = {}) => new FakeElement(tag, { id, ...props });
  const table = el('table', 'grade-grid', { className: 'grade-grid' });
  const row = el('tr', '');
  table.append(row);
  for (const { muscle, side, sequence, group } of grid.cells) {
    row.append(el('td', '', { className: 'cell', dataset: { muscle, side, sequence, group } }));
  }
  const shortcuts = el('table', 'shortcut-table');
  shortcuts.append(el('tbody', ''));
  const help = el('dialog', 'help-dialog');
  help.append(shortcuts, el('button', 'help-close'));
  const amend = el('dialog', 'amend-dialog');
  amend.append(el('textarea', 'amend-reason'), el('button', 'amend-start'), el('button', 'amend-cancel'));
  document.body.append(
    el('script', 'grading-config', { text: JSON.stringify(config) }),
    el('script', 'grade-scale', { text: JSON.stringify(scale) }),
    el('span', 'read-status'), el('span', 'graded-count'), el('span', 'save-status'),
    el('button', 'help-button'), el('button', 'submit-button', { text: 'Submit read' }),
    el('button', 'amend-button'), el('a', 'next-case'),
    el('div', 'conflict-banner'), el('button', 'reload-button'),
    el('div', 'missing-panel'), el('strong', 'missing-title'), el('ul', 'missing-list'),
    table, el('textarea', 'read-note'), help, amend,
  );
  document.adopt(document.body);
  return document;
}
