// csp-desk pages: small enhancements; every page works without this file.
/* global document, window, Element, location */
(function () {
  'use strict';
  var body = document.body;
  // Remember the browser's time zone (used when the user has not chosen one in Settings).
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var csrf = body.getAttribute('data-csrf');
    // (signed in only: there is no one to remember it for on the sign-in pages)
    if (tz && csrf && body.hasAttribute('data-signed-in') && body.getAttribute('data-time-zone-source') !== 'setting' && body.getAttribute('data-time-zone') !== tz
        && !sessionStorage.getItem('cspd-tz-sent')) {
      fetch('/app/settings/browser-time-zone', {
        method: 'POST', credentials: 'same-origin', keepalive: true,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': csrf },
        body: 'timeZone=' + encodeURIComponent(tz)
      }).then(function (res) { if (res.ok) sessionStorage.setItem('cspd-tz-sent', '1'); }, function () { /* tried again on the next page */ });
    }
  } catch { /* no time zone support: dates stay in the server's choice */ }

  // The sign-in form sends the browser's time zone, so the first page after signing in shows dates in it.
  try {
    var zoneField = document.querySelector('[data-browser-time-zone]');
    if (zoneField) zoneField.value = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch { /* no time zone support */ }

  // The support queue refreshes itself every 10 s (htmx). It waits while the keyboard focus is inside it (a
  // refresh would take the focus away), and the "Pause refreshing" button stops it until pressed again.
  var pause = document.getElementById('queue-pause');
  if (pause) {
    var paused = sessionStorage.getItem('cspd-queue-paused') === '1';
    // a refresh skipped while the keyboard focus is in the list: said, until the focus leaves it (QA: the note still
    // said "refreshes every 10 seconds")
    var waiting = false;
    // a toggle button: one name, its state in aria-pressed, and the state said beside it
    var state = document.getElementById('queue-pause-state');
    var show = function () {
      pause.setAttribute('aria-pressed', paused ? 'true' : 'false');
      if (state) state.textContent = paused ? 'Refreshing is paused.' : waiting ? 'Refreshing waits while the keyboard focus is in the list.' : '';
      // "refreshes every 10 seconds" only while it does (without script, or paused, it does not: QA)
      document.querySelectorAll('[data-refresh-note]').forEach(function (note) { note.hidden = paused || waiting; });
    };
    pause.hidden = false;
    show();
    document.addEventListener('htmx:afterSwap', show);
    pause.addEventListener('click', function () {
      paused = !paused;
      sessionStorage.setItem('cspd-queue-paused', paused ? '1' : '0');
      show();
    });
    document.addEventListener('htmx:beforeRequest', function (ev) {
      var results = document.getElementById('queue-results');
      if (!results || ev.target !== results) return;
      if (paused) { ev.preventDefault(); return; }
      if (results.contains(document.activeElement)) {
        ev.preventDefault();
        if (!waiting) { waiting = true; show(); }
      }
    });
    document.addEventListener('focusout', function (ev) {
      var results = document.getElementById('queue-results');
      if (!waiting || !results || (ev.relatedTarget instanceof Element && results.contains(ev.relatedTarget))) return;
      waiting = false;
      show();
    });
  }

  // The sign-in page of a link to a section (an email's ".../orders/<id>#cancel-heading"): the browser kept the
  // "#..." through the redirect, the server never saw it; it goes with the page to return to, so the sign-in lands there.
  var nextInput = document.querySelector('form input[type="hidden"][name="next"]');
  if (nextInput && /^#[A-Za-z0-9\-._~]{1,100}$/.test(location.hash) && nextInput.value.indexOf('#') < 0) nextInput.value += location.hash;

  // A form sent back with errors: the keyboard focus goes to the first field at fault (its message is tied to it),
  // or to the first message when it belongs to no field.
  if (document.body.hasAttribute('data-form-refused')) {
    var invalid = document.querySelector('main [aria-invalid="true"]');
    var message = document.querySelector('main .field-error, main .alert.error, main #again-error');
    var target = invalid || message;
    if (target) {
      if (!invalid) target.setAttribute('tabindex', '-1');
      target.focus();
      if (target.scrollIntoView) target.scrollIntoView({ block: 'center' });
    }
  }

  // Back on a page from a refused form (its address ends in #<form>-form-error): the keyboard focus goes to the message,
  // next to its form or, for a form the request's state no longer draws, above the actions.
  if (location.hash) {
    var refusal = document.getElementById(location.hash.slice(1));
    if (refusal && (refusal.classList.contains('field-error') || refusal.classList.contains('alert'))) {
      refusal.setAttribute('tabindex', '-1');
      refusal.focus();
    }
  }

  // Back on a page after an action was carried out (a "Reply sent." or "Order placed." message, or a new token to
  // copy): the keyboard focus goes to it, so that a screen reader says it and the next Tab starts from there.
  if (!document.body.hasAttribute('data-form-refused') && !location.hash) {
    var done = document.querySelector('main [data-focus-on-load]') || document.querySelector('main .alert.ok[role="status"]');
    if (done) {
      if (!done.hasAttribute('tabindex')) done.setAttribute('tabindex', '-1');
      done.focus();
    }
    // said once: a reload (the way to see new messages on a ticket) shows the page without it and leaves the focus be
    if (window.URLSearchParams && window.history && window.history.replaceState) {
      var url = new URL(location.href);
      var said = ['done', 'placed', 'added', 'cancelled', 'filed'].filter(function (k) { return url.searchParams.has(k); });
      if (said.length) {
        said.forEach(function (k) { url.searchParams.delete(k); });
        window.history.replaceState(window.history.state, '', url.pathname + (url.searchParams.toString() ? '?' + url.searchParams.toString() : '') + url.hash);
      }
    }
  }

  // A refusal the server said through the address (`?form=…&refused=…`, after a form sent with nothing typed): said
  // once too, so that a reload, the way to read what changed, shows the request without it. The address keeps its
  // `#<form>-form-error` (it names where the focus is; a reload without the refusal finds no such element)
  if (window.URLSearchParams && window.history && window.history.replaceState) {
    var refusedAt = new URL(location.href);
    if (refusedAt.searchParams.has('refused')) {
      refusedAt.searchParams.delete('refused');
      refusedAt.searchParams.delete('form');
      window.history.replaceState(window.history.state, '', refusedAt.pathname + (refusedAt.searchParams.toString() ? '?' + refusedAt.searchParams.toString() : '') + refusedAt.hash);
    }
  }

  // An action that cannot be undone (revoke, withdraw, close) asks first. A form marked data-confirm-again is asked
  // by the server too when sent without script; answered here, it says so (again=yes) and is not asked twice.
  // An amount the server refuses anyway (above the approval limit, or above the amount requested: data-confirm-max,
  // in minor units) is not asked about first, as without script (QA: "this cannot be undone", then the refusal).
  function aboveMax(form) {
    var max = Number(form.getAttribute('data-confirm-max'));
    var input = form.querySelector('input[name="amount"]');
    if (!form.hasAttribute('data-confirm-max') || !input) return false;
    var typed = input.value.trim().replace(/[\s,]/g, '');
    if (!/^\d+(\.\d+)?$/.test(typed)) return false;
    return Math.round(Number(typed) * Math.pow(10, Number(form.getAttribute('data-minor-digits') || 0))) > max;
  }
  // the question names the amount as typed, with its currency, where the page could only say "the amount entered"
  // (QA: the page asked the same whatever was typed; without script the server's question names it)
  function withAmount(form, question) {
    var input = form.querySelector('input[name="amount"]');
    var currency = form.getAttribute('data-confirm-currency');
    var typed = input ? input.value.trim() : '';
    // (only an amount as the server reads it, digits and a decimal point: any other stays "the amount entered")
    if (!currency || !/^\d+(\.\d+)?$/.test(typed)) return question;
    return question.replace('the amount entered', typed + ' ' + currency);
  }
  document.addEventListener('submit', function (ev) {
    var form = ev.target instanceof Element && ev.target.tagName === 'FORM' ? ev.target : null;
    var question = form && form.getAttribute('data-confirm');
    if (!question || aboveMax(form)) return;
    question = withAmount(form, question);
    if (!window.confirm(question)) { ev.preventDefault(); return; }
    if (!form.hasAttribute('data-confirm-again')) return;
    var box = form.querySelector('input[name="again"]');
    if (box) { box.checked = true; return; }
    var yes = document.createElement('input');
    yes.type = 'hidden';
    yes.name = 'again';
    yes.value = 'yes';
    form.appendChild(yes);
  });

  // buttons that only script can work (copy, print) are hidden in the page as sent: shown here (QA: without script
  // they were shown and did nothing)
  document.querySelectorAll('[data-copy][hidden], [data-print][hidden]').forEach(function (el) { el.hidden = false; });

  document.addEventListener('click', function (ev) {
    var t = ev.target instanceof Element ? ev.target.closest('[data-copy], [data-print]') : null;
    if (!t) return;
    if (t.hasAttribute('data-print')) { window.print(); return; }
    var src = document.querySelector(t.getAttribute('data-copy'));
    var status = t.parentElement ? t.parentElement.querySelector('.copy-status') : null;
    var text = src ? (src.value || src.getAttribute('href') || src.textContent || '') : '';
    var done = function (msg) { if (status) status.textContent = msg; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { done('Copied.'); }, function () { if (src && src.select) src.select(); done('Press Ctrl+C to copy.'); });
    } else { if (src && src.select) src.select(); done('Press Ctrl+C to copy.'); }
  });
})();
