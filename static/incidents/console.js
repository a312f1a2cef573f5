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

  // After the script changed what the search box holds: as typing would, so that typing the
  // earlier words again searches again (htmx's "changed" remembers the last value it saw).
  function searchAgain(box) {
    box.dispatchEvent(new Event("input", { bubbles: true }));
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

  // The results are one stop in the Tab order (a roving tabindex): the result last moved to,
  // else the first; arrows move through them (below). A picked monitor becomes a chip, a Tab
  // stop of its own.
  function rove(current) {
    options().forEach(function (box) { box.setAttribute("tabindex", box === current ? "0" : "-1"); });
  }

  function keepOneResultInTabOrder() {
    var list = options();
    rove(list.filter(function (box) { return box.getAttribute("tabindex") === "0"; })[0] || list[0]);
  }

  document.addEventListener("focusin", function (event) {
    var box = event.target;
    if (box.name === "monitors" && box.closest && box.closest("#monitor-options")) { rove(box); }
  });

  function plural(count, one, many) { return count + " " + (count === 1 ? one : many); }

  // What is left to pick, in the words the server uses (monitor_picker.html, monitor_results).
  function updateMatchCount() {
    var line = document.getElementById("monitor-match-count");
    var text = document.getElementById("monitor-match-text");
    if (!line || !text) { return; }
    var remaining = options().length;
    var pickedHere = Number(line.dataset.shown || 0) - remaining;
    var left = Number(line.dataset.matches || 0) - pickedHere;
    var picked = Number(line.dataset.picked || 0) + pickedHere;
    if (left > 0) {
      text.textContent = plural(left, "monitor", "monitors") +
        (left > remaining ? ", showing the first " + remaining + ": type more to narrow" : "");
    } else if (picked === 1) {
      text.textContent = "The only match is picked.";
    } else if (picked > 1) {
      text.textContent = "All " + picked + " matches picked.";
    } else {
      text.textContent = "No monitor matches.";
    }
    var selectAllButton = document.getElementById("select-all-matches");
    if (selectAllButton) {
      if (left > 1 && left === remaining) { selectAllButton.textContent = "Select all " + left; }
      else { selectAllButton.remove(); }
    }
  }

  function selectAll() {
    var list = options();
    if (selectedCount() + list.length > MAX_MONITORS) { refuseOverLimit(); return; }
    var selection = document.getElementById("monitor-selection");
    list.forEach(function (box) {
      box.checked = true;
      box.removeAttribute("tabindex");
      selection.appendChild(box.closest("li"));
    });
    updateMatchCount();
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
    checkbox.removeAttribute("tabindex");
    selection.appendChild(item);
    updateMatchCount();
    (next || document.getElementById("monitor-search")).focus();
  }

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.name !== "monitors") { return; }
    if (box.checked && box.closest("#monitor-options")) { pick(box); }
    else if (!box.checked && box.closest("#monitor-selection")) {
      box.closest("li").remove();
      var search = document.getElementById("monitor-search");
      search.focus();
      htmx.trigger(search, "search");  // the dropped monitor is a result again, and counted
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.id === "select-all-matches") { selectAll(); }
  });

  // Never "Create anyway": confirming a possible duplicate takes its own explicit press.
  function pressCreate(form) {
    var button = form.querySelector("button.create-button:not([name=confirm_duplicate])");
    if (button && button.disabled) { return; }  // already on its way to Phare
    form.requestSubmit(button || undefined);
  }

  // Typing in a field, where "/" and "?" are characters, not shortcuts.
  function isTyping(element) {
    if (!element || !element.matches) { return false; }
    if (element.isContentEditable || element.matches("textarea, select")) { return true; }
    return element.matches("input") &&
      !element.matches("[type=checkbox], [type=radio], [type=button], [type=submit], [type=reset]");
  }

  var shortcutsOpener = null;

  function openShortcuts() {
    var dialog = document.getElementById("shortcuts-dialog");
    if (!dialog || dialog.open) { return; }
    shortcutsOpener = document.activeElement;
    dialog.showModal();
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var form = target.closest && target.closest("form.incident-form");
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && form) {
      // Ctrl+Enter (⌘+Enter on a Mac) creates from anywhere in the form, the description too.
      event.preventDefault();
      pressCreate(form);
      return;
    }
    if (!event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(target) &&
        !document.querySelector("dialog[open]")) {
      if (event.key === "/" && document.getElementById("monitor-search")) {
        event.preventDefault();
        document.getElementById("monitor-search").focus();
        return;
      }
      if (event.key === "?" && document.getElementById("shortcuts-dialog")) {
        event.preventDefault();
        openShortcuts();
        return;
      }
    }
    if (target.id === "monitor-search") {
      if (event.key === "Enter") { event.preventDefault(); }  // never submits the form
      if (event.key === "ArrowDown" && options().length) { event.preventDefault(); options()[0].focus(); }
      if (event.key === "Escape") {
        target.value = "";
        searchAgain(target);  // back to the unfiltered list
      }
      return;
    }
    if (target.name === "monitors" && target.closest("#monitor-selection") && event.key === "Enter") {
      event.preventDefault();
      target.click();  // Enter drops a chip, as it picks a result
      return;
    }
    if (form && event.key === "Enter" && target.matches("input:not([type=checkbox][name=monitors]):not([type=button]), select")) {
      event.preventDefault();
      pressCreate(form);
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

  document.addEventListener("DOMContentLoaded", function () {
    setBrowserTimeZone(document);
    keepOneResultInTabOrder();
  });

  // A quick choice beside Incident at: the time that many minutes ago, on the browser's clock
  // (the zone the form says its times are in).
  function wallClock(moment) {
    function two(number) { return String(number).padStart(2, "0"); }
    return moment.getFullYear() + "-" + two(moment.getMonth() + 1) + "-" + two(moment.getDate()) +
      "T" + two(moment.getHours()) + ":" + two(moment.getMinutes());
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var quick = target.closest && target.closest("button[data-minutes-ago]");
    if (quick) {
      var field = quick.closest(".field-with-quick-times").querySelector("input[type=datetime-local]");
      field.value = wallClock(new Date(Date.now() - Number(quick.dataset.minutesAgo) * 60000));
      field.dispatchEvent(new Event("change", { bubbles: true }));
      return;
    }
    if (target.id === "shortcuts-button") { openShortcuts(); return; }
    var skip = target.closest && target.closest("a.skip-link");
    if (skip) {
      // Where the link leads gets the focus too, so the next Tab starts there.
      var destination = document.getElementById(skip.getAttribute("href").slice(1));
      if (destination) {
        event.preventDefault();
        if (!destination.hasAttribute("tabindex")) { destination.setAttribute("tabindex", "-1"); }
        destination.focus();
        destination.scrollIntoView({ block: "start" });
      }
    }
  });

  document.addEventListener("close", function (event) {
    // The shortcuts list closed (Escape, or its button): the focus goes back where it was.
    if (event.target.id !== "shortcuts-dialog") { return; }
    if (shortcutsOpener && document.contains(shortcutsOpener)) { shortcutsOpener.focus(); }
    shortcutsOpener = null;
  }, true);

  // After a create the server sends only the result and the next submission key: the form
  // becomes blank here, as a freshly rendered one would be.
  function withoutErrorIds(value) {
    return (value || "").split(/\s+/).filter(function (id) { return id && !/_error$/.test(id); }).join(" ");
  }

  function clearIncidentForm(form) {
    form.querySelectorAll("input[type=text], input[type=datetime-local], input[type=search], textarea, select")
      .forEach(function (field) { field.value = ""; });
    form.querySelectorAll("input[type=checkbox]:not([name=monitors]), input[type=radio]").forEach(function (box) { box.checked = false; });
    form.querySelectorAll(".errorlist").forEach(function (list) { list.remove(); });
    form.querySelectorAll(".has-error").forEach(function (field) { field.classList.remove("has-error"); });
    form.querySelectorAll("[aria-invalid]").forEach(function (field) { field.removeAttribute("aria-invalid"); });
    form.querySelectorAll("[aria-describedby]").forEach(function (field) {
      var described = withoutErrorIds(field.getAttribute("aria-describedby"));
      if (described) { field.setAttribute("aria-describedby", described); } else { field.removeAttribute("aria-describedby"); }
    });
    // The error summary at the top of the form and the duplicate warning inside it.
    document.querySelectorAll("#incident-panel #error-summary, #incident-panel #form-banner").forEach(function (banner) { banner.remove(); });
    document.getElementById("monitor-selection").replaceChildren();
    searchAgain(document.getElementById("monitor-search"));  // the unfiltered list again
  }

  document.addEventListener("incident-created", function () {
    var form = document.querySelector("form.incident-form");
    if (form) { clearIncidentForm(form); }
  });

  document.addEventListener("htmx:afterSwap", function () { keepOneResultInTabOrder(); });

  // Once htmx has settled the answer (its own focus handling done), the focus goes to what it
  // says: the error summary after any refusal or failure, the result after a create.
  document.addEventListener("htmx:afterSettle", function (event) {
    var swapped = event.target;
    if (!swapped || (swapped.id !== "incident-panel" && swapped.id !== "created-slot")) { return; }
    setBrowserTimeZone(document);
    document.getElementById("page-banner").hidden = true;
    var focusTarget = swapped.id === "created-slot"
      ? document.getElementById("created-result")  // "incident-created" then clears the old errors
      : document.getElementById("error-summary") || document.getElementById("created-result");
    if (focusTarget) { focusTarget.focus(); }
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

  // Preview and Copy link on the create form. The clipboard API needs a secure context (HTTPS
  // or localhost); elsewhere the text is selected for copying by hand.
  function copyText(text) {
    if (!navigator.clipboard || !window.isSecureContext) { return Promise.reject(new Error("no clipboard")); }
    return navigator.clipboard.writeText(text);
  }

  // The form as typed, as a link that opens it filled in (the GET side of incident_create).
  function prefillLink(button) {
    var form = button.form;
    var params = new URLSearchParams();
    ["impact", "title", "description"].forEach(function (name) {
      var field = form.elements.namedItem(name);  // a select, or radios (a RadioNodeList)
      var value = field && field.value ? field.value : "";
      if (value.trim()) { params.set(name, value); }
    });
    var monitors = Array.prototype.map.call(
      form.querySelectorAll("#monitor-selection input[name=monitors]:checked"),
      function (box) { return box.value; });
    if (monitors.length) { params.set("monitors", monitors.join(",")); }
    var exclude = form.elements.namedItem("exclude_from_downtime");
    if (exclude && exclude.checked) { params.set("exclude_from_downtime", "1"); }
    var link = new URL(button.getAttribute("data-prefill-url"), window.location.origin);
    link.search = params.toString();
    return link.href;
  }

  function copyPrefillLink(button) {
    var link = prefillLink(button);
    var status = document.getElementById("copy-link-status");
    var field = document.getElementById("prefill-link");
    status.textContent = "";
    field.value = link;
    copyText(link).then(function () {
      field.hidden = true;
      status.textContent = "Link copied";
    }, function () {
      field.hidden = false;
      field.focus();
      field.select();
      status.textContent = "Copy the link from the field below.";
    });
  }

  function copyPreviewBlock(button) {
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.getElementById("preview-copy-status");
    if (!source || !status) { return; }
    var heading = document.getElementById(source.getAttribute("aria-labelledby"));
    status.textContent = "";
    copyText(source.textContent).then(function () {
      status.textContent = (heading ? heading.textContent : "Text") + " copied";
    }, function () {
      window.getSelection().selectAllChildren(source);
      status.textContent = "Selected: press Ctrl+C (\u2318C on a Mac) to copy.";
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("#copy-prefill-link, [data-copy-target]");
    if (!button) { return; }
    if (button.id === "copy-prefill-link") { copyPrefillLink(button); } else { copyPreviewBlock(button); }
  });

  // A preview shows what the form held when it was pressed: say so once the form changes.
  function markPreviewStale(event) {
    var stale = document.getElementById("preview-stale");
    var target = event.target;
    if (!stale || !target.closest || target.id === "monitor-search") { return; }
    if (target.closest("form.incident-form")) { stale.hidden = false; }
  }
  document.addEventListener("input", markPreviewStale);
  document.addEventListener("change", markPreviewStale);

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id !== "incident-panel") { return; }
    var preview = document.getElementById("incident-preview");
    if (preview && !document.querySelector("#incident-panel .has-error")) { preview.focus(); }
  });

  document.addEventListener("incident-created", function () {
    var slot = document.getElementById("preview-slot");
    if (slot) { slot.replaceChildren(); }
    var field = document.getElementById("prefill-link");
    if (field) { field.hidden = true; }
  });
})();
