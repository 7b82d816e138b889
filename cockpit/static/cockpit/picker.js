// The filter forms' progressive enhancement (templates/_filters.html); every filter works without this file.
//
// 1. A picker (an <input data-lookup-url>, core.filtersets.PickerInput) becomes a combobox (WAI-ARIA 1.2 pattern):
//    typing searches the lookup URL (?q=) and lists suggestions; arrow keys move, Enter picks, Escape closes. The
//    picked object's id is submitted under the field's name (a hidden input); the text box shows its name.
//    Without JavaScript the text box itself is submitted: an id, an e-mail or a serial number.
// 2. A filter form submits only the fields that have a value: no "?platform=&group=" in the URL.
(() => {
  "use strict";
  const DELAY_MS = 150;
  let counter = 0;

  function enhance(input) {
    if (input.dataset.pickerReady) return;
    input.dataset.pickerReady = "1";
    const id = `picker-${++counter}`;
    const hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = input.name;
    hidden.value = input.value;
    input.removeAttribute("name");
    input.id = input.id || `${id}-input`;
    if (input.dataset.pickerLabel) input.value = input.dataset.pickerLabel;

    const list = document.createElement("ul");
    list.id = `${id}-list`;
    list.className = "picker-list";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    const label = input.closest("label");
    if (label) list.setAttribute("aria-label", label.firstChild.textContent.trim());

    const wrapper = document.createElement("div");
    wrapper.className = "picker";
    const anchor = label || input;
    anchor.parentNode.insertBefore(wrapper, anchor);
    wrapper.append(anchor, list, hidden);

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    const hint = input.form && input.form.querySelector("[data-picker-hint]");
    if (hint) {
      hint.id = hint.id || "picker-hint";
      input.setAttribute("aria-describedby", hint.id);
    }

    let options = [];
    let active = -1;
    let timer = null;
    let request = null;

    function open(expanded) {
      list.hidden = !expanded;
      input.setAttribute("aria-expanded", expanded ? "true" : "false");
      if (!expanded) highlight(-1);
    }

    function highlight(index) {
      active = index;
      options.forEach((option, i) => option.setAttribute("aria-selected", i === index ? "true" : "false"));
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      const option = options[index];
      if (!option) return;
      hidden.value = option.dataset.value;
      input.value = option.dataset.label;
      open(false);
    }

    function render(results) {
      list.replaceChildren();
      options = results.map((result, i) => {
        const option = document.createElement("li");
        option.id = `${id}-option-${i}`;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.dataset.value = String(result.id);
        option.dataset.label = result.label;
        option.append(document.createTextNode(result.label));
        if (result.detail) {
          const detail = document.createElement("small");
          detail.textContent = result.detail;
          option.append(" ", detail);
        }
        option.addEventListener("mousedown", (event) => {
          event.preventDefault(); // keep the focus in the text box
          choose(i);
        });
        list.append(option);
        return option;
      });
      if (!options.length) {
        const empty = document.createElement("li");
        empty.className = "picker-empty";
        empty.textContent = (hint && hint.dataset.empty) || "—";
        list.append(empty);
      }
      active = -1;
      open(true);
    }

    function search() {
      const query = input.value.trim();
      if (request) request.abort();
      request = new AbortController();
      const url = new URL(input.dataset.lookupUrl, window.location.href);
      url.searchParams.set("q", query);
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", signal: request.signal })
        .then((response) => (response.ok ? response.json() : { results: [] }))
        .then((body) => {
          if (document.activeElement === input) render(body.results || []);
        })
        .catch(() => {}); // aborted by a newer search, or offline: the text box still submits what was typed
    }

    input.addEventListener("input", () => {
      // Typed text is submitted as it is (an id, an e-mail or a serial number) until a suggestion is picked.
      hidden.value = input.value.trim();
      clearTimeout(timer);
      timer = setTimeout(search, DELAY_MS);
    });
    input.addEventListener("keydown", (event) => {
      const expanded = !list.hidden;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (!expanded) {
          search();
          return;
        }
        if (!options.length) return;
        const step = event.key === "ArrowDown" ? 1 : -1;
        highlight((active + step + options.length) % options.length);
      } else if (event.key === "Enter" && expanded && active >= 0) {
        event.preventDefault(); // pick, do not submit yet
        choose(active);
      } else if (event.key === "Escape" && expanded) {
        event.preventDefault();
        open(false);
      }
    });
    input.addEventListener("blur", () => open(false));
  }

  function submitWithoutEmpty(event) {
    const form = event.target;
    if (!form.matches("form[data-filters]") || form.method.toLowerCase() !== "get") return;
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (typeof value === "string" && value.trim() !== "") params.append(name, value.trim());
    }
    const query = params.toString();
    const target = new URL(form.action || window.location.href, window.location.href);
    window.location.assign(`${target.pathname}${query ? `?${query}` : ""}`);
  }

  function init() {
    document.querySelectorAll("input[data-lookup-url]").forEach(enhance);
    document.querySelectorAll("form[data-filters]").forEach((form) => {
      if (form.dataset.filtersReady) return;
      form.dataset.filtersReady = "1";
      form.addEventListener("submit", submitWithoutEmpty);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
