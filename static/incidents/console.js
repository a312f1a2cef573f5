// Progressive enhancement for the incident console: everything works without this file.
(function () {
  "use strict";
  var MAX_MONITORS = 100;
  document.documentElement.classList.add("js");

  function setBrowserTimeZone(root) {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    if (!zone) { return; }
    // Pages show times in this zone from the next request on (ViewerTimeZoneMiddleware, which
    // reads the cookie as it is: IANA names such as "Europe/Paris" are plain cookie characters,
    // and an encoded "Europe%2FParis" would name no zone).
    if (/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    }
    // A form filled with times the server wrote in its zone keeps that zone.
    root.querySelectorAll("input[name=timezone]:not([data-keep-timezone])").forEach(function (input) { input.value = zone; });
    root.querySelectorAll("#timezone-name").forEach(function (label) { label.textContent = zone; });
  }

  function showPageBanner(text) {
    var banner = document.getElementById("page-banner");
    if (!banner) { return; }
    banner.textContent = text;
    banner.hidden = false;
  }

  function options() {
    return Array.prototype.slice.call(document.querySelectorAll("#monitor-options input[name=monitors]"));
  }

  function selectedCount() {
    return document.querySelectorAll("#monitor-selection input[name=monitors]").length;
  }

  function refuseOverLimit() {
    showPageBanner("Phare accepts at most " + MAX_MONITORS + " monitors per incident.");
  }

  function selectAll() {
    var list = options();
    if (selectedCount() + list.length > MAX_MONITORS) { refuseOverLimit(); return; }
    var selection = document.getElementById("monitor-selection");
    list.forEach(function (box) { box.checked = true; selection.appendChild(box.closest("li")); });
    document.getElementById("monitor-search").focus();
  }

  function pick(checkbox) {
    var selection = document.getElementById("monitor-selection");
    var item = checkbox.closest("li");
    if (selectedCount() >= MAX_MONITORS) {
      checkbox.checked = false;
      refuseOverLimit();
      return;
    }
    var list = options();
    var next = list[list.indexOf(checkbox) + 1] || list[list.indexOf(checkbox) - 1];
    selection.appendChild(item);
    (next || document.getElementById("monitor-search")).focus();
  }

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.name !== "monitors") { return; }
    if (box.checked && box.closest("#monitor-options")) { pick(box); }
    else if (!box.checked && box.closest("#monitor-selection")) {
      box.closest("li").remove();
      document.getElementById("monitor-search").focus();
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.id === "select-all-matches") { selectAll(); }
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target.id === "monitor-search") {
      if (event.key === "Enter") { event.preventDefault(); }  // never submits the form
      if (event.key === "ArrowDown" && options().length) { event.preventDefault(); options()[0].focus(); }
      if (event.key === "Escape") {
        target.value = "";
        htmx.trigger(target, "search");  // back to the unfiltered list
      }
      return;
    }
    if (target.name === "monitors" && target.closest("#monitor-selection") && event.key === "Enter") {
      event.preventDefault();
      target.click();  // Enter drops a chip, as it picks a result
      return;
    }
    var form = target.closest && target.closest("form.incident-form");
    if (form && event.key === "Enter" && target.matches("input:not([type=checkbox][name=monitors]), select")) {
      event.preventDefault();
      // Never "Create anyway": confirming a possible duplicate takes its own explicit press.
      form.requestSubmit(form.querySelector("button.create-button:not([name=confirm_duplicate])") || undefined);
      return;
    }
    if (target.name !== "monitors" || !target.closest("#monitor-options")) { return; }
    var list = options();
    var index = list.indexOf(target);
    if (event.key === "ArrowDown" && index < list.length - 1) { event.preventDefault(); list[index + 1].focus(); }
    else if (event.key === "ArrowUp") { event.preventDefault(); (list[index - 1] || document.getElementById("monitor-search")).focus(); }
    else if (event.key === "Enter") { event.preventDefault(); target.click(); }
    else if (event.key === "Escape") { event.preventDefault(); document.getElementById("monitor-search").focus(); }
  });

  document.addEventListener("DOMContentLoaded", function () { setBrowserTimeZone(document); });

  // After a create the server sends only the result and the next submission key: the form
  // becomes blank here, as a freshly rendered one would be.
  function withoutErrorIds(value) {
    return (value || "").split(/\s+/).filter(function (id) { return id && !/_error$/.test(id); }).join(" ");
  }

  function clearIncidentForm(form) {
    form.querySelectorAll("input[type=text], input[type=datetime-local], input[type=search], textarea, select")
      .forEach(function (field) { field.value = ""; });
    form.querySelectorAll("input[type=checkbox]:not([name=monitors])").forEach(function (box) { box.checked = false; });
    form.querySelectorAll(".errorlist").forEach(function (list) { list.remove(); });
    form.querySelectorAll(".has-error").forEach(function (field) { field.classList.remove("has-error"); });
    form.querySelectorAll("[aria-invalid]").forEach(function (field) {
      field.removeAttribute("aria-invalid");
      var described = withoutErrorIds(field.getAttribute("aria-describedby"));
      if (described) { field.setAttribute("aria-describedby", described); } else { field.removeAttribute("aria-describedby"); }
    });
    // The error banner above the form and the duplicate warning inside it.
    document.querySelectorAll("#incident-panel #form-banner").forEach(function (banner) { banner.remove(); });
    document.getElementById("monitor-selection").replaceChildren();
    htmx.trigger(document.getElementById("monitor-search"), "search");  // the unfiltered list again
  }

  document.addEventListener("incident-created", function () {
    var form = document.querySelector("form.incident-form");
    if (form) { clearIncidentForm(form); }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var panel = event.detail.target;
    if (panel.id !== "incident-panel" && panel.id !== "created-slot" && !panel.querySelector("#incident-panel")) { return; }
    setBrowserTimeZone(document);
    document.getElementById("page-banner").hidden = true;
    var focusTarget = panel.id === "created-slot"
      ? document.getElementById("created-result")  // "incident-created" then clears the old errors
      : document.querySelector("#incident-panel .has-error input, #incident-panel .has-error select, #incident-panel .has-error textarea")
        || document.getElementById("form-banner") || document.getElementById("created-result");
    if (focusTarget) {
      if (!focusTarget.matches("input, select, textarea")) { focusTarget.setAttribute("tabindex", "-1"); }
      focusTarget.focus();
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    // Parts that poll the console's copy wait while nobody can see them.
    if (document.hidden && event.detail.elt.hasAttribute("data-poll")) { event.preventDefault(); return; }
    document.getElementById("page-banner").hidden = true;
  });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { return; }
    document.querySelectorAll("[data-poll]").forEach(function (part) { htmx.trigger(part, "poll-now"); });
  });
  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr.status === 401) {
      showPageBanner("Your session has expired. Log in again in another tab, then come back and " +
        "press the button again: what you typed is still here.");
      return;
    }
    if (event.detail.xhr.status === 403) {
      showPageBanner("You are not allowed to do this in this project: ask a project admin. " +
        "What you typed is still in the form.");
      return;
    }
    showPageBanner("The console answered with an error (HTTP " + event.detail.xhr.status +
      "). What you typed is still in the form; try again, and tell the console's admins if it persists.");
  });
  document.addEventListener("htmx:sendError", function () {
    showPageBanner("The console could not be reached. Check your connection; what you typed is still in the form.");
  });
})();
