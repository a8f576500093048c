// Stand-ins for what the grading state machine gets from the page: a read's server (the JSON
// API of scoring/api.py, in memory), a clock, localStorage, a grid of a few muscles and the
// grading scales of a protocol with a different scale per sequence.
import { Grid } from '../grading/grid.js';
import { GradeScales } from '../grading/scale.js';

export const URLS = {
  state: '/api/reads/7/',
  grades: '/api/reads/7/grades/',
  submit: '/api/reads/7/submit/',
  amend: '/api/reads/7/amend/',
  notes: '/api/reads/7/notes/',
  activity: '/api/reads/7/activity/',
  prefs: '/api/prefs/',
};

export const STALE = 'This read was changed elsewhere (another tab or device); reload to see the latest.';

// Two functional groups of the thigh: ventral (two muscles) and medial (one).
const MUSCLES = [
  ['rectus-femoris', 'Rectus femoris', 'ventral'],
  ['vastus-lateralis', 'Vastus lateralis', 'ventral'],
  ['gracilis', 'Gracilis', 'medial'],
];
export const NAMES = Object.fromEntries(MUSCLES.map(([slug, name]) => [slug, name]));

/** The grid as the template lays it out: per muscle, R STIR, R T1, L STIR, L T1. */
export function thighGrid() {
  const cells = [];
  for (const [muscle, , group] of MUSCLES) {
    for (const side of ['R', 'L']) {
      for (const sequence of ['STIR', 'T1']) {
        cells.push({ muscle, side, sequence, group });
      }
    }
  }
  return new Grid(cells);
}

const gradeList = (...entries) => entries.map(([value, label, definition]) => ({ value, label, definition }));

/** The page's #grade-scale of a protocol grading STIR on an oedema 0–3 and T1 on modified Mercuri 0–5. */
export const SCALE = Object.freeze({
  sequences: {
    STIR: {
      key: 'oedema-0-3',
      name: 'Oedema 0–3',
      max: 3,
      grades: gradeList(
        ['0', 'No oedema', 'Signal as in healthy muscle'],
        ['1', 'Mild', 'Faint or patchy hyperintensity'],
        ['2', 'Moderate', 'Clear hyperintensity in part of the muscle'],
        ['3', 'Severe', 'Hyperintensity through the whole muscle'],
      ),
    },
    T1: {
      key: 'mercuri-modified-0-5',
      name: 'Modified Mercuri 0–5',
      max: 5,
      grades: gradeList(
        ['0', 'Normal', 'Normal appearance'],
        ['1', 'Traces', 'Traces of increased signal'],
        ['2', 'Mild', 'Increased signal in less than 30 % of the muscle'],
        ['3', 'Moderate', 'Increased signal in 30–60 % of the muscle'],
        ['4', 'Severe', 'Increased signal in more than 60 %'],
        ['5', 'End stage', ''], // no definition: the label alone
      ),
    },
  },
  na: { value: 'NA', label: 'Not assessable', definition: 'Outside the field of view, artefact' },
});

export function thighScales() {
  return new GradeScales(SCALE);
}

/**
 * A read on the server: versioned grades, note, findings, status. `offline` makes every
 * request fail as a lost connection does; `loseNextAnswer` applies the next save but loses its
 * answer; `failNext` answers the next save with that HTTP status.
 */
export class FakeServer {
  constructor({ version = 0, status = 'in_progress', grades = {} } = {}) {
    this.version = version;
    this.status = status;
    this.grades = new Map(Object.entries(grades));
    this.note = '';
    this.findings = {};
    this.requests = []; // {url, body} of every request that reached the server
    this.offline = false;
    this.loseNextAnswer = false;
    this.failNext = null;
    this.refuseNext = null;
    this.cellCount = thighGrid().size;
    this.fetch = this.fetch.bind(this);
  }

  /** Another tab of the same read saves a grade. */
  saveElsewhere(key, value) {
    this.grades.set(key, value);
    this.version += 1;
  }

  state() {
    const grades = [...this.grades].map(([key, value]) => {
      const [muscle, side, sequence] = key.split('|');
      return { muscle, side, sequence, value };
    });
    return { version: this.version, status: this.status, grades, note: this.note, findings: this.findings };
  }

