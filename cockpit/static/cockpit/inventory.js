// The inventory's row selection, action bar and column chooser (devices/device_list.html). Progressive: without
// this file every column of the default set shows, the action bar is always there and posts the checked rows.
(() => {
  const table = document.getElementById("device-table");
  if (!table) return;

  // --- columns: which ones show, remembered per user in this browser ---------------------------------------
  const chooser = document.getElementById("column-chooser");
  const storageKey = chooser ? chooser.dataset.storageKey : "";
  const boxes = chooser ? Array.from(chooser.querySelectorAll("input[type=checkbox]")) : [];
  const defaults = () => boxes.filter((box) => box.hasAttribute("data-default")).map((box) => box.value);
  const readChoice = () => {
    try {
      const saved = JSON.parse(localStorage.getItem(storageKey) || "null");
      return Array.isArray(saved) ? saved : null;
    } catch (error) {
      return null;
    }
  };
  const applyColumns = (shown) => {
    boxes.forEach((box) => {
      box.checked = shown.includes(box.value);
      table.classList.toggle("hide-" + box.value, !box.checked);
    });
  };
  if (chooser) {
    chooser.hidden = false;
    applyColumns(readChoice() || defaults());
    boxes.forEach((box) => box.addEventListener("change", () => {
      const shown = boxes.filter((b) => b.checked).map((b) => b.value);
      try { localStorage.setItem(storageKey, JSON.stringify(shown)); } catch (error) { /* private mode: not kept */ }
      applyColumns(shown);
    }));
    const reset = chooser.querySelector("[data-columns-reset]");
    if (reset) reset.addEventListener("click", () => {
      try { localStorage.removeItem(storageKey); } catch (error) { /* nothing kept */ }
      applyColumns(defaults());
    });
  }

  // --- selection and the action bar -------------------------------------------------------------------------
  const form = document.getElementById("bulk-form");
  if (!form) return;
  const bar = document.getElementById("bulk-bar");
  const pageBox = document.getElementById("select-page");
  const rowBoxes = () => Array.from(table.querySelectorAll("tbody input[name=ids]"));
  const allMatching = document.getElementById("select-all-matching");
  const allMatchingBox = allMatching ? allMatching.querySelector("input") : null;
  const label = document.getElementById("bulk-selected");
  const action = document.getElementById("bulk-action");

  const refresh = () => {
    const boxes = rowBoxes();
    const checked = boxes.filter((box) => box.checked).length;
    const everyRow = boxes.length > 0 && checked === boxes.length;
    if (pageBox) {
      pageBox.checked = everyRow;
      pageBox.indeterminate = checked > 0 && !everyRow;
    }
    if (allMatching) {
      allMatching.hidden = !everyRow;  // offered once the whole page is selected
      if (!everyRow) allMatchingBox.checked = false;
    }
    const all = allMatchingBox && allMatchingBox.checked;
    bar.classList.toggle("active", checked > 0);
    bar.hidden = checked === 0;
    if (all) label.textContent = label.dataset.all;
    else label.textContent = checked === 1 ? label.dataset.one : label.dataset.many.replace("%(count)s", checked);
    boxes.forEach((box) => box.closest("tr").classList.toggle("selected", box.checked));
  };
  const showNeeds = () => {
    const option = action.selectedOptions[0];
    const needs = option ? option.dataset.needs : "";
    bar.querySelectorAll(".bulk-needs").forEach((field) => {
      const wanted = field.dataset.for === needs;
      field.hidden = !wanted;
      const input = field.querySelector("input, select");
      input.disabled = !wanted;
      input.required = wanted;
    });
  };

  table.addEventListener("change", (event) => {
    if (event.target === pageBox) rowBoxes().forEach((box) => { box.checked = pageBox.checked; });
    refresh();
  });
  if (allMatchingBox) allMatchingBox.addEventListener("change", refresh);
  action.addEventListener("change", showNeeds);
  showNeeds();
  refresh();
})();
