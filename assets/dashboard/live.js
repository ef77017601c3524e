// Live parts over Server-Sent Events: the server sends each part's new HTML
// under the element id it replaces; htmx then wires up the new forms.
(function () {
  var parts = document.querySelectorAll("[data-live]");
  if (!parts.length || !window.EventSource) return;
  var ids = Array.prototype.map.call(parts, function (el) { return el.id; });
  var q = location.search ? "&" + location.search.slice(1) : "";
  var es = new EventSource("/events?parts=" + ids.join(",") + q);
  parts.forEach(function (el) {
    es.addEventListener(el.id, function (e) {
      if (el.contains(document.activeElement) && document.activeElement.tagName === "TEXTAREA") return;
      el.innerHTML = e.data;
      if (window.htmx) window.htmx.process(el);
    });
  });
})();
