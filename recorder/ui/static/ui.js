// mockrec ui: small conveniences on server-rendered pages, and the live call log.
// No framework, no build step; everything works without it except the live updates.
"use strict";

function rowLinks(root) {
  root.querySelectorAll("tr[data-href]").forEach((row) => {
    if (row.dataset.linked) return;
    row.dataset.linked = "1";
    row.addEventListener("click", (event) => {
      if (event.target.closest("a, input, button, select, label, form")) return;
      window.location.href = row.dataset.href;
    });
  });
}

function confirmations() {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
}

function selection() {
  const form = document.getElementById("promote");
  if (!form) return;
  const boxes = () => Array.from(form.querySelectorAll("input[name=id]"));
  const button = form.querySelector("[data-promote]");
  const update = () => {
    const chosen = boxes().filter((b) => b.checked);
    boxes().forEach((b) => b.closest("tr").classList.toggle("selected", b.checked));
    if (button) {
      button.disabled = chosen.length === 0;
      button.textContent = chosen.length ? `Mock Request (${chosen.length})` : "Mock Request";
    }
  };
  form.addEventListener("change", update);
  const all = form.querySelector("[data-select-all]");
  if (all) all.addEventListener("change", () => {
    boxes().forEach((b) => { b.checked = all.checked; });
    update();
  });
  update();
}

function newCollectionName() {
  document.querySelectorAll("[data-new-collection]").forEach((select) => {
    const label = select.closest("fieldset").querySelector("[data-new-name]");
    const update = () => { if (label) label.hidden = select.value !== ""; };
    select.addEventListener("change", update);
    update();
  });
}

function backLinks() {
  document.querySelectorAll("a[data-back]").forEach((a) => {
    a.addEventListener("click", (event) => { event.preventDefault(); history.back(); });
  });
}

function liveCalls() {
  const table = document.getElementById("calls");
  if (!table || !window.EventSource) return;
  const body = table.tBodies[0];
  const badge = document.getElementById("live");
  const empty = document.getElementById("no-calls");
  const source = new EventSource(table.dataset.events);
  source.addEventListener("open", () => {
    badge.hidden = false;
    badge.classList.remove("off");
    badge.textContent = "live";
  });
  source.addEventListener("error", () => {
    badge.classList.add("off");
    badge.textContent = "reconnecting…";
  });
  source.addEventListener("call", (event) => {
    const call = JSON.parse(event.data);
    if (body.querySelector(`tr[data-id="${call.id}"]`)) return;
    const holder = document.createElement("tbody");
    holder.innerHTML = call.html;  // rendered (and escaped) by the server's template
    const row = holder.querySelector("tr");
    row.classList.add("fresh");
    body.insertBefore(row, body.firstChild);
    if (empty) empty.hidden = true;
    rowLinks(body);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  rowLinks(document);
  confirmations();
  selection();
  newCollectionName();
  backLinks();
  liveCalls();
});
