// The grading grid's shortcuts: default keys and what each does. A reader remaps them with
// "grid.<action>" entries of their keymap (see ../keys.js for the binding syntax).

/** The grade each grade action gives; a cell takes only the grades of its sequence's scale. */
export const GRADE_KEYS = Object.freeze({
  grade0: '0', grade1: '1', grade2: '2', grade3: '3', grade4: '4', grade5: '5', gradeNA: 'NA',
});

export const GRID_KEYMAP = Object.freeze({
  grade0: ['0', 'Numpad0'],
  grade1: ['1', 'Numpad1'],
  grade2: ['2', 'Numpad2'],
  grade3: ['3', 'Numpad3'],
  grade4: ['4', 'Numpad4'],
  grade5: ['5', 'Numpad5'],
  gradeNA: ['n'],
  next: ['ArrowRight', 'Tab'],
  prev: ['ArrowLeft', 'Shift+Tab'],
  down: ['j'],
  up: ['k'],
  copySide: ['c'],
  groupFill: ['g'],
  undo: ['Ctrl+z'],
  nextCase: ['Shift+N'],
  submit: ['Ctrl+Enter'],
  help: ['?'],
});

export const GRID_LABELS = Object.freeze({
  // What each grade means depends on the cell's sequence: the list shows the scales below.
  grade0: 'Grade 0 and go to the next cell',
  grade1: 'Grade 1 and go to the next cell',
  grade2: 'Grade 2 and go to the next cell',
  grade3: 'Grade 3 and go to the next cell',
  grade4: 'Grade 4 and go to the next cell',
  grade5: 'Grade 5 and go to the next cell',
  gradeNA: 'Not assessable (NA) and go to the next cell',
  next: 'Next cell',
  prev: 'Previous cell',
  down: 'Same column, next muscle',
  up: 'Same column, previous muscle',
  copySide: "Copy this cell's value to the other side",
  groupFill: 'Then a grade key: give the empty cells of the functional group (both sides, this sequence) that grade; again at once to overwrite graded cells too',
  undo: 'Undo the last change',
  nextCase: 'Next case',
  submit: 'Submit the read',
  help: 'Show this list',
});
