// micrograd_ws explorer. Everything this page shows (names, formulas, numbers, the chain rule)
// comes from Python as data; the script only chooses which of it to show at each step.
"use strict";
(async function () {
  const $ = (id) => document.getElementById(id);
  let D;
  try {  // the steps first (the page is interactive then); the inspector's texts after that
    D = await decode($("explorer-data").textContent.trim());
    performance.mark("explorer:decoded");
  } catch (err) {
    $("current").textContent = "This browser cannot open the page's data (it needs DecompressionStream: " +
      "Chromium 80+, Firefox 113+, Safari 16.4+). " + err;
    return;
  }
  const N = D.names.length, F = D.forward.length, B = D.backward.length, STEPS = F + B;
  const byName = new Map();
  D.names.forEach((n, k) => { if (!byName.has(n)) byName.set(n, k); });
  const isLeaf = D.parents.map((ps) => ps.length === 0);
  const dead = new Uint8Array(N);  // ReLUs that are off (∂H/∂z = 0), as Python found them
  for (const k of D.dead) dead[k] = 1;

  // --- the state at step k: which values and gradients are known -------------------------
  const S = { k: 0, known: new Uint8Array(N), grad: new Float64Array(N), hasGrad: new Uint8Array(N),
              gradText: new Array(N).fill(null), node: -1, receives: [], selected: -1, playing: null };

  function compute(k) {
    S.k = k;
    S.known.fill(0); S.hasGrad.fill(0); S.grad.fill(0); S.gradText.fill(null);
    for (let v = 0; v < N; v++) if (isLeaf[v]) S.known[v] = 1;
    const f = Math.min(k, F);
    for (let s = 0; s < f; s++) S.known[D.forward[s]] = 1;
    S.node = -1; S.receives = [];
    if (k >= 1 && k <= F) S.node = D.forward[k - 1];
    for (let s = 0; s < k - F; s++) {
      const st = D.backward[s], ps = D.parents[st.node];
      S.grad[st.node] = st.grad; S.hasGrad[st.node] = 1; S.gradText[st.node] = st.gradText;
      for (let j = 0; j < ps.length; j++) {
        S.grad[ps[j]] = st.soFar[j]; S.hasGrad[ps[j]] = 1; S.gradText[ps[j]] = st.soFarText[j];
      }
      if (s === k - F - 1) { S.node = st.node; S.receives = ps; }
    }
  }

  function stepText(k) {
    if (k === 0) return "Start: the parameters and the input hold their values.\n" +
      "→ runs the forward pass node by node, then the backward pass (" + B + " steps of backward_steps()).";
    if (k <= F) return "Forward " + k + " of " + F + ":  " + D.forwardText[k - 1];
    const st = D.backward[k - F - 1];
    return "Backward " + (k - F) + " of " + B + ":\n" + st.text;
  }

  // --- graph view: dot's SVG; nodes carry data-k and data-name ---------------------------
  const graph = { nodes: new Map(), box: $("graph-box") };
  function initGraph() {
    const g = D.graph || {};
    if (!g.svg) { $("graph-message").textContent = g.message || "No graph view for this page."; return false; }
    graph.box.innerHTML = g.svg;
    graph.svg = graph.box.querySelector("svg");
    graph.svg.removeAttribute("width"); graph.svg.removeAttribute("height");
    graph.ids = g.ids;
    for (const el of graph.box.querySelectorAll("g.node[data-k]")) {
      const k = +el.dataset.k, texts = [...el.querySelectorAll("text")];
      graph.nodes.set(k, { el, data: texts.find((t) => t.textContent.startsWith("data ")),
                           grad: texts.find((t) => t.textContent.startsWith("grad ")) });
      el.addEventListener("click", () => select(D.names[k]));
      el.addEventListener("mousemove", (e) => tip(e, k));
      el.addEventListener("mouseleave", hideTip);
    }
    panZoom(graph.svg);
    return true;
  }
  function edgeEl(p, c, j) {
    return graph.ids[p] && graph.ids[c] ? document.getElementById(graph.ids[p] + "-" + graph.ids[c] + "." + j) : null;
  }
  function renderGraph() {
    for (const [k, n] of graph.nodes) {
      const cl = n.el.classList;
      cl.toggle("pending", !S.known[k]);
      cl.toggle("has-grad", !!S.hasGrad[k]);
      cl.toggle("current", k === S.node);
      cl.toggle("selected", k === S.selected);
      if (n.data) n.data.textContent = "data " + (S.known[k] ? D.dataText[k] : "…");
      if (n.grad) n.grad.textContent = "grad " + (S.hasGrad[k] ? S.gradText[k] : "·");
    }
    for (const el of graph.box.querySelectorAll("g.edge.flow")) el.classList.remove("flow");
    for (const el of graph.box.querySelectorAll("g.node.receives")) el.classList.remove("receives");
    if (S.node >= 0) {
      D.parents[S.node].forEach((p, j) => {
        const e = edgeEl(p, S.node, j); if (e) e.classList.add("flow");
        if (S.k > F && graph.nodes.has(p)) graph.nodes.get(p).el.classList.add("receives");
      });
    }
    const pm = pathInfo();
    graph.box.classList.toggle("pathmode", !!pm);
    if (pm) {
      for (const [k, n] of graph.nodes) {
        n.el.classList.toggle("on-path", pm.live.has(k)); n.el.classList.toggle("dead-path", pm.all.has(k) && !pm.live.has(k));
      }
      for (const el of graph.box.querySelectorAll("g.edge")) {
        const m = /^(n\d+)-(n\d+)\./.exec(el.id);
        const on = m && pm.liveIds.has(m[1]) && pm.liveIds.has(m[2]);
        el.classList.toggle("on-path", !!on);
        el.classList.toggle("dead-path", !on && !!m && pm.allIds.has(m[1]) && pm.allIds.has(m[2]));
      }
    }
  }
  function panZoom(svg) {
    const vb0 = svg.viewBox.baseVal, start = { x: vb0.x, y: vb0.y, w: vb0.width, h: vb0.height };
    let vb = { ...start }, drag = null;
    const set = () => svg.setAttribute("viewBox", vb.x + " " + vb.y + " " + vb.w + " " + vb.h);
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = svg.getBoundingClientRect(), f = e.deltaY > 0 ? 1.15 : 1 / 1.15;
      const px = vb.x + (e.clientX - r.left) / r.width * vb.w, py = vb.y + (e.clientY - r.top) / r.height * vb.h;
      vb = { x: px - (px - vb.x) * f, y: py - (py - vb.y) * f, w: vb.w * f, h: vb.h * f }; set();
    }, { passive: false });
    svg.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY, vb: { ...vb } }; });
    window.addEventListener("mouseup", () => { drag = null; });
    window.addEventListener("mousemove", (e) => {
      if (!drag) return;
      const r = svg.getBoundingClientRect(), s = Math.max(vb.w / r.width, vb.h / r.height);
      vb = { ...drag.vb, x: drag.vb.x - (e.clientX - drag.x) * s, y: drag.vb.y - (e.clientY - drag.y) * s }; set();
    });
    svg.addEventListener("dblclick", () => { vb = { ...start }; set(); });
  }

  // --- network view: neurons as SVG circles, weights as canvas lines ---------------------
  const net = { canvas: $("weights"), svg: $("neurons"), circles: new Map(), lines: [] };
  function initNetwork() {
    if (!D.network) {
      $("network-message").textContent = "The network view draws MLPs (layers of weighted sums w·x+b); " +
        "this graph is not one. The graph view shows it.";
      return false;
    }
    new ResizeObserver(() => { if (layoutNetwork()) renderNetwork(); }).observe($("network-view"));
    net.canvas.addEventListener("mousemove", (e) => { const l = nearestLine(e); l ? tip(e, l.w) : hideTip(); });
    net.canvas.addEventListener("mouseleave", hideTip);
    net.canvas.addEventListener("click", (e) => { const l = nearestLine(e); if (l) select(D.names[l.w]); });
    return true;
  }
  function layoutNetwork() {
    const box = $("network-view").getBoundingClientRect();
    if (!box.width || (net.W === box.width && net.H === box.height)) return false;
    const W = box.width, H = box.height, cols = D.network.columns, top = 34, bottom = 12;
    const dpr = window.devicePixelRatio || 1;
    net.canvas.width = W * dpr; net.canvas.height = H * dpr;
    net.canvas.getContext("2d").setTransform(dpr, 0, 0, dpr, 0, 0);
    net.W = W; net.H = H;
    const maxN = Math.max(...cols.map((c) => c.neurons.length));
    const r = Math.max(2.5, Math.min(16, (H - top - bottom) / maxN / 2.6));
    net.pos = cols.map((c, ci) => {
      const x = 40 + ci * (W - 80) / Math.max(1, cols.length - 1), n = c.neurons.length;
      const gap = Math.min((H - top - bottom) / n, 6 * r);
      const y0 = top + (H - top - bottom - gap * (n - 1)) / 2;
      return c.neurons.map((_, j) => ({ x, y: n === 1 ? (top + H - bottom) / 2 : y0 + j * gap }));
    });
    const ns = "http://www.w3.org/2000/svg";
    net.svg.innerHTML = ""; net.circles.clear();
    cols.forEach((c, ci) => {
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", net.pos[ci][0].x); t.setAttribute("y", 18); t.textContent = c.title; net.svg.appendChild(t);
      c.neurons.forEach((nr, j) => {
        const el = document.createElementNS(ns, "circle"), p = net.pos[ci][j];
        el.setAttribute("cx", p.x); el.setAttribute("cy", p.y); el.setAttribute("r", r);
        el.dataset.k = nr.node; el.dataset.name = D.names[nr.node];
        el.addEventListener("mousemove", (e) => tip(e, nr.node));
        el.addEventListener("mouseleave", hideTip);
        el.addEventListener("click", () => select(D.names[nr.node]));
        net.svg.appendChild(el); net.circles.set(nr.node, { el, nr });
      });
    });
    net.lines = [];
    // many lines on top of each other: each one fainter, so the wall stays readable
    net.alpha = Math.max(0.3, Math.min(0.8, 12 / Math.sqrt(Math.max(...D.network.links.map((l) => l.w.length)))));
    D.network.links.forEach((link, li) => {
      const from = cols[li].neurons, to = cols[li + 1].neurons;
      let maxAbs = 0;
      for (const w of link.w) maxAbs = Math.max(maxAbs, Math.abs(D.data[w]));
      link.w.forEach((w, idx) => {
        const j = Math.floor(idx / link.nin), i = idx % link.nin;
        const a = net.pos[li][i], b = net.pos[li + 1][j];
        net.lines.push({ w, a, b, from: from[i], to: to[j], width: 0.4 + 3.2 * Math.abs(D.data[w]) / (maxAbs || 1),
                         dead: dead[from[i].node] || dead[to[j].node] });
      });
    });
    if (cols.length > D.network.links.length + 1) {  // the cost: one line from each output to C
      const last = cols.length - 1;
      cols[last - 1].neurons.forEach((nr, j) => net.lines.push({ w: -1, a: net.pos[last - 1][j], b: net.pos[last][0],
        from: nr, to: cols[last].neurons[0], width: 1.5, dead: false }));
    }
    return true;
  }
  function renderNetwork() {
    if (!net.pos) return;
    const ctx = net.canvas.getContext("2d"), pm = pathInfo();
    ctx.clearRect(0, 0, net.W, net.H);
    const zNow = S.node;
    for (const l of net.lines) {
      const reached = l.w < 0 ? S.known[l.to.node] : (S.k > F ? S.hasGrad[l.w] : S.known[l.to.z] || S.known[l.to.node]);
      const now = l.to.z === zNow && zNow >= 0;
      let alpha = (reached ? net.alpha : 0.1) * (l.dead ? 0.45 : 1);
      let onPath = true;
      if (pm) {
        onPath = l.w === S.selected || (pm.all.has(l.from.node) && (pm.all.has(l.to.z) || pm.all.has(l.to.node)));
        alpha = onPath ? 0.95 : 0.04;
      }
      ctx.globalAlpha = alpha;
      ctx.strokeStyle = l.w < 0 ? "#555" : l.dead ? "#9a9a9a" : D.data[l.w] >= 0 ? "#0072B2" : "#E69F00";
      ctx.lineWidth = now || l.w === S.selected ? l.width + 2.5 : l.width;
      ctx.setLineDash(l.dead || (pm && onPath && !(pm.live.has(l.from.node) && (pm.live.has(l.to.z) || pm.live.has(l.to.node)))) ? [4, 3] : []);
      ctx.beginPath(); ctx.moveTo(l.a.x, l.a.y); ctx.lineTo(l.b.x, l.b.y); ctx.stroke();
      if (now) { ctx.globalAlpha = 1; ctx.strokeStyle = "#CC79A7"; ctx.lineWidth = 1.2; ctx.stroke(); }
    }
    ctx.globalAlpha = 1; ctx.setLineDash([]);
    for (const [k, c] of net.circles) {
      const cl = c.el.classList, z = c.nr.z;
      cl.toggle("known", !!S.known[k]);
      cl.toggle("has-grad", !!(S.hasGrad[k] || (z >= 0 && S.hasGrad[z])));
      cl.toggle("dead", dead[k] && !!S.known[k]);
      cl.toggle("current", k === S.node || z === S.node);
      cl.toggle("selected", k === S.selected || z === S.selected);
      cl.toggle("off-path", !!pm && !pm.all.has(k) && !pm.all.has(z));
    }
  }
  function nearestLine(e) {
    const r = net.canvas.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
    let best = null, bestD = 25;
    for (const l of net.lines) {
      if (l.w < 0) continue;
      const dx = l.b.x - l.a.x, dy = l.b.y - l.a.y, len = dx * dx + dy * dy;
      const t = Math.max(0, Math.min(1, ((x - l.a.x) * dx + (y - l.a.y) * dy) / (len || 1)));
      const ex = l.a.x + t * dx - x, ey = l.a.y + t * dy - y, d = ex * ex + ey * ey;
      if (d < bestD) { bestD = d; best = l; }
    }
    return best;
  }

  // --- tooltip, inspector, paths ----------------------------------------------------------
  function tip(e, k) {
    const t = $("tooltip");
    t.textContent = D.names[k] + "\ndata " + (S.known[k] ? D.dataText[k] : "…") + "\ngrad " +
      (S.hasGrad[k] ? S.gradText[k] : "· (not reached yet)");
    t.style.display = "block"; t.style.left = (e.clientX + 14) + "px"; t.style.top = (e.clientY + 14) + "px";
  }
  function hideTip() { $("tooltip").style.display = "none"; }
  function pathInfo() {
    const p = $("paths").checked && S.selected >= 0 && D.paths ? D.paths[S.selected] : null;
    if (!p) return null;
    if (!p.sets) {
      const ids = (ks) => new Set(graph.ids ? ks.map((k) => graph.ids[k]).filter(Boolean) : []);
      p.sets = { all: new Set(p.nodes), live: new Set(p.live), allIds: ids(p.nodes), liveIds: ids(p.live) };
    }
    return p.sets;
  }
  function select(name) {
    const k = byName.get(name);
    if (k === undefined) { $("inspector").textContent = "No node named " + name + "."; return null; }
    S.selected = k;
    if (!D.inspect) { $("inspector").textContent = "Loading the chain rule of " + name + "…"; render(); return null; }
    const box = $("inspector"), info = D.inspect[k];
    box.innerHTML = info.html;
    const now = document.createElement("p");
    now.className = "sofar"; now.id = "sofar";
    box.insertBefore(now, box.children[1] || null);
    render();
    return info.text;
  }

  // --- stepping ---------------------------------------------------------------------------
  function render() {
    $("current").textContent = stepText(S.k);
    $("counter").textContent = "step " + S.k + " of " + STEPS + (S.k === 0 ? "" : S.k <= F ? " · forward" : " · backward");
    $("scrub").value = S.k;
    const so = $("sofar");
    if (so && S.selected >= 0) {
      so.textContent = "at this step: data " + (S.known[S.selected] ? D.dataText[S.selected] : "… (not computed yet)") +
        " · grad " + (S.hasGrad[S.selected] ? S.gradText[S.selected] : "· (not reached yet)");
    }
    if (graph.svg) renderGraph();
    renderNetwork();
    try { history.replaceState(null, "", "#" + S.k); } catch (e) { /* about:srcdoc in a notebook */ }
    for (const f of api.listeners) f(api.current());
  }
  function goto(k) {
    k = Math.max(0, Math.min(STEPS, Math.round(Number(k)) || 0));
    compute(k); render();
    return S.k;
  }
  function play() {
    if (S.playing) return pause();
    if (S.k >= STEPS) goto(0);
    $("play").textContent = "pause"; $("play").classList.add("on");
    const tick = () => { if (S.k >= STEPS) return pause(); goto(S.k + 1); };
    S.playing = setInterval(tick, 1000 / Number($("speed").value));
  }
  function pause() {
    clearInterval(S.playing); S.playing = null;
    $("play").textContent = "play"; $("play").classList.remove("on");
  }
  function showView(which) {
    for (const v of ["graph", "network"]) {
      $(v + "-view").classList.toggle("shown", v === which);
      $("tab-" + v).classList.toggle("on", v === which);
    }
    api.view = which;
    if (which === "network") layoutNetwork();
    render();
  }

  const api = {
    steps: STEPS, data: D, listeners: [], view: null,
    goto, step: () => goto(S.k + 1), back: () => goto(S.k - 1), select, play, pause, showView,
    current() {
      const grads = {};
      for (let v = 0; v < N; v++) if (S.hasGrad[v]) grads[D.names[v]] = S.grad[v];
      return { step: S.k, phase: S.k === 0 ? "start" : S.k <= F ? "forward" : "backward",
               node: S.node >= 0 ? D.names[S.node] : null, grads };
    },
  };

  $("title").textContent = D.title;
  $("note").textContent = D.note;
  $("scrub").max = STEPS;
  $("scrub").addEventListener("input", (e) => goto(e.target.value));
  $("home").onclick = () => goto(0); $("end").onclick = () => goto(STEPS);
  $("back").onclick = api.back; $("step").onclick = api.step; $("play").onclick = play;
  // a clicked button keeps no focus, so that space and the arrows stay the page's keys
  for (const b of document.querySelectorAll("#bar button")) b.addEventListener("click", () => b.blur());
  $("speed").onchange = () => { if (S.playing) { pause(); play(); } };
  $("paths").onchange = render;
  const hasGraph = initGraph(), hasNet = initNetwork();
  performance.mark("explorer:views");
  $("tab-graph").onclick = () => showView("graph"); $("tab-network").onclick = () => showView("network");
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "SELECT" || e.altKey || e.ctrlKey || e.metaKey) return;
    const act = { ArrowRight: api.step, ArrowLeft: api.back, " ": play, Home: () => goto(0), End: () => goto(STEPS) }[e.key];
    if (act) { e.preventDefault(); act(); }
  });
  const fromHash = () => { const m = /^#(\d+)$/.exec(location.hash); return m ? +m[1] : 0; };
  window.addEventListener("hashchange", () => goto(fromHash()));
  compute(fromHash());
  showView(hasGraph || !hasNet ? "graph" : "network");
  api.readyAt = performance.now();  // for the load-time budget
  const parsed = new Promise((ok) => (document.readyState === "loading"
    ? document.addEventListener("DOMContentLoaded", ok) : ok()));
  api.loaded = parsed.then(() => decode($("explorer-inspect").textContent.trim())).then((more) => {
    Object.assign(D, more);
    api.loadedAt = performance.now();
    if (S.selected >= 0) select(D.names[S.selected]);
    else if (D.select !== null) select(D.names[D.select]);
    return api;
  });
  window.explorer = api;

  async function decode(b64) {
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }
})();
