// Progressive enhancement of the offboarding wizard: choosing a decision sets that row's wipe to the
// decision's default (on for return to stock and reassign). Without this file the boxes keep their state.
document.addEventListener("change", (event) => {
  const select = event.target;
  const form = select.closest("#decisions-form");
  if (!form || !select.name || !select.name.startsWith("action_")) return;
  const defaults = JSON.parse(form.dataset.wipeDefaults || "{}");
  const wipe = form.querySelector(`input[name="wipe_${select.name.slice(7)}"]`);
  if (wipe && select.value in defaults) wipe.checked = defaults[select.value];
});
