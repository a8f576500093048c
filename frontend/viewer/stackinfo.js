// What the overlay and region navigation know about a stack, with no DOM and no Cornerstone:
// station and position of a slice, gaps in coverage next to it, the overlay's counter text,
// and which slice lies at a region's level. Pure: the node tests import it.
//
// A stack (see frontend/README.md) is the series of one role and orientation of a study,
// stations combined, images in display order (axial: head to foot). Its record here needs
// {imageIds, positions, stations, stationCount, gaps, orientation}.

import { nearestIndex, usableCoords } from '../sync.js';

/** Station number (1-based) of slice `index`, or null when the stack has none. */
export function stationAt(stack, index) {
  const stations = stack.stations;
  if (!Array.isArray(stations) || stations.length !== stack.imageIds.length) {
    return null;
  }
  const raw = stations[index];
  const s = raw === null || raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isFinite(s) ? s : null;
}

/** How many stations the stack has (stationCount, else the largest station number), or null. */
export function stationCountOf(stack) {
  const n = Number(stack.stationCount);
  if (Number.isFinite(n) && n > 0) {
    return n;
  }
  const stations = Array.isArray(stack.stations) ? stack.stations.map(Number).filter(Number.isFinite) : [];
  return stations.length ? Math.max(...stations) : null;
}

/** Position (mm) of slice `index` along the patient axis, or null. */
export function positionAt(stack, index) {
  const positions = usableCoords(stack.positions, stack.imageIds.length);
  return positions ? positions[index] : null;
}

/**
 * The gaps in coverage next to slice `index`: {before: mm | null, after: mm | null}.
 * A gap {after: k, mm} lies between slices k and k + 1: slice k has it after (below, for an
 * axial stack shown head to foot), slice k + 1 before (above).
 */
export function gapsAround(gaps, index) {
  const out = { before: null, after: null };
  if (!Array.isArray(gaps)) {
    return out;
  }
  for (const gap of gaps) {
    if (!gap || typeof gap !== 'object' || gap.after === null || gap.mm === null) {
      continue;
    }
    const after = Number(gap.after);
    const mm = Number(gap.mm);
    if (!Number.isInteger(after) || !Number.isFinite(mm)) {
      continue;
    }
    if (after === index) {
      out.after = mm;
    }
    if (after + 1 === index) {
      out.before = mm;
    }
  }
  return out;
}

/** "+123.0" / "-45.5": a position in mm with its sign, one decimal. */
export function formatMm(mm) {
  const rounded = Math.round(mm * 10) / 10;
  const text = Math.abs(rounded).toFixed(1);
  return `${rounded < 0 ? '-' : '+'}${text}`;
}

/**
 * The overlay's counter: "station 2 / 4 · position +123.0 mm · slice 12 / 300"; the station
 * and position parts left out when the stack does not know them. As a list of parts.
 */
export function sliceTextParts(stack, index) {
  const count = stack.imageIds.length;
  const parts = [];
  const station = stationAt(stack, index);
  if (station !== null) {
    const of = stationCountOf(stack);
    parts.push(of ? `station ${station} / ${of}` : `station ${station}`);
  }
  const position = positionAt(stack, index);
  if (position !== null) {
    parts.push(`position ${formatMm(position)} mm`);
  }
  parts.push(count ? `slice ${index + 1} / ${count}` : 'slice 0 / 0');
  return parts;
}

export function sliceText(stack, index) {
  return sliceTextParts(stack, index).join(' · ');
}

/**
 * The gap mark of slice `index`: "gap 24 mm below" (axial, towards the feet) / "above", or
 * "after" / "before" for other orientations; both when the slice lies between two gaps; ''.
 */
export function gapText(stack, index) {
  const { before, after } = gapsAround(stack.gaps, index);
  const axial = stack.orientation === 'axial' || !stack.orientation || stack.orientation === 'unknown';
  const marks = [];
  if (before !== null) {
    marks.push(`gap ${fmtGap(before)} mm ${axial ? 'above' : 'before'}`);
  }
  if (after !== null) {
    marks.push(`gap ${fmtGap(after)} mm ${axial ? 'below' : 'after'}`);
  }
  return marks.join(' · ');
}

function fmtGap(mm) {
  return Number.isInteger(mm) ? String(mm) : mm.toFixed(1);
}

/**
 * The stack that leads when going to (or pinning) a level along the patient axis: the first
 * axial stack with usable positions, else the first of unknown orientation with them; null.
 */
export function levelLeader(stacks) {
  const usable = stacks.filter((s) => usableCoords(s.positions, s.imageIds.length));
  return (
    usable.find((s) => s.orientation === 'axial') ||
    usable.find((s) => !s.orientation || s.orientation === 'unknown') ||
    null
  );
}

/** The slice of `stack` nearest to position `mm`, or null without positions or level. */
export function indexAtLevel(stack, mm) {
  const positions = usableCoords(stack.positions, stack.imageIds.length);
  const target = Number(mm);
  if (!positions || mm === null || mm === undefined || !Number.isFinite(target)) {
    return null;
  }
  return nearestIndex(positions, target);
}

/** The known level (mm) of a group in the configuration's `levels`, or null. */
export function levelOf(levels, group) {
  const entry = levels && group ? levels[group] : null;
  const mm = entry ? Number(entry.position) : NaN;
  return entry && entry.position !== null && Number.isFinite(mm) ? mm : null;
}

/**
 * Where a pin is taken from: the focused stack when it is axial (or of unknown orientation,
 * as old configurations are), else the level leader. {stack, position} or null.
 */
export function pinSource(stacks, focused) {
  const axialLike = (s) => s && (s.orientation === 'axial' || !s.orientation || s.orientation === 'unknown');
  const stack = axialLike(focused) && positionAt(focused, focused.index) !== null ? focused : levelLeader(stacks);
  if (!stack) {
    return null;
  }
  const position = positionAt(stack, stack.index);
  return position === null ? null : { stack, position };
}
