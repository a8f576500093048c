// Slice synchronisation between series that may have different frames of
// reference, slice counts and spacing. Pure functions: no Cornerstone here.
//
// Each series gives `positions` (slice position along its stack normal, i.e.
// dot(ImagePositionPatient, normal), in imageIds order) and/or
// `sliceLocations`. The follower goes to the slice whose position is nearest
// to the leader's; failing that, to the nearest slice location; the same
// index only when neither is usable for both series. Only series of one sync group (one
// orientation: a coronal stack does not follow an axial one) are matched with each other.

/** An array of finite numbers with one entry per image, or null. */
export function usableCoords(values, count) {
  if (!Array.isArray(values) || values.length !== count || count === 0) {
    return null;
  }
  for (const v of values) {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      return null;
    }
  }
  return values;
}

/** Index of the value in `values` nearest to `target` (first one on ties). */
export function nearestIndex(values, target) {
  let best = 0;
  let bestDistance = Infinity;
  for (let i = 0; i < values.length; i += 1) {
    const d = Math.abs(values[i] - target);
    if (d < bestDistance) {
      bestDistance = d;
      best = i;
    }
  }
  return best;
}

export function clampIndex(index, count) {
  if (count <= 0) {
    return 0;
  }
  return Math.min(Math.max(Math.round(index), 0), count - 1);
}

/**
 * Which coordinate the two series can be matched by:
 * 'position', 'sliceLocation' or 'index'.
 */
export function syncMode(leader, follower) {
  if (
    usableCoords(leader.positions, leader.count) &&
    usableCoords(follower.positions, follower.count)
  ) {
    return 'position';
  }
  if (
    usableCoords(leader.sliceLocations, leader.count) &&
    usableCoords(follower.sliceLocations, follower.count)
  ) {
    return 'sliceLocation';
  }
  return 'index';
}

/**
 * The follower's slice index matching the leader's slice `leaderIndex`.
 * leader/follower: {count, positions, sliceLocations}.
 */
export function matchSlice(leader, leaderIndex, follower) {
  const mode = syncMode(leader, follower);
  const i = clampIndex(leaderIndex, leader.count);
  if (mode === 'position') {
    return nearestIndex(follower.positions, leader.positions[i]);
  }
  if (mode === 'sliceLocation') {
    return nearestIndex(follower.sliceLocations, leader.sliceLocations[i]);
  }
  return clampIndex(i, follower.count);
}

/**
 * The sync group of a configuration's series: its `syncGroup`, else its orientation, else
 * "axial" (old configurations have neither, and all their series sync together).
 */
export function syncGroupOf(raw) {
  const group = raw && (raw.syncGroup || (raw.orientation && raw.orientation !== 'unknown' ? raw.orientation : ''));
  return group ? String(group) : 'axial';
}

/** The series that follow `leader`: the others of its sync group. series: [{syncGroup}]. */
export function syncPartners(series, leader) {
  return series.filter((s) => s !== leader && s.syncGroup === leader.syncGroup);
}

/** The series grouped by sync group, in order of first appearance: [[series...], ...]. */
export function syncGroups(series) {
  const groups = new Map();
  for (const s of series) {
    if (!groups.has(s.syncGroup)) {
      groups.set(s.syncGroup, []);
    }
    groups.get(s.syncGroup).push(s);
  }
  return [...groups.values()];
}
