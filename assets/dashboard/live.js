// Live parts over Server-Sent Events: the server sends each part's new HTML
// under the id of the element it replaces; htmx then wires up the new forms.
// Reconnects after every boosted page change, since the live parts differ.
(function () {
  var es = null;
  function connect() {
    if (es) { es.close(); es = null; }
    var parts = document.querySelectorAll("[data-live]");
    if (!parts.length || !window.EventSource) return;
    var ids = Array.prototype.map.call(parts, function (el) { return el.id; });
    var q = location.search ? "&" + location.search.slice(1) : "";
    es = new EventSource("/events?parts=" + ids.join(",") + q);
    ids.forEach(function (id) {
      es.addEventListener(id, function (e) {
        var el = document.getElementById(id);
        if (!el) return;
        var a = document.activeElement;
        // Never pull an edit out from under the owner's fingers.
        if (a && a.tagName === "TEXTAREA" && el.contains(a)) return;
        el.innerHTML = e.data;
        if (window.htmx) window.htmx.process(el);
      });
    });
  }
  document.addEventListener("DOMContentLoaded", connect);
  document.addEventListener("htmx:afterSettle", function (e) {
    if (e.target === document.body) connect();
  });
})();
