// Clinical forms (patient, baseline and follow-up assessments): the MMT-8 total and CK × ULN
// computed live, and the range and cross-field rules checked as the clinician types.
//
// The server checks every rule again and computes the MMT-8 total itself; this script only
// spares a round trip. Its messages come from the page (written by the server from the same
// constants), so the browser and the server say the same words. Loaded as a module: the
// Content-Security-Policy allows no inline script or handler.

const MESSAGES = JSON.parse(document.getElementById("clinical-messages")?.textContent ?? "{}");

// Where a field's message goes: the slot the template renders under every field.
function errorSlot(input) {
  return input.closest(".field")?.querySelector(".field-error") ?? null;
}

function show(input, message, slot = errorSlot(input)) {
  input.setCustomValidity(message);
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  if (slot) slot.textContent = message;
  input.closest(".field")?.classList.toggle("has-error", Boolean(message));
}

function isShown(element) {
  return !element.closest("[hidden]") && !element.disabled;
}

// The message for a value outside its min/max/step, in the server's words where it has them.
function rangeMessage(input) {
  input.setCustomValidity("");
  const validity = input.validity;
  if (validity.valid || input.readOnly) return "";
  if (validity.badInput) return "Enter a number.";
  if (validity.rangeUnderflow) return input.dataset.minMessage ?? input.validationMessage;
  if (validity.rangeOverflow) return input.dataset.maxMessage ?? input.validationMessage;
  if (validity.stepMismatch) {
    return input.step && input.step !== "1" ? "Use at most one decimal." : "Enter a whole number.";
  }
  return input.validationMessage;
}

function setUpSerology(scope) {
  const seronegative = scope.querySelector('[data-rule="seronegative"]');
  const antibodies = [...scope.querySelectorAll('[data-rule="antibody"]')];
  if (!seronegative) return () => {};
  const check = () => {
    const clash = seronegative.checked && antibodies.some((box) => box.checked);
    show(seronegative, clash ? MESSAGES.seronegativeWithAntibody : "");
  };
  for (const box of [seronegative, ...antibodies]) box.addEventListener("change", check);
  return check;
}

function setUpTreatment(scope) {
  const naive = scope.querySelector('[data-rule="treatment-naive"]');
  const agents = [...scope.querySelectorAll('[data-rule="agent"]')];
  if (!naive) return () => {};
  const check = () => {
    const anyAgent = agents.some((a) => (a.type === "checkbox" ? a.checked : a.value.trim()));
    const clash = naive.value === "yes" && anyAgent;
    show(naive, clash ? MESSAGES.treatmentNaiveWithImmunosuppression : "");
  };
  for (const element of [naive, ...agents]) {
    element.addEventListener("change", check);
    element.addEventListener("input", check);
  }
  return check;
}

// CK as a multiple of the upper limit of normal, rounded half up to one decimal like the server.
function setUpCkRatio(scope) {
  const ck = scope.querySelector('[data-role="ck"]');
  const uln = scope.querySelector('[data-role="ck-uln"]');
  const output = scope.querySelector('[data-role="ck-ratio"]');
  if (!ck || !uln || !output) return;
  const update = () => {
    const a = Number(ck.value);
    const b = Number(uln.value);
    const usable = ck.value !== "" && uln.value !== "" && ck.validity.valid && uln.validity.valid;
    if (!usable || !Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 1) {
      output.textContent = "—";
      return;
    }
    const tenths = Math.floor((20 * a + b) / (2 * b));
    output.textContent = `${(tenths / 10).toFixed(1)} × ULN`;
  };
  ck.addEventListener("input", update);
  uln.addEventListener("input", update);
  update();
}

