/*
 * Accessibility repairs for Dash 4 component markup, applied as components render.
 *
 * - dcc.Dropdown renders a focusable <input class="dash-dropdown-focus-target"> marked
 *   aria-hidden, so keyboard users land on a control screen readers cannot see. We expose it as a
 *   combobox named by the field's <label> and the current value.
 * - dcc.RadioItems / dcc.Checklist render role="listbox" with role="option" labels wrapped around
 *   real inputs (interactive controls nested in interactive roles). Native radios and checkboxes
 *   need no roles: the list becomes a radiogroup / group named by its legend or label.
 */
(function () {
  "use strict";
  let counter = 0;

  function ensureId(el, prefix) {
    if (!el.id) { counter += 1; el.id = prefix + "-" + counter; }
    return el.id;
  }

  function set(el, name, value) {
    if (el.getAttribute(name) !== value) { el.setAttribute(name, value); }
  }

  function labelFor(control) {
    if (!control || !control.id) { return null; }
    const direct = document.querySelector('label[for="' + CSS.escape(control.id) + '"]');
    if (direct) { return direct; }
    const fieldset = control.closest("fieldset");
    return fieldset ? fieldset.querySelector("legend") : null;
  }

  function repairDropdown(input) {
    const wrapper = input.parentElement;
    const button = wrapper && wrapper.querySelector("button.dash-dropdown");
    if (!button) { return; }
    if (input.hasAttribute("aria-hidden")) { input.removeAttribute("aria-hidden"); }
    set(input, "role", "combobox");
    set(input, "aria-haspopup", "listbox");
    set(input, "aria-expanded", button.getAttribute("aria-expanded") || "false");
    const label = labelFor(button);
    const value = wrapper.querySelector(".dash-dropdown-value");
    const ids = [];
    if (label) { ids.push(ensureId(label, "label")); }
    if (value) { ids.push(ensureId(value, "value")); }
    if (ids.length) { set(input, "aria-labelledby", ids.join(" ")); }
  }

  function repairOptionsList(list) {
    const radios = list.querySelector('input[type="radio"]');
    set(list, "role", radios ? "radiogroup" : "group");
    const label = labelFor(list);
    if (label) { set(list, "aria-labelledby", ensureId(label, "label")); }
    list.querySelectorAll('[role="option"]').forEach(function (option) {
      option.removeAttribute("role");
      option.removeAttribute("aria-selected");
    });
  }

  function repairAll(root) {
    root.querySelectorAll("input.dash-dropdown-focus-target").forEach(repairDropdown);
    root.querySelectorAll(".dash-options-list[role=\"listbox\"]").forEach(repairOptionsList);
  }

  let scheduled = false;
  function schedule() {
    if (scheduled) { return; }
    scheduled = true;
    window.requestAnimationFrame(function () { scheduled = false; repairAll(document); });
  }

  function start() {
    repairAll(document);
    new MutationObserver(schedule).observe(document.body, {
      childList: true, subtree: true, attributes: true,
      attributeFilter: ["aria-expanded", "aria-hidden", "role"],
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
