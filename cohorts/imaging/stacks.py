"""The stacks a study is read in: all series of one role and orientation, stations combined.

A whole-body scanner sends each station (neck and shoulders, thorax, pelvis, thighs, lower
legs) as its own axial series, neighbouring stations overlapping by a few centimetres. The
reader scrolls one stack per role from head to foot:

- Axial series of a role are stations of one stack, ordered head to foot by position along
  the patient axis (Instance.position_along_normal, which counts towards the head).
- Overlap: where two neighbouring stations overlap, the stack cuts at the middle of the
  overlap, each station keeping the slices on its side of the cut. Each slice shown is then
  the one nearer its own station's centre, where the scanner's field is most uniform and
  the image least distorted; one slice per position, no slice shown twice.
- Gaps: where the last slice of one station and the first of the next are further apart
  than 1.5 slice spacings, the stack records a gap (the missing coverage in mm) between them.
- Slices without a position (no Image Position/Orientation and no Slice Location) cannot be
  placed: such series follow in series-number order, each in instance-number order.
- A coronal or sagittal series of a role is shown as its own stack in its own orientation:
  its stations would have to be joined in-plane, which is not what a reader needs for
  grading; the longest such series of each orientation is shown.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cohorts.models import Instance, Series

GAP_FACTOR = 1.5  # a step between stations larger than this many spacings is a gap
ORIENTATION_ORDER = ("axial", "coronal", "sagittal", "unknown")


@dataclass(frozen=True)
class StackSlice:
    instance: Instance
    station: int  # 1-based, head to foot
    position: float | None


@dataclass
class Stack:
    role: str
    orientation: str
    series: list[Series]  # the stations, head to foot
    slices: list[StackSlice] = field(default_factory=list)
    gaps: list[dict] = field(default_factory=list)  # {"after": index, "mm": missing coverage}
    # The viewport's name: the role for a role's first stack ("stir"), else with the
    # orientation ("stir-coronal").
    key: str = ""


def _positioned(instances: Iterable[Instance]) -> bool:
    return all(i.position_along_normal is not None for i in instances)


def _spacing(stations: Sequence[list[Instance]]) -> float | None:
    steps = [
        abs(a.position_along_normal - b.position_along_normal)
        for station in stations
        for a, b in zip(station, station[1:], strict=False)
        if a.position_along_normal != b.position_along_normal
    ]
    return statistics.median(steps) if steps else None


def compose_axial(role: str, members: list[tuple[Series, list[Instance]]]) -> Stack:
    """One head-to-foot stack of the axial series of a role (see the module doc)."""
    placed = [(s, i) for s, i in members if i and _positioned(i)]
    unplaced = sorted(
        [(s, i) for s, i in members if i and not _positioned(i)],
        key=lambda m: (m[0].series_number is None, m[0].series_number or 0, m[0].pk),
    )
    placed.sort(key=lambda m: -max(i.position_along_normal for i in m[1]))
    stations = []
    for _series, instances in placed:
        ordered = sorted(instances, key=lambda i: (-i.position_along_normal, i.pk))
        unique = [ordered[0]] + [
            b
            for a, b in zip(ordered, ordered[1:], strict=False)
            if b.position_along_normal != a.position_along_normal
        ]
        stations.append(unique)
    # Cut each overlap at its middle: station k keeps (lower cut, upper cut].
    cuts = [float("inf")]
    for above, below in zip(stations, stations[1:], strict=False):
        bottom, top = above[-1].position_along_normal, below[0].position_along_normal
        cuts.append((bottom + top) / 2)  # the middle of the overlap (or of the gap)
    cuts.append(float("-inf"))
    stack = Stack(role=role, orientation="axial", series=[s for s, _ in placed + unplaced])
    spacing = _spacing(stations)
    for number, station in enumerate(stations, start=1):
        upper, lower = cuts[number - 1], cuts[number]
        kept = [i for i in station if lower < i.position_along_normal <= upper]
        if not kept:
            continue
        if stack.slices and spacing:
            step = stack.slices[-1].position - kept[0].position_along_normal
            if step > GAP_FACTOR * spacing:
                stack.gaps.append({"after": len(stack.slices) - 1, "mm": round(step - spacing, 1)})
        stack.slices += [StackSlice(i, number, i.position_along_normal) for i in kept]
    for number, (_series, instances) in enumerate(unplaced, start=len(stations) + 1):
        ordered = sorted(instances, key=lambda i: (i.instance_number or 0, i.pk))
        stack.slices += [StackSlice(i, number, i.position_along_normal) for i in ordered]
    return stack


def single_series_stack(
    role: str, orientation: str, series: Series, instances: list[Instance]
) -> Stack:
    """A stack of one series in its own orientation, in slice order."""
    if _positioned(instances):
        ordered = sorted(instances, key=lambda i: (i.position_along_normal, i.pk))
    else:
        ordered = sorted(instances, key=lambda i: (i.instance_number or 0, i.pk))
    slices = [StackSlice(i, 1, i.position_along_normal) for i in ordered]
    return Stack(role=role, orientation=orientation, series=[series], slices=slices)


def study_stacks(*, study_id: int, roles: Sequence[str]) -> list[Stack]:
    """The stacks of a study for these roles, each role's axial stack first."""
    series_list = list(
        Series.objects.filter(study_id=study_id, sequence__in=roles).order_by("series_number", "pk")
    )
    instances: dict[int, list[Instance]] = {s.pk: [] for s in series_list}
    for instance in Instance.objects.filter(series__in=series_list).only(
        "pk", "series_id", "instance_number", "slice_location", "position_along_normal"
    ):
        instances[instance.series_id].append(instance)
    stacks = []
    for role in roles:
        of_role = [s for s in series_list if s.sequence == role and instances[s.pk]]
        for orientation in ORIENTATION_ORDER:
            members = [
                (s, instances[s.pk]) for s in of_role if (s.orientation or "unknown") == orientation
            ]
            if not members:
                continue
            if orientation == "axial":
                stack = compose_axial(role, members)
            else:
                series, chosen = max(members, key=lambda m: (len(m[1]), -m[0].pk))
                stack = single_series_stack(role, orientation, series, chosen)
            first = not any(s.role == role for s in stacks)
            stack.key = role.lower() if first else f"{role.lower()}-{orientation}"
            stacks.append(stack)
    return stacks
