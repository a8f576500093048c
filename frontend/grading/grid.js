// The grading grid's shape, with no DOM: its cells in reading order (row by row: a muscle's
// right side then left side, each side's sequences in turn), and the moves a reader makes on
// it. A cell is {key, muscle, side, sequence, group}; its key is "muscle|side|sequence".

export function cellKey(muscle, side, sequence) {
  return `${muscle}|${side}|${sequence}`;
}

/** {muscle, side, sequence} of a cell key. */
export function splitKey(key) {
  const [muscle, side, sequence] = key.split('|');
  return { muscle, side, sequence };
}

export class Grid {
  /** cells: [{muscle, side, sequence, group}] in the page's order. */
  constructor(cells) {
    this.cells = cells.map((c) => ({ ...c, key: cellKey(c.muscle, c.side, c.sequence) }));
    this.byKey = new Map(this.cells.map((c) => [c.key, c]));
  }

  get size() {
    return this.cells.length;
  }

  has(key) {
    return this.byKey.has(key);
  }

  /** The cell `delta` steps on in reading order, stopping at the first and the last. */
  step(key, delta) {
    const index = this.cells.findIndex((c) => c.key === key);
    return this.cells[clamp(index + delta, this.cells.length)].key;
  }

  /** The cell `delta` muscles down (or up) in the same column (side and sequence). */
  stepInColumn(key, delta) {
    const cell = this.byKey.get(key);
    const column = this.cells.filter((c) => c.side === cell.side && c.sequence === cell.sequence);
    const index = column.findIndex((c) => c.key === key);
    return column[clamp(index + delta, column.length)].key;
  }

  /** The same muscle and sequence on the other side. */
  otherSide(key) {
    const cell = this.byKey.get(key);
    const other = { L: 'R', R: 'L' }[cell.side];
    return this.byKey.has(cellKey(cell.muscle, other, cell.sequence)) ? cellKey(cell.muscle, other, cell.sequence) : null;
  }

  /** Every cell of this cell's functional group in its sequence, both sides. */
  groupOf(key) {
    const cell = this.byKey.get(key);
    return this.cells.filter((c) => c.group === cell.group && c.sequence === cell.sequence).map((c) => c.key);
  }

  /** The first cell without a value, else the first cell. */
  firstOpen(values) {
    return (this.cells.find((c) => !values.has(c.key)) || this.cells[0])?.key ?? null;
  }

  /**
   * The server's list of ungraded cells grouped by muscle, in grid order:
   * [{muscle, name, cells: [{key, side, sequence}]}].
   */
  groupMissing(missing) {
    const byMuscle = new Map();
    for (const m of missing) {
      if (!byMuscle.has(m.muscle)) {
        byMuscle.set(m.muscle, { muscle: m.muscle, name: m.name, cells: [] });
      }
      const key = cellKey(m.muscle, m.side, m.sequence);
      byMuscle.get(m.muscle).cells.push({ key, side: m.side, sequence: m.sequence });
    }
    const order = new Map(this.cells.map((c, i) => [c.key, i]));
    const first = (group) => Math.min(...group.cells.map((c) => order.get(c.key) ?? Infinity));
    return [...byMuscle.values()].sort((a, b) => first(a) - first(b));
  }

  /**
   * The server's list of ungraded cells as the reader reads it:
   * "Gracilis · Sartorius (L STIR, L T1)"; a muscle named alone has none of its cells graded.
   */
  describeMissing(missing) {
    const byMuscle = new Map();
    for (const m of missing) {
      if (!byMuscle.has(m.muscle)) {
        byMuscle.set(m.muscle, { name: m.name, open: [] });
      }
      byMuscle.get(m.muscle).open.push(`${m.side} ${m.sequence}`);
    }
    return Array.from(byMuscle, ([slug, { name, open }]) => {
      const all = this.cells.filter((c) => c.muscle === slug).length;
      return open.length === all ? name : `${name} (${open.join(', ')})`;
    }).join(' · ');
  }
}

function clamp(index, count) {
  return Math.min(count - 1, Math.max(0, index));
}
