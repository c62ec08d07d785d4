// fdc web: draws what the display node sends on /events (one JSON picture per change). No build step.
"use strict";
(function () {
  var NS = "http://www.w3.org/2000/svg";
  var GAP = 0.6; // between 8x8 blocks, in LED pitches
  var body = document.body;
  var svg = document.getElementById("matrix");
  var number = document.getElementById("number");
  var texts = { stale: "stale_text", record: "record_text", deploy: "deploy_text", year: "year_text", words: "words" };
  var drawn = "";

  function draw(rows) {
    var key = rows.join("/");
    if (key === drawn) return;
    drawn = key;
    var h = rows.length, w = h ? rows[0].length : 0, blocks = Math.max(1, Math.ceil(w / 8));
    svg.setAttribute("viewBox", "0 0 " + (w + (blocks - 1) * GAP) + " " + Math.max(h, 1));
    var frag = document.createDocumentFragment();
    for (var y = 0; y < h; y++) {
      for (var x = 0; x < w; x++) {
        var c = document.createElementNS(NS, "circle");
        c.setAttribute("cx", x + 0.5 + Math.floor(x / 8) * GAP);
        c.setAttribute("cy", y + 0.5);
        c.setAttribute("r", 0.42);
        c.setAttribute("class", rows[y].charAt(x) === "#" ? "on" : "off");
        c.setAttribute("data-x", x);
        c.setAttribute("data-y", y);
        frag.appendChild(c);
      }
    }
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.appendChild(frag);
  }

  function apply(p) {
    draw(p.rows || []);
    number.textContent = p.text;
    number.setAttribute("data-value", p.value === null ? "" : String(p.value));
    for (var id in texts) document.getElementById(id).textContent = p[texts[id]] || "";
    body.classList.toggle("stale", !!p.stale);
    body.classList.toggle("dark", !p.on);
    document.documentElement.style.setProperty("--led", String(0.35 + 0.65 * (p.brightness / 15)));
    document.title = (p.text || "–") + " weeks since a Friday deployment";
  }

  function connect() {
    var es = new EventSource("/events");
    es.onopen = function () { body.classList.remove("lost"); };
    es.onmessage = function (e) {
      try { apply(JSON.parse(e.data)); body.classList.remove("lost"); } catch (err) { /* keep the last picture */ }
    };
    es.onerror = function () {
      body.classList.add("lost");
      document.getElementById("link").textContent = "no connection to the display node: reconnecting…";
      if (es.readyState === EventSource.CLOSED) { es.close(); setTimeout(connect, 2000); } // e.g. a 503
    };
  }
  connect();
})();
