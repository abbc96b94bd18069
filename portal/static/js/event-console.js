/* The event console, live: while the event is notified or running, re-fetch the console
 * section (server-rendered HTML from its data-live-url, with the page's own filters) every
 * few seconds and swap it in; stop once the server says the event is no longer live.
 * Without this script the page shows the same content, only not updating.
 * No third-party code and no inline script, so a strict Content-Security-Policy is fine. */
(function () {
  "use strict";

  var REGION_ID = "event-live";
  var MAX_BACKOFF = 6; // after repeated failures, wait up to 6 × the normal period

  var region = document.getElementById(REGION_ID);
  if (!region || !window.fetch || !window.DOMParser) {
    return;
  }
  var url = region.getAttribute("data-live-url");
  var period = (parseInt(region.getAttribute("data-refresh-seconds"), 10) || 10) * 1000;
  var announcer = document.getElementById("console-announcement");
  var failures = 0;
  var timer = null;

  function live(element) {
    return element.getAttribute("data-live") === "on";
  }

  function announce(text) {
    if (announcer) {
      announcer.textContent = text;
    }
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, period * Math.min(1 + failures, MAX_BACKOFF));
  }

  // What the person was doing inside the section, so a swap does not undo it: which
  // disclosures were open, unsubmitted filter choices, and where the focus was.
  function remember() {
    var state = { open: [], values: {}, focus: null };
    region.querySelectorAll("details[id]").forEach(function (d) {
      if (d.open) {
        state.open.push(d.id);
      }
    });
    region.querySelectorAll("select[id], input[id]").forEach(function (field) {
      state.values[field.id] = field.value;
    });
    var active = document.activeElement;
    if (active && active !== region && region.contains(active) && active.id) {
      state.focus = active.id;
    }
    return state;
  }

  function restore(state) {
    state.open.forEach(function (id) {
      var d = document.getElementById(id);
      if (d && region.contains(d)) {
        d.open = true;
      }
    });
    Object.keys(state.values).forEach(function (id) {
      var field = document.getElementById(id);
      if (field && region.contains(field)) {
        field.value = state.values[id];
      }
    });
    if (state.focus) {
      var target = document.getElementById(state.focus);
      if (target && region.contains(target)) {
        target.focus({ preventScroll: true });
      }
    }
  }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(REGION_ID);
    if (!fresh) {
      throw new Error("The console fragment has no #" + REGION_ID);
    }
    var before = region.getAttribute("data-status");
    var state = remember();
    region.setAttribute("aria-busy", "true");
    region.replaceChildren.apply(region, Array.prototype.slice.call(fresh.childNodes));
    ["data-live", "data-status", "data-refresh-seconds"].forEach(function (name) {
      region.setAttribute(name, fresh.getAttribute(name) || "");
    });
    restore(state);
    region.removeAttribute("aria-busy");
    var after = region.getAttribute("data-status");
    if (after && after !== before) {
      var badge = region.querySelector(".console-meta .badge");
      announce("The event is now " + (badge ? badge.textContent : after) + ".");
    }
  }

  function refresh() {
    if (document.hidden) {
      // Nobody is looking: check again when the tab is shown (see below).
      return;
    }
    fetch(url + window.location.search, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        swap(html);
        if (failures > 0) {
          announce("Live updates resumed.");
        }
        failures = 0;
      })
      .catch(function () {
        failures += 1;
        if (failures === 1) {
          announce("Live updates paused: the portal could not be reached. Retrying.");
        }
      })
      .then(function () {
        if (live(region)) {
          schedule();
        }
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && live(region)) {
      refresh();
    }
  });

  if (live(region)) {
    schedule();
  }
})();
