#include "ui/assets.hpp"

namespace airlock::ui {

// The progress poll while an apply runs, and the sideload upload: the file is sent as the raw
// body (never read whole by the server), with the session's CSRF token in a header.
const std::string_view kAppJs = R"JS('use strict';
(function () {
  function poll() {
    var sec = document.getElementById('progress');
    if (!sec || sec.dataset.running !== '1') return;
    fetch('/api/progress', {credentials: 'same-origin'}).then(function (r) { return r.json(); }).then(function (p) {
      var list = document.getElementById('progress-list');
      list.textContent = '';
      p.phases.forEach(function (t) { var li = document.createElement('li'); li.textContent = t; list.appendChild(li); });
      if (p.running) { setTimeout(poll, 500); } else { window.location.assign('/'); }
    }).catch(function () { setTimeout(poll, 1000); });
  }
  function upload(ev) {
    ev.preventDefault();
    var form = document.getElementById('upload-form');
    var input = document.getElementById('bundle-file');
    var out = document.getElementById('upload-result');
    var bar = document.getElementById('upload-progress');
    if (!input.files.length) return;
    var xhr = new XMLHttpRequest();
    xhr.open('POST', '/action/upload');
    xhr.setRequestHeader('X-CSRF-Token', form.dataset.csrf);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
    xhr.onload = function () {
      var r = {};
      try { r = JSON.parse(xhr.responseText); } catch (e) { r = {message: xhr.status + ' ' + xhr.statusText}; }
      out.textContent = r.message || '';
      out.className = r.ok ? 'ok' : 'error';
      out.dataset.done = r.ok ? 'accepted' : 'refused';
      if (r.ok) setTimeout(function () { window.location.assign('/'); }, 1500);
    };
    xhr.onerror = function () { out.textContent = 'upload failed'; out.className = 'error'; out.dataset.done = 'refused'; };
    out.textContent = '…';
    xhr.send(input.files[0]);
  }
  document.addEventListener('DOMContentLoaded', function () {
    poll();
    var f = document.getElementById('upload-form');
    if (f) f.addEventListener('submit', upload);
  });
})();
)JS";

const std::string_view kAppCss =
    R"CSS(body{font-family:"Liberation Sans",Arial,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{display:flex;gap:1em;align-items:center;background:#1d2330;color:#fff;padding:.6em 1.2em}
header h1{font-size:1.2em;margin:0;flex:1}
main{max-width:56em;margin:1em auto;padding:0 1em}
#flash{max-width:56em;margin:.8em auto;padding:.4em 1em}
section{background:#fff;border:1px solid #d7dae0;border-radius:6px;padding:.8em 1.2em;margin-bottom:1em}
h2{font-size:1.05em;border-bottom:1px solid #e3e5e9;padding-bottom:.3em}
.offer{border-left:4px solid #2f6fdf;padding-left:.8em;margin:.8em 0}
.offer h3{margin:.2em 0}
.critical{color:#b3261e;font-weight:bold}
.buttons{display:flex;gap:.6em;flex-wrap:wrap;align-items:center}
button{background:#2f6fdf;color:#fff;border:0;border-radius:4px;padding:.4em .9em;cursor:pointer}
button.skip,button#logout{background:#6b7280}
.error{color:#b3261e}.ok{color:#1a7f37}
pre{white-space:pre-wrap;background:#f6f8fa;padding:.5em}
table{border-collapse:collapse;width:100%}td{border-top:1px solid #e3e5e9;padding:.3em .5em;vertical-align:top}
.reason,.reverted{font-size:.9em;color:#555}
progress{width:100%}
#plan li.irreversible strong,#plan li.breaking strong{color:#b3261e}
)CSS";

}  // namespace airlock::ui
