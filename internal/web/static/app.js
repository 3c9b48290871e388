// herald admin UI enhancements. Every page works without this file; it
// adds header rows, shows the chosen event's variables, and renders the
// live preview as you type.
(function () {
  'use strict';
  document.querySelectorAll('[data-js-only]').forEach(function (el) { el.hidden = false; });

  // Copy buttons (an invitation link): copy the target input's value.
  document.querySelectorAll('[data-copy]').forEach(function (btn) {
    btn.addEventListener('click', function () {
      var input = document.querySelector(btn.getAttribute('data-copy'));
      if (!input) return;
      input.select();
      var done = function () { btn.textContent = 'Copied'; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand('copy'); done(); });
      } else {
        document.execCommand('copy');
        done();
      }
    });
  });

  var form = document.getElementById('webhook-form');
  if (!form) return;

  // Live preview: POST the form with action=preview and put the returned
  // fragment into the preview pane.
  var pane = document.getElementById('preview-body');
  var timer = null, seq = 0;
  function renderPreview() {
    if (!pane || !form.hasAttribute('data-preview') || !window.fetch) return;
    var data = new FormData(form);
    data.set('action', 'preview');
    var mine = ++seq;
    // form.action would be the buttons named "action", not the attribute.
    fetch(form.getAttribute('action'), {
      method: 'POST', credentials: 'same-origin', body: new URLSearchParams(data),
      headers: { 'X-Herald-Fragment': '1', 'X-CSRF-Token': data.get('csrf_token') || '' }
    }).then(function (res) {
      if (!res.ok) throw new Error('preview failed: ' + res.status);
      return res.text();
    }).then(function (html) {
      if (mine === seq) { pane.innerHTML = html; pane.setAttribute('data-rendered', String(mine)); }
    }).catch(function () { /* keep the last preview */ });
  }
  function schedulePreview() { clearTimeout(timer); timer = setTimeout(renderPreview, 300); }
  form.addEventListener('input', schedulePreview);
  form.addEventListener('change', schedulePreview);

  // Custom headers: add and remove rows. Rows are renumbered by the
  // server (blank rows are dropped), so indexes only need to be unique.
  var rows = document.getElementById('header-rows');
  var add = document.getElementById('add-header');
  var next = rows ? parseInt(rows.getAttribute('data-next'), 10) || rows.children.length : 0;
  function renumber(row, i) {
    row.querySelectorAll('input').forEach(function (input) {
      input.name = input.name.replace(/custom_headers\[\d+\]/, 'custom_headers[' + i + ']');
      input.id = input.id.replace(/custom_headers-\d+-/, 'custom_headers-' + i + '-');
      input.value = '';
      input.removeAttribute('aria-invalid');
      input.removeAttribute('aria-describedby');
    });
    row.querySelectorAll('label').forEach(function (label) {
      var f = label.getAttribute('for');
      if (f) label.setAttribute('for', f.replace(/custom_headers-\d+-/, 'custom_headers-' + i + '-'));
      label.textContent = label.textContent.replace(/Header \d+/, 'Header ' + (i + 1));
    });
    row.querySelectorAll('.field-error').forEach(function (e) { e.remove(); });
    var sr = row.querySelector('.remove-header .sr-only');
    if (sr) sr.textContent = ' header ' + (i + 1);
  }
  if (rows && add) {
    add.addEventListener('click', function () {
      var last = rows.querySelector('.header-row:last-of-type');
      if (!last) return;
      var row = last.cloneNode(true);
      renumber(row, next++);
      rows.appendChild(row);
      row.querySelector('input').focus();
    });
    rows.addEventListener('click', function (e) {
      var btn = e.target.closest('.remove-header');
      if (!btn) return;
      var row = btn.closest('.header-row');
      if (rows.querySelectorAll('.header-row').length > 1) {
        row.remove();
      } else {
        row.querySelectorAll('input').forEach(function (i) { i.value = ''; });
      }
      add.focus();
      schedulePreview();
    });
  }

  // Show the variables of the chosen event.
  var event = document.getElementById('f-event');
  if (event) {
    // With several chosen, the first plain type's variables are shown
    // (a pattern's types are listed by the server on the next preview).
    var shown = function () {
      var opts = event.selectedOptions ? Array.prototype.slice.call(event.selectedOptions) : [];
      var keys = opts.map(function (o) { return o.value; }).filter(function (k) { return k.indexOf('*') < 0; });
      return keys.length ? keys[0] : (event.value || '');
    };
    event.addEventListener('change', function () {
      var key = shown();
      document.querySelectorAll('.vars').forEach(function (v) { v.hidden = v.getAttribute('data-event') !== key; });
      var none = document.getElementById('vars-none');
      if (none) none.hidden = key !== '';
      schedulePreview();
    });
  }

  // The authorization dropdown matters only with Enable Authorization on.
  var toggle = document.getElementById('f-authorization_enabled');
  var select = document.getElementById('f-authorization_id');
  if (toggle && select) {
    var sync = function () { select.closest('.field').classList.toggle('is-off', !toggle.checked); };
    toggle.addEventListener('change', sync);
    sync();
  }

  // Variables: a click inserts {{ path }} at the cursor of the text field
  // last used (the payload until another is).
  var target = document.getElementById('f-payload');
  if (target) {
    form.addEventListener('focusin', function (e) {
      var t = e.target;
      if (t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && /^(text|url|search)$/.test(t.type))) target = t;
    });
    document.querySelectorAll('.varlist li > code').forEach(function (code) {
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'var-insert';
      b.title = 'Insert into the field last used (the payload by default)';
      code.parentNode.replaceChild(b, code);
      b.appendChild(code);
      var sr = document.createElement('span');
      sr.className = 'sr-only';
      sr.textContent = ' (insert)';
      b.appendChild(sr);
      b.addEventListener('mousedown', function (e) { e.preventDefault(); }); // keep the field's selection
      b.addEventListener('click', function () {
        var text = '{{ ' + code.textContent + ' }}';
        var start = target.selectionStart, end = target.selectionEnd;
        if (typeof start === 'number') {
          target.setRangeText(text, start, end, 'end');
        } else {
          target.value += text;
        }
        target.focus();
        target.dispatchEvent(new Event('input', { bubbles: true }));
      });
    });
  }

  // Payload editor: line numbers beside the text, and the line of a
  // template error (the server's "line N, column M") marked invalid.
  var editor = document.getElementById('f-payload');
  if (editor) {
    var wrap = document.createElement('div');
    wrap.className = 'editor';
    var gutter = document.createElement('div');
    gutter.className = 'gutter';
    gutter.setAttribute('aria-hidden', 'true');
    editor.parentNode.insertBefore(wrap, editor);
    wrap.appendChild(gutter);
    wrap.appendChild(editor);
    var bad = 0;
    var err = document.getElementById('f-payload-error');
    var m = err && /line (\d+), column \d+/.exec(err.textContent);
    if (m) bad = parseInt(m[1], 10);
    var numbers = function () {
      var n = editor.value.split('\n').length, html = '';
      for (var i = 1; i <= n; i++) {
        html += i === bad ? '<span class="bad" title="Error on this line">' + i + '</span>\n' : i + '\n';
      }
      gutter.innerHTML = html;
      gutter.scrollTop = editor.scrollTop;
    };
    editor.addEventListener('input', function () { bad = 0; numbers(); });
    editor.addEventListener('scroll', function () { gutter.scrollTop = editor.scrollTop; });
    numbers();
  }

  if (pane && !pane.querySelector('.reqline')) renderPreview();
})();
