// The read's grading scales, as the page's #grade-scale gives them (scoring/views.py): one scale
// per graded sequence (the paper's 0–2, Mercuri 0–4, modified Mercuri 0–5, oedema 0–3, ...),
// and NA, which every sequence has. Grade values are strings ("0".."5", "NA"). Pure: no DOM.
//
//   {"sequences": {"STIR": {"key", "name", "max", "grades": [{"value", "label", "definition"}]}},
//    "na": {"value": "NA", "label", "definition"}}

export class GradeScales {
  constructor({ sequences, na }) {
    this.sequences = sequences;
    this.na = na;
  }

  /** The scale of a sequence, or undefined when the protocol grades no such sequence. */
  of(sequence) {
    return this.sequences[sequence];
  }

  /** {value, label, definition} of a grade on this sequence (NA included), or undefined. */
  grade(sequence, value) {
    if (value === this.na.value) {
      return this.na;
    }
    return this.of(sequence)?.grades.find((g) => g.value === value);
  }

  allows(sequence, value) {
    return this.grade(sequence, value) !== undefined;
  }

  /** "0–3": the values a sequence is graded with. */
  range(sequence) {
    const grades = this.of(sequence)?.grades || [];
    return grades.length ? `${grades[0].value}–${grades[grades.length - 1].value}` : '';
  }

  /** Why `value` is not a grade of this sequence, in the reader's words. */
  refusal(sequence, value) {
    const scale = this.of(sequence);
    if (!scale) {
      return `${sequence} has no grading scale in this protocol: ${value} is not a grade on it.`;
    }
    return `${sequence} is graded ${this.range(sequence)} (${scale.name}): ${value} is not a grade on it.`;
  }

  /** A cell's tooltip: its grade with label and definition, or its sequence's whole scale when empty. */
  cellTitle(sequence, value) {
    if (value === undefined) {
      const scale = this.of(sequence);
      const grades = [...(scale?.grades || []), this.na];
      return [`${sequence}: ${scale?.name ?? 'no scale'}`, ...grades.map(describe)].join('\n');
    }
    const grade = this.grade(sequence, value);
    return grade ? describe(grade) : `${value}: not a grade of ${this.of(sequence)?.name ?? sequence}`;
  }

  /** The sequences whose scale has this value (NA: all). */
  sequencesWith(value) {
    return Object.keys(this.sequences).filter((sequence) => this.allows(sequence, value));
  }
}

/** "3 – Moderate: definition" (no colon without a definition). */
export function describe({ value, label, definition }) {
  return `${value} – ${label}${definition ? `: ${definition}` : ''}`;
}