// MMT-8 as a total or per muscle group; with groups the total field shows their sum, read-only.
function setUpMmt8(scope) {
  const box = scope.querySelector("[data-mmt8]");
  if (!box) return () => true;
  const modes = [...box.querySelectorAll('[data-role="mmt8-mode"]')];
  const total = box.querySelector('[data-role="mmt8-total"]');
  const groups = [...box.querySelectorAll("[data-mmt8-group]")];
  const parts = [...box.querySelectorAll("[data-mmt8-part]")];
  const sumOutput = box.querySelector('[data-role="mmt8-sum"]');
  const countOutput = box.querySelector('[data-role="mmt8-count"]');
  const groupErrors = box.querySelector(".group-errors");
  const byGroups = () => modes.find((radio) => radio.checked)?.value === "groups";

  const showGroupErrors = (lines) => {
    groupErrors.replaceChildren(
      ...lines.map((line) => Object.assign(document.createElement("li"), { textContent: line })),
    );
  };

  // Returns false when the groups are not a complete, valid entry (checked fully on submit).
  // On page load the server's messages stay as rendered; from then on the script keeps them.
  const update = ({ submitting = false, initial = false } = {}) => {
    const grouped = byGroups();
    for (const part of parts) part.hidden = !grouped;
    total.readOnly = grouped;
    total.tabIndex = grouped ? -1 : 0; // nothing to type there: Tab goes to the groups
    let sum = 0;
    let scored = 0;
    const problems = [];
    const missing = [];
    for (const input of groups) {
      const message = grouped ? rangeMessage(input) : "";
      input.setCustomValidity(message);
      if (!initial) input.closest("td")?.classList.toggle("has-error", Boolean(message));
      if (message) {
        input.setAttribute("aria-invalid", "true");
        problems.push(`${input.dataset.label}: ${message}`);
      } else {
        if (!initial) input.removeAttribute("aria-invalid");
        if (input.value === "") missing.push(input);
        else if (input.validity.valid) {
          sum += Number(input.value);
          scored += 1;
        }
      }
    }
    sumOutput.textContent = `${sum} / ${MESSAGES.mmt8TotalMax ?? 150}`;
    countOutput.textContent = `(${scored} of ${groups.length} groups scored)`;
    if (!grouped) {
      if (!initial) showGroupErrors([]);
      return true;
    }
    total.value = scored === groups.length ? String(sum) : "";
    if (initial) return problems.length === 0;
    show(total, "");
    if (submitting && missing.length && !problems.length) {
      for (const input of missing) input.setCustomValidity(MESSAGES.mmt8GroupsIncomplete);
      const names = missing.map((input) => input.dataset.label).join(", ");
      problems.push(`${MESSAGES.mmt8GroupsIncomplete} Missing: ${names}.`);
    }
    showGroupErrors(problems);
    return problems.length === 0;
  };

  box.addEventListener("input", (event) => {
    if (event.target.matches("[data-mmt8-group]")) update();
  });
  for (const radio of modes) radio.addEventListener("change", () => update());
  update({ initial: true });
  return update;
}

// Inputs checked by their own rules above (groups, cross-field boxes) or with nothing to check.
const NOT_SIMPLE = "[data-mmt8-group], [data-rule], [type=hidden], [type=checkbox], [type=radio]";

function setUpForm(form) {
  // Our messages next to the fields replace the browser's bubbles; the server checks again.
  form.noValidate = true;
  const fieldChecks = [];
  const mmt8Updates = [];
  fieldChecks.push(setUpSerology(form));
  for (const scope of form.querySelectorAll("[data-assessment]")) {
    fieldChecks.push(setUpTreatment(scope));
    setUpCkRatio(scope);
    mmt8Updates.push(setUpMmt8(scope));
  }

  const simpleInputs = () =>
    [...form.querySelectorAll("input, select, textarea")].filter(
      (el) => isShown(el) && !el.matches(NOT_SIMPLE),
    );
  const checkSimple = (input) => show(input, rangeMessage(input));
  form.addEventListener("input", (event) => {
    if (simpleInputs().includes(event.target)) checkSimple(event.target);
  });

  form.addEventListener("submit", (event) => {
    for (const input of simpleInputs()) checkSimple(input);
    for (const check of fieldChecks) check();
    for (const update of mmt8Updates) update({ submitting: true });
    const firstInvalid = [...form.elements].find(
      (el) => isShown(el) && el.willValidate && !el.checkValidity(),
    );
    if (firstInvalid) {
      event.preventDefault();
      firstInvalid.focus();
    }
  });

  // Enter saves from anywhere in the form, also from a checkbox, radio or select.
  form.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.isComposing || event.shiftKey || event.altKey) return;
    if (event.target.matches('input[type="checkbox"], input[type="radio"], select')) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

for (const form of document.querySelectorAll("form.clinical-form")) {
  setUpForm(form);
  // Sent back with errors: start where the first one is, not on the first field.
  const firstError = [...form.querySelectorAll('[aria-invalid="true"]')].find(isShown);
  firstError?.focus();
}