  async fetch(url, options = {}) {
    await Promise.resolve();
    if (this.offline) {
      throw new TypeError('Failed to fetch');
    }
    const body = options.body ? JSON.parse(options.body) : null;
    this.requests.push({ url, body });
    if (!body) {
      return answer(200, this.state());
    }
    if (this.failNext) {
      const status = this.failNext;
      this.failNext = null;
      return answer(status, {});
    }
    if (this.refuseNext) {
      const detail = this.refuseNext;
      this.refuseNext = null;
      return answer(400, { detail, code: 'invalid' });
    }
    if (url === URLS.submit) {
      return this.submit(body);
    }
    if (body.version !== this.version) {
      return answer(409, { detail: STALE, code: 'stale' });
    }
    if (url === URLS.grades || url === URLS.amend) {
      if (this.status === 'submitted' && url === URLS.grades) {
        return answer(409, { detail: 'This read is submitted; amend it with a reason.', code: 'locked' });
      }
      for (const c of body.changes) {
        this.grades.set(`${c.muscle}|${c.side}|${c.sequence}`, c.value);
      }
      if (this.status === 'assigned') {
        this.status = 'in_progress';
      }
    } else if (url === URLS.notes) {
      if (body.note !== undefined) {
        this.note = body.note;
      }
      if (body.findings !== undefined) {
        this.findings = body.findings;
      }
    }
    this.version += 1;
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new TypeError('Failed to fetch'); // saved, but the page never hears of it
    }
    return answer(200, { version: this.version, status: this.status, graded: this.grades.size });
  }

  submit(body) {
    const graded = new Set(this.grades.keys());
    const missing = thighGrid().cells.filter((c) => !graded.has(c.key));
    if (missing.length) {
      return answer(400, {
        detail: 'Every cell must be graded or marked NA before the read can be submitted.',
        code: 'incomplete',
        missing: missing.map((c) => ({ muscle: c.muscle, name: NAMES[c.muscle], side: c.side, sequence: c.sequence })),
      });
    }
    if (body.version !== this.version) {
      return answer(409, { detail: STALE, code: 'stale' });
    }
    this.status = 'submitted';
    this.version += 1;
    return answer(200, { ...this.state() });
  }

  /** The requests that carried grades, as {url, version, changes: {key: value}}. */
  saves() {
    return this.requests
      .filter((r) => r.body && r.body.changes)
      .map((r) => ({
        url: r.url,
        version: r.body.version,
        changes: Object.fromEntries(r.body.changes.map((c) => [`${c.muscle}|${c.side}|${c.sequence}`, c.value])),
        ...(r.body.reason !== undefined ? { reason: r.body.reason } : {}),
      }));
  }
}

function answer(status, body) {
  return { ok: status >= 200 && status < 300, status, json: async () => body };
}

/** setTimeout/clearTimeout on a clock that moves only when the test says so. */
export class FakeClock {
  constructor() {
    this.now = 0;
    this.timers = new Map();
    this.nextId = 1;
  }

  setTimeout(fn, ms) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.now + ms, ms, fn });
    return id;
  }

  clearTimeout(id) {
    this.timers.delete(id);
  }

  /** Delays (ms) of the timers waiting now. */
  waiting() {
    return [...this.timers.values()].map((t) => t.ms);
  }

  /** Move the clock on by `ms`, running each timer that comes due (and what it awaits). */
  async advance(ms) {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) {
        break;
      }
      const [id, timer] = due;
      this.timers.delete(id);
      this.now = timer.at;
      timer.fn();
      await settled();
    }
    this.now = until;
  }
}

export class FakeStorage {
  constructor(entries = {}) {
    this.items = new Map(Object.entries(entries));
  }

  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }

  setItem(key, value) {
    this.items.set(key, String(value));
  }

  removeItem(key) {
    this.items.delete(key);
  }
}

/** Let every promise that can settle now settle (the fake server answers on microtasks). */
export async function settled() {
  for (let i = 0; i < 50; i += 1) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}
