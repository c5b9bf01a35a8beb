// micrograd_ws explorer. Everything this page shows (names, formulas, numbers, the chain rule)
// comes from Python as data; the script only chooses which of it to show at each step.
"use strict";
(async function () {
  const $ = (id) => document.getElementById(id);
  const opened = location.hash;  // a step in the address: the page opens there, still
  let D;
  try {  // the steps first (the page is interactive then); the inspector's texts after that
    D = await decode($("explorer-data").textContent.trim());
    performance.mark("explorer:decoded");
  } catch (err) {
    $("current").textContent = "This browser cannot open the page's data (it needs DecompressionStream: " +
      "Chromium 80+, Firefox 113+, Safari 16.4+). " + err;
    return;
  }
  const N = D.names.length, F = D.forward.length, B = D.backward.length, STEPS = F + B, STOPS = (D.stops || []).slice();
  const byName = new Map();
  D.names.forEach((n, k) => { if (!byName.has(n)) byName.set(n, k); });
  const isLeaf = D.parents.map((ps) => ps.length === 0);
  const dead = new Uint8Array(N);  // ReLUs that are off (∂H/∂z = 0), as Python found them
  for (const k of D.dead) dead[k] = 1;

  // --- the state at step k: which values and gradients are known -------------------------
  // complete: the gradient is final (every child's step done); focus: the nodes a layer stop adds
  const S = { k: 0, known: new Uint8Array(N), grad: new Float64Array(N), hasGrad: new Uint8Array(N),
              complete: new Uint8Array(N), gradText: new Array(N).fill(null), node: -1, receives: [], selected: -1,
              playing: null, stop: -1, focus: new Set(), grain: STOPS.length && STOPS.length < STEPS ? "layer" : "node",
              auto: null };

  function computeStop(j) {  // layer j: the columns up to it computed, or their gradients complete
    const st = STOPS[j];
    S.known.fill(0); S.hasGrad.fill(0); S.grad.fill(0); S.gradText.fill(null); S.complete.fill(0);
    for (let v = 0; v < N; v++) if (isLeaf[v]) S.known[v] = 1;
    for (let i = 0; i <= j; i++) {
      for (const v of STOPS[i].nodes) {
        if (STOPS[i].phase === "forward") S.known[v] = 1;
        else { S.hasGrad[v] = S.complete[v] = 1; S.grad[v] = D.grads[v]; S.gradText[v] = D.gradText[v]; }
      }
    }
    if (st.phase !== "forward") {
      S.known.fill(1);
      S.hasGrad[D.root] = S.complete[D.root] = 1; S.grad[D.root] = D.grads[D.root]; S.gradText[D.root] = D.gradText[D.root];
    }
    S.k = st.k; S.stop = j; S.node = -1; S.receives = []; S.focus = new Set(st.nodes);
  }
  function compute(k) {
    S.k = k; S.stop = -1; S.focus = new Set();
    S.known.fill(0); S.hasGrad.fill(0); S.grad.fill(0); S.gradText.fill(null); S.complete.fill(0);
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
    if (k > F) for (let v = 0; v < N; v++) S.complete[v] = D.completeAt[v] < k - F ? 1 : 0;
  }
  // the layer stop after step k (or at it), and before it
  const nextStop = (k) => STOPS.findIndex((st) => st.k > k);
  function prevStop(k) { let j = -1; STOPS.forEach((st, i) => { if (st.k < k) j = i; }); return j; }

  function stepText(k) {
    if (S.stop >= 0) return "Layer " + (S.stop + 1) + " of " + STOPS.length + " · " + STOPS[S.stop].text;
    if (k === 0) return "Start: the parameters and the input hold their values.\n" +
      "→ runs the forward pass " + (S.grain === "layer" ? "a layer at a time (l: node by node)" : "node by node (l: a layer at a time)") +
      ", then the backward pass (" + B + " steps of backward_steps()); b jumps to the backward pass.";
    if (k <= F) return "Forward " + k + " of " + F + ":  " + D.forwardText[k - 1];
    const st = D.backward[k - F - 1];
    return "Backward " + (k - F) + " of " + B + ":\n" + (st.banner || st.text);  // (banner: the cost's step as the handout writes it)
  }

  // --- graph view: dot's SVG; nodes carry data-k and data-name ---------------------------
  const graph = { nodes: new Map(), box: $("graph-box"), drawn: -1, first: -1 };
  function initGraph() {
    const g = D.graph || {};
    if (!g.svg) { $("graph-message").textContent = g.message || "No graph view for this page."; return false; }
    // a graph too large to draw whole: Python drew the paths of one parameter (D.select); another one
    // selected is drawn from Python's data (D.paths[k].draw, D.edgeLabels), see drawPaths
    if (g.scope !== "all") { graph.drawn = D.select === null ? -1 : D.select; graph.first = graph.drawn; }
    else graph.first = -1;  // (the whole graph: nothing to follow)
    useDrawing(g.svg, g.ids);
    return true;
  }
  function useDrawing(svg, ids) {
    graph.box.innerHTML = svg;
    graph.svg = graph.box.querySelector("svg");
    graph.svg.removeAttribute("width"); graph.svg.removeAttribute("height");
    graph.ids = ids; graph.nodes = new Map();
    for (const el of graph.box.querySelectorAll("g.node[data-k]")) {
      const k = +el.dataset.k, texts = [...el.querySelectorAll("text")];
      graph.nodes.set(k, { el, data: texts.find((t) => t.textContent.startsWith("data ")),
                           grad: texts.find((t) => t.textContent.startsWith("grad ")) });
      el.addEventListener("click", () => select(D.names[k]));
      el.addEventListener("mousemove", (e) => tip(e, k));
      el.addEventListener("mouseleave", hideTip);
    }
    // an edge's local derivative is a number once the backward pass has crossed the edge (its parent has a
    // gradient): before that its label keeps the formula only (predict mode must not show an answer there)
    const kOf = new Map([...graph.nodes].map(([k, n]) => [n.el.id, k]));
    graph.edges = [];
    for (const el of graph.box.querySelectorAll("g.edge")) {
      const m = /^(n\d+)-(n\d+)\./.exec(el.id), texts = [...el.querySelectorAll("text")];
      if (!m || texts.length < 2 || !kOf.has(m[1])) continue;
      const t = texts[texts.length - 1], full = t.textContent, cut = full.lastIndexOf(" = ");
      const key = kOf.get(m[2]) + "." + /\.(\d+)$/.exec(el.id)[1], label = el.dataset.drawn && D.edgeLabels[key];
      graph.edges.push({ parent: kOf.get(m[1]), t, key, ref: label ? label[3] : -1, before: label ? label[1] : "",
                         hidden: label ? label[1] + "…" : cut > 0 ? full.slice(0, cut) + " = …" : "= …" });  // (∂O/∂b1 = 1: no formula, "= …")
    }
    panZoom(graph.svg);
  }
  // the number on an edge: Python's text of it at this SGD step, or of the node whose data it is (∂z/∂w = x)
  const edgeNumber = (e) => D.edgeText[e.key] || (e.ref >= 0 ? e.before + D.dataText[e.ref] : e.hidden);

  // The paths of parameter k to the root, as draw_grad draws them (which nodes, edges, folded paths and
  // their words: Python's, D.paths[k].draw), laid out here in columns, left to right, as dot lays them out.
  const measure = document.createElement("canvas").getContext("2d");
  function textWidth(text, px, bold) {
    measure.font = (bold ? "bold " : "") + px + "px Helvetica, Arial, sans-serif";
    return measure.measureText(text).width;
  }
  const esc = (t) => String(t).replace(/&/g, "&amp;").replace(/[<]/g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  // the paths as the page opened (after an SGD step a large net's states hold no paths; as dot's drawing of the
  // first parameter, a drawing keeps the paths of the weights the page opened on, and shows the numbers of now)
  const drawable = () => (G.states ? G.states[0].paths : D.paths);
  function drawPaths(k) {
    const p = drawable()[k], spec = p.draw || {}, ns = spec.nodes || p.nodes, keep = new Set(ns);
    let edges = spec.edges;
    if (!edges) {
      edges = [];
      for (const c of ns) D.parents[c].forEach((q, j) => { if (keep.has(q)) edges.push(c + "." + j); });
    }
    const cut = (key) => { const i = key.indexOf("."); return [+key.slice(0, i), +key.slice(i + 1)]; };
    const into = new Map(ns.map((v) => [v, []]));  // each node's incoming: [from, edge key or null]
    for (const key of edges) { const [c, j] = cut(key); into.get(c).push([D.parents[c][j], key]); }
    const extra = ["fold", "more"].filter((x) => spec[x]).map((x) => ({ id: x, ...spec[x] }));
    for (const x of extra) for (const c of x.out) into.get(c).push([x.id, null]);
    // columns: the longest path from k (a folded node: after the nodes its paths leave)
    const rank = new Map();
    const rankOf = (v) => {
      if (rank.has(v)) return rank.get(v);
      const x = extra.find((e) => e.id === v);
      const r = x ? Math.max(0, ...x.in.map(rankOf)) + 1 : Math.max(0, ...into.get(v).map(([q]) => rankOf(q) + 1));
      rank.set(v, r); return r;
    };
    ns.forEach(rankOf); extra.forEach((x) => rankOf(x.id));
    const boxes = new Map();
    for (const v of ns) {
      const rows = [[D.names[v], 18, true, ""]];
      if (D.ops && D.ops[v]) rows.push([D.ops[v], 16, false, "#555555"]);
      // sized for the numbers, written without them: the step shown fills them in (predict mode hides some)
      rows.push(["data " + D.dataText[v], 18, false, "", "data …"], ["grad " + D.gradText[v], 18, false, "", "grad ·"]);
      boxes.set(v, { rows, w: Math.max(...rows.map(([t, px, b]) => textWidth(t, px, b))) + 26,
                     fill: v === k ? "#fde3c4" : v === D.root ? "#d3e4f5" : "white" });
    }
    for (const x of extra) {
      const rows = x.rows.map((t, i) => [t, 16, i === 0, "#8c8c8c"]);
      boxes.set(x.id, { rows, w: Math.max(...rows.map(([t, px, b]) => textWidth(t, px, b))) + 26, fold: true });
    }
    for (const b of boxes.values()) b.h = b.rows.reduce((s, r) => s + r[1] + 3, 0) + 14;
    const cols = [];
    for (const [v, r] of rank) (cols[r] = cols[r] || []).push(v);
    const labelOf = (key) => D.edgeLabels[key] || ["", "= ", 0, -1];
    const gaps = cols.map(() => 70);  // room for the edge labels leaving each column
    for (const key of edges) {
      const [c, j] = cut(key), l = labelOf(key), r = rank.get(D.parents[c][j]);
      gaps[r] = Math.max(gaps[r], 40 + Math.max(textWidth(l[0], 16), textWidth(l[1] + "-0.00000", 16)));
    }
    let x0 = 0, height = 0;
    const colX = cols.map((vs, r) => {
      const x = x0, w = Math.max(...vs.map((v) => boxes.get(v).w));
      x0 += w + gaps[r];
      return [x, w];
    });
    const tall = (vs) => vs.reduce((sum, v) => sum + boxes.get(v).h + 40, -40);
    cols.forEach((vs) => { height = Math.max(height, tall(vs)); });
    cols.forEach((vs, r) => {
      let y = (height - tall(vs)) / 2;
      for (const v of vs) { const b = boxes.get(v); b.x = colX[r][0] + (colX[r][1] - b.w) / 2; b.y = y; y += b.h + 40; }
    });
    // as dot writes it: a node's box and rows, an edge's curve, arrowhead and two-row label
    const FONT = 'font-family="Helvetica,sans-Serif"', GREY = "#8c8c8c", ZERO = "#c0392b";
    const rounded = ({ x, y, w, h }) => `M${x + 6},${y}H${x + w - 6}Q${x + w},${y} ${x + w},${y + 6}V${y + h - 6}` +
      `Q${x + w},${y + h} ${x + w - 6},${y + h}H${x + 6}Q${x},${y + h} ${x},${y + h - 6}V${y + 6}Q${x},${y} ${x + 6},${y}Z`;
    const node = (v, attrs) => {
      const b = boxes.get(v), rows = [];
      let y = b.y + 7;
      for (const [t, px, bold, colour, placeholder] of b.rows) {
        y += px + 3;
        rows.push(`<text text-anchor="middle" x="${b.x + b.w / 2}" y="${y - 4}" ${FONT} font-size="${px}"` +
                  (bold ? ' font-weight="bold"' : "") + (colour ? ` fill="${colour}"` : "") + `>${esc(placeholder || t)}</text>`);
      }
      const stroke = b.fold ? `stroke="${GREY}" stroke-dasharray="5,2"` : 'stroke="black"';
      return `<g class="node" ${attrs}><path fill="${b.fill || "white"}" ${stroke} d="${rounded(b)}"/>${rows.join("")}</g>`;
    };
    // an edge's label sits where the edges around it are apart: near the parent when several edges meet at the
    // child (the output's inputs), near the child when one parent feeds several (a hidden neuron's fan-out)
    const fanIn = new Map(), fanOut = new Map(), bump = (m, v) => m.set(v, (m.get(v) || 0) + 1);
    for (const key of edges) { const [c, j] = cut(key); bump(fanIn, c); bump(fanOut, D.parents[c][j]); }
    const line = (a, b, colour, arrow) => {
      const A = boxes.get(a), B = boxes.get(b), x1 = A.x + A.w, y1 = A.y + A.h / 2, x2 = B.x, y2 = B.y + B.h / 2;
      const dx = (x2 - x1) / 2, i = fanIn.get(b) > 1, o = fanOut.get(a) > 1, t = i === o ? 0.5 : i ? 0.3 : 0.7, u = 1 - t;
      return { d: `M${x1},${y1}C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2 - 7},${y2}`,
               head: arrow ? `<polygon fill="${colour}" stroke="${colour}" points="${x2 - 8},${y2 - 4} ${x2},${y2} ${x2 - 8},${y2 + 4}"/>` : "",
               mx: x1 + 3 * u * u * t * dx + 3 * u * t * t * (x2 - x1 - dx) + t * t * t * (x2 - x1),
               my: y1 + (3 * u * t * t + t * t * t) * (y2 - y1) };  // (the curve's point at t)
    };
    const out = [], zeroShown = p.nLive === 0;  // every path zero: they are all drawn, their zero factors dashed
    for (const key of edges) {
      const [c, j] = cut(key), q = D.parents[c][j], l = labelOf(key), zero = zeroShown && l[2], L = line(q, c, zero ? ZERO : "black", true);
      const label = (t, dy) => `<text text-anchor="middle" x="${L.mx}" y="${L.my + dy}" ${FONT} font-size="16" stroke="white" ` +
        `stroke-width="4" paint-order="stroke"${zero ? ` fill="${ZERO}"` : ""}>${esc(t)}</text>`;
      out.push(`<g id="n${q}-n${c}.${j}" class="edge" data-drawn="1"><path fill="none" ` +
               (zero ? `stroke="${ZERO}" stroke-dasharray="5,2"` : 'stroke="black"') + ` d="${L.d}"/>${L.head}` +
               label(l[0], -24) + label(l[1] + "…", -6) + "</g>");
    }
    const link = (L) => `<g class="fold-link"><path fill="none" stroke="${GREY}" stroke-dasharray="5,2" d="${L.d}"/>${L.head}</g>`;
    for (const x of extra) {
      for (const a of x.in) out.push(link(line(a, x.id, GREY, false)));
      for (const c of x.out) out.push(link(line(x.id, c, GREY, true)));
    }
    for (const v of ns) out.push(node(v, `id="n${v}" data-k="${v}" data-name="${esc(D.names[v])}"`));
    for (const x of extra) out.push(node(x.id, `id="paths-${x.id}"`));
    const m = 10, W = x0 - gaps[gaps.length - 1] + 2 * m, H = height + 2 * m;
    return { svg: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="${-m} ${-m} ${W} ${H}"><g class="graph">${out.join("")}</g></svg>`,
             ids: Object.fromEntries(ns.map((v) => [v, "n" + v])) };
  }
  // a large graph's view follows the selection: the paths of the parameter selected (a node that is not one:
  // the drawing stays); a parameter whose chain rule the page does not hold is named, with where to draw it
  function followSelection(k) {
    const P = drawable();
    if (graph.first < 0 || k === graph.drawn || !isLeaf[k] || !P) return;
    const msg = $("graph-message");
    if (k === graph.first) { msg.textContent = ""; useDrawing(D.graph.svg, D.graph.ids); }
    else if (P[k] && P[k].nodes.length && D.edgeLabels) {
      msg.textContent = "";
      const d = drawPaths(k);
      useDrawing(d.svg, d.ids);
    }
    else {
      graph.box.innerHTML = ""; graph.nodes = new Map(); graph.edges = []; graph.svg = null;
      msg.textContent = "The graph view draws the paths of a parameter whose chain rule this page holds; " + D.names[k] +
        "'s is not one of them (see the inspector).";
    }
    graph.drawn = k;
  }
  function edgeEl(p, c, j) {
    return graph.ids[p] && graph.ids[c] ? document.getElementById(graph.ids[p] + "-" + graph.ids[c] + "." + j) : null;
  }
  function renderGraph() {
    for (const [k, n] of graph.nodes) {
      const cl = n.el.classList;
      cl.toggle("pending", !S.known[k]);
      cl.toggle("has-grad", !!S.hasGrad[k]);
      cl.toggle("current", k === S.node || S.focus.has(k));
      cl.toggle("selected", k === S.selected);
      if (n.data) n.data.textContent = "data " + (S.known[k] ? D.dataText[k] : "…");
      if (n.grad) n.grad.textContent = "grad " + (S.hasGrad[k] ? S.gradText[k] : "·");
    }
    for (const e of graph.edges) e.t.textContent = S.hasGrad[e.parent] ? edgeNumber(e) : e.hidden;
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
  const pz = { svg: null, vb: null, drag: null };  // pan (drag) and zoom (wheel) of the drawing shown
  const setBox = () => pz.svg.setAttribute("viewBox", pz.vb.x + " " + pz.vb.y + " " + pz.vb.w + " " + pz.vb.h);
  window.addEventListener("mouseup", () => { pz.drag = null; });
  window.addEventListener("mousemove", (e) => {
    if (!pz.drag || !pz.svg) return;
    const r = pz.svg.getBoundingClientRect(), s = Math.max(pz.vb.w / r.width, pz.vb.h / r.height), d = pz.drag;
    pz.vb = { ...d.vb, x: d.vb.x - (e.clientX - d.x) * s, y: d.vb.y - (e.clientY - d.y) * s }; setBox();
  });
  function panZoom(svg) {
    const vb0 = svg.viewBox.baseVal, start = { x: vb0.x, y: vb0.y, w: vb0.width, h: vb0.height };
    pz.svg = svg; pz.vb = { ...start }; pz.drag = null;
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = svg.getBoundingClientRect(), f = e.deltaY > 0 ? 1.15 : 1 / 1.15, vb = pz.vb;
      const px = vb.x + (e.clientX - r.left) / r.width * vb.w, py = vb.y + (e.clientY - r.top) / r.height * vb.h;
      pz.vb = { x: px - (px - vb.x) * f, y: py - (py - vb.y) * f, w: vb.w * f, h: vb.h * f }; setBox();
    }, { passive: false });
    svg.addEventListener("mousedown", (e) => { pz.drag = { x: e.clientX, y: e.clientY, vb: { ...pz.vb } }; });
    svg.addEventListener("dblclick", () => { pz.vb = { ...start }; setBox(); });
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
    const fs = parseFloat(getComputedStyle(net.svg).fontSize) || 16;  // the column titles follow the page's type
    const W = box.width, H = box.height, cols = D.network.columns, top = 2.2 * fs, bottom = 2 * fs;  // room for the legend
    const dpr = window.devicePixelRatio || 1;
    net.canvas.width = W * dpr; net.canvas.height = H * dpr;
    net.canvas.getContext("2d").setTransform(dpr, 0, 0, dpr, 0, 0);
    net.W = W; net.H = H;
    const maxN = Math.max(...cols.map((c) => c.neurons.length));
    const r = Math.max(2.5, Math.min(16, (H - top - bottom) / maxN / 2.6));
    // each column's neurons evenly apart (at most `spread`), `below` kept under the lowest for its words
    const place = (below, spread) => cols.map((c, ci) => {
      const x = 40 + ci * (W - 80) / Math.max(1, cols.length - 1), n = c.neurons.length, h = H - top - bottom - below;
      const gap = Math.min(h / n, spread);
      const y0 = top + (h - gap * (n - 1)) / 2;
      return c.neurons.map((_, j) => ({ x, y: n === 1 ? top + h / 2 : y0 + j * gap }));
    });
    const probe = document.createElementNS("http://www.w3.org/2000/svg", "text");  // the words' size (present mode: 1.3 fs)
    probe.setAttribute("class", "label"); net.svg.appendChild(probe);
    const lfs = parseFloat(getComputedStyle(probe).fontSize) || fs;
    probe.remove();
    const labels = labelRows(cols, r, lfs, place);
    net.pos = labels.pos;
    const ns = "http://www.w3.org/2000/svg";
    net.svg.innerHTML = ""; net.circles.clear();
    cols.forEach((c, ci) => {
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", net.pos[ci][0].x); t.setAttribute("y", 1.2 * fs); t.textContent = c.title; net.svg.appendChild(t);
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
    labelNeurons(cols, r, lfs, labels.rows);
    net.lines = [];
    // many lines on top of each other: each one fainter, so the wall stays readable
    net.alpha = Math.max(0.3, Math.min(0.8, 12 / Math.sqrt(Math.max(...D.network.links.map((l) => l.w.length)))));
    D.network.links.forEach((link, li) => {
      const from = cols[li].neurons, to = cols[li + 1].neurons;
      link.w.forEach((w, idx) => {
        const j = Math.floor(idx / link.nin), i = idx % link.nin;
        net.lines.push({ w, link: li, a: net.pos[li][i], b: net.pos[li + 1][j], from: from[i], to: to[j] });
      });
    });
    if (cols.length > D.network.links.length + 1) {  // the cost: one line from each output to C
      const last = cols.length - 1;
      cols[last - 1].neurons.forEach((nr, j) => net.lines.push({ w: -1, a: net.pos[last - 1][j], b: net.pos[last][0],
        from: nr, to: cols[last].neurons[0], width: 1.5, dead: false }));
    }
    reweight();
    return true;
  }
  // A small net's neurons (h = 1 to about 5 at 1280×720) named under their circles, with their value and gradient
  // at the step shown (Python's texts, as in the graph view and the tooltip), at the page's type: the first view of
  // a small net reads from the back of a room.  Names only when three rows do not fit under each circle (the
  // columns spread for them), nothing when one does not, or when a column's words would reach the next column's.
  // Returns the rows and the neurons' places.
  function labelRows(cols, r, fs, place) {
    const line = 1.2 * fs, family = getComputedStyle(net.svg).fontFamily;
    const wide = (t, bold) => { measure.font = (bold ? "bold " : "") + fs + "px " + family; return measure.measureText(t).width; };
    // the widest each row can be (a number's text may gain a digit, or a sign, while the passes run)
    const most = (t) => (t.startsWith("-") ? t : "-" + t) + "0";
    const rowsOf = (k) => [[D.names[k], true], ["data " + most(D.dataText[k]), false], ["grad " + most(D.gradText[k]), false]];
    for (const n of D.replay ? [1] : [3, 1]) {  // (a replay's moments write their numbers to 7 digits: its names only)
      const block = n * line + 0.3 * fs, pos = place(block, 6 * r + block);
      const room = Math.min(...pos.map((ps) => (ps.length > 1 ? ps[1].y - ps[0].y - 2 * r - 0.3 * fs : Infinity)));
      if (room < n * line) continue;
      const ext = cols.map((c, ci) => {
        const w = Math.max(...c.neurons.map((nr) => Math.max(...rowsOf(nr.node).slice(0, n).map(([t, b]) => wide(t, b)))));
        const x = pos[ci][0].x;
        return ci === 0 ? [x - r, x - r + w] : ci === cols.length - 1 ? [x + r - w, x + r] : [x - w / 2, x + w / 2];
      });
      if (ext.every(([a], ci) => ci === 0 || a >= ext[ci - 1][1] + 0.6 * fs) && ext[0][0] >= 0 && ext[ext.length - 1][1] <= net.W) {
        return { rows: n, pos };
      }
    }
    return { rows: 0, pos: place(0, 6 * r) };
  }
  function labelNeurons(cols, r, fs, n) {
    net.labels = [];
    if (!n) return;
    const line = 1.2 * fs;
    const ns = "http://www.w3.org/2000/svg";
    cols.forEach((c, ci) => c.neurons.forEach((nr, j) => {
      const p = net.pos[ci][j], x = ci === 0 ? p.x - r : ci === cols.length - 1 ? p.x + r : p.x;
      const anchor = ci === 0 ? "start" : ci === cols.length - 1 ? "end" : "middle", rows = [];
      for (let i = 0; i < n; i++) {
        const t = document.createElementNS(ns, "text");
        t.setAttribute("x", x); t.setAttribute("y", p.y + r + (i + 0.85) * line);
        t.setAttribute("class", "label" + (i ? "" : " name")); t.style.textAnchor = anchor;
        t.textContent = i ? "" : D.names[nr.node];
        net.svg.appendChild(t); rows.push(t);
      }
      net.labels.push({ k: nr.node, z: nr.z, rows });
    }));
  }
  function renderLabels(pm) {  // the numbers at this step: those not reached yet (or asked in predict mode) wait
    for (const { k, z, rows } of net.labels || []) {
      if (rows[1]) rows[1].textContent = "data " + (S.known[k] ? D.dataText[k] : "…");
      if (rows[2]) rows[2].textContent = "grad " + (S.hasGrad[k] ? S.gradText[k] : "·");
      for (const t of rows) t.classList.toggle("off-path", !!pm && !pm.all.has(k) && !pm.all.has(z));
    }
  }
  // |w| in four widths (of |w| / the largest |w| of its layer); a line into or out of an off
  // ReLU is thin, grey and solid whatever its w, as no gradient flows through it.  Few looks
  // keep a new moment's drawing cheap: a line up to 1 px wide is a hairline, and strokes of
  // one path are unioned (slow for wide ones), so wide lines are stroked one by one.
  const WIDTHS = [0.6, 1, 2, 3.2], DEAD_WIDTH = 0.75;
  function renderNetwork() {
    if (!net.pos) return;
    const ctx = net.canvas.getContext("2d"), pm = pathInfo();
    ctx.clearRect(0, 0, net.W, net.H);
    const zNow = S.node;
    const batches = new Map(), single = [];
    for (const l of net.lines) {
      const reached = l.w < 0 ? S.known[l.to.node] : (S.k > F ? S.hasGrad[l.w] : S.known[l.to.z] || S.known[l.to.node]);
      const now = (l.to.z === zNow && zNow >= 0) || (S.focus.size > 0 && (S.focus.has(l.w) ||
        (STOPS[S.stop].phase === "forward" && (S.focus.has(l.to.z) || S.focus.has(l.to.node)))));
      let alpha = reached ? net.alpha : 0.1, off = l.dead;
      if (pm) {
        const own = l.w === S.selected, onPath = own || (pm.all.has(l.from.node) && (pm.all.has(l.to.z) || pm.all.has(l.to.node)));
        alpha = onPath ? 0.95 : 0.04;
        // the selected weight's own line starts its path (its input neuron is not on the path): it is as live
        // as the weight itself, as Python found it (grey only when every path of it is zero)
        off = own ? !pm.live.has(l.w) : off || (onPath && !(pm.live.has(l.from.node) && (pm.live.has(l.to.z) || pm.live.has(l.to.node))));
      }
      const look = {
        alpha, now,
        colour: l.w < 0 ? "#555" : off ? "#9a9a9a" : D.data[l.w] >= 0 ? "#0072B2" : "#E69F00",
        width: l.w < 0 ? l.width : off ? DEAD_WIDTH : WIDTHS[l.bucket],
      };
      if (now && S.focus.size) { look.colour = "#CC79A7"; look.alpha = Math.max(alpha, 0.5); }  // a layer: its lines at once
      else if (now || l.w === S.selected) { look.width += 2.5; single.push([l, look]); continue; }  // on top, one by one
      const key = look.colour + look.alpha + "|" + look.width;
      if (!batches.has(key)) batches.set(key, [look, []]);
      batches.get(key)[1].push(l);
    }
    const stroke = (look, lines) => {
      ctx.globalAlpha = look.alpha; ctx.strokeStyle = look.colour; ctx.lineWidth = look.width;
      const one = look.width <= 1;  // hairlines: one path for all
      if (one) ctx.beginPath();
      for (const l of lines) {
        if (!one) ctx.beginPath();
        ctx.moveTo(l.a.x, l.a.y); ctx.lineTo(l.b.x, l.b.y);
        if (!one) ctx.stroke();
      }
      if (one) ctx.stroke();
    };
    // grey and thin first, the widest last: the large weights stay on top
    const order = [...batches.values()].sort((p, q) => (p[0].colour === "#9a9a9a" ? -1 : 0) - (q[0].colour === "#9a9a9a" ? -1 : 0) ||
                                                      p[0].width - q[0].width);
    for (const [look, lines] of order) stroke(look, lines);
    for (const [l, look] of single) {
      stroke(look, [l]);
      if (look.now) stroke({ alpha: 1, colour: "#CC79A7", width: 1.2 }, [l]);
    }
    ctx.globalAlpha = 1;
    for (const [k, c] of net.circles) {
      const cl = c.el.classList, z = c.nr.z;
      cl.toggle("known", !!S.known[k]);
      cl.toggle("has-grad", !!(S.hasGrad[k] || (z >= 0 && S.hasGrad[z])));
      cl.toggle("dead", dead[k] && !!S.known[k]);
      cl.toggle("current", k === S.node || (z >= 0 && z === S.node) || S.focus.has(k) || S.focus.has(z));  // (z: -1 for i and C)
      cl.toggle("selected", k === S.selected || z === S.selected);
      cl.toggle("off-path", !!pm && !pm.all.has(k) && !pm.all.has(z));
    }
    renderLabels(pm);
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
  // node k's data and grad as shown now: at the step, or in the replay at the held moment
  function shown(k) {
    if (L.mode === "replay" && R.m >= 0) {
      const m = D.replay.moments[R.m], j = R.index.get(k);
      return { when: "at iteration " + m.it.toLocaleString("en"), data: D.dataText[k],
               grad: j !== undefined && m.grads ? fmt(m.grads[j]) + " (that iteration's sample)" :
                 "not held for this moment (the replay keeps each parameter's ∂C/∂w)" };
    }
    return { when: "at this step", data: S.known[k] ? D.dataText[k] : "… (not computed yet)",
             grad: S.hasGrad[k] ? S.gradText[k] : "· (not reached yet)" };
  }
  function tip(e, k) {
    const t = $("tooltip"), v = shown(k);
    t.textContent = D.names[k] + "\ndata " + v.data + "\ngrad " + v.grad;
    t.style.display = "block"; t.style.left = (e.clientX + 14) + "px"; t.style.top = (e.clientY + 14) + "px";
  }
  function hideTip() { $("tooltip").style.display = "none"; }
  // node k's paths to the root at the weights shown: a small net's states hold their own; after an SGD step a large
  // net's hold the live paths of the parameters a ReLU turned on or off on their way (D.pathsLive: Python's), the
  // rest are those the page opened with (which nodes lie on a path does not change)
  function pathsOf(k) {
    if (D.paths) return D.paths[k] || null;
    const first = G.states && G.states[0].paths, p = first && first[k];
    if (!p || !D.pathsLive || !D.pathsLive[k]) return p || null;
    const st = G.states[G.s], made = st.pathsNow || (st.pathsNow = new Map());
    if (!made.has(k)) made.set(k, { nodes: p.nodes, live: D.pathsLive[k][0], n: p.n, nLive: D.pathsLive[k][1] });
    return made.get(k);
  }
  function pathInfo() {
    const p = $("paths").checked && S.selected >= 0 ? pathsOf(S.selected) : null;
    if (!p) return null;
    if (!p.sets || p.sets.drawing !== graph.ids) {  // (the ids are the drawing's: a large graph's changes with the selection)
      const ids = (ks) => new Set(graph.ids ? ks.map((k) => graph.ids[k]).filter(Boolean) : []);
      p.sets = { all: new Set(p.nodes), live: new Set(p.live), allIds: ids(p.nodes), liveIds: ids(p.live), drawing: graph.ids };
    }
    return p.sets;
  }
  function select(name) {
    const k = byName.get(name);
    if (k === undefined) { $("inspector").textContent = "No node named " + name + "."; return null; }
    S.selected = k;
    followSelection(k);
    if (L.mode === "replay" && R.index.has(k)) { R.param = R.index.get(k); $("replay-param-name").value = name; }
    if (!D.inspect && !G.states) { $("inspector").textContent = "Loading the chain rule of " + name + "…"; render(); return null; }
    const box = $("inspector"), info = D.inspect && D.inspect[k];
    if (info) box.innerHTML = info.html;
    else {  // after an SGD step on a large net: this node's data and grad (its chain rule: explain(C, name) in Python)
      box.innerHTML = '<h2 class="name"></h2><p class="meta"></p>';
      box.firstChild.textContent = name;
      box.lastChild.textContent = "data " + D.dataText[k] + " · grad " + D.gradText[k] + " · after " + G.s + " SGD step" +
        (G.s === 1 ? "" : "s") + " (its chain rule in Python: explain(C, name))";
    }
    const now = document.createElement("p");
    now.className = "sofar"; now.id = "sofar";
    box.insertBefore(now, box.children[1] || null);
    if (D.completeAt[k] >= 0) {  // the step that completes its gradient
      const go = document.createElement("button");
      go.id = "goto-step"; go.className = "goto";
      go.textContent = "go to its step: ∂" + D.names[D.root] + "/∂" + name + " completed in backward step " +
        (D.completeAt[k] + 1) + " of " + B + " (g)";
      go.onclick = () => { stopAuto(); gotoParam(); go.blur(); };
      box.insertBefore(go, now.nextSibling);
    }
    render();
    if (L.asked >= 0) renderPredict();  // a layer's weight asked: the one selected now
    if (L.mode === "replay" && R.m >= 0) renderReplay(Number($("replay-k").value));  // its plot follows the choice
    return info ? info.text : box.innerText;
  }

  // --- stepping ---------------------------------------------------------------------------
  function render() {
    // while predict mode asks, the step's own text (and the one before, which may hold the answer) waits
    const banner = L.mode === "replay" && R.m >= 0 ? replayNote() : L.asked >= 0 && cur() ?
      "Backward " + (L.asked + 1) + " of " + B + ", not revealed yet:\n" + cur().q + " = ?" : stepText(S.k);
    if ($("current").textContent !== banner) { $("current").textContent = banner; $("current").scrollTop = 0; }
    cueMore();
    $("counter").textContent = counterText(S.k);  // (the phase and the layer are the banner's: "Layer 3 of 12 · Forward, …")
    $("scrub").value = S.k;
    const so = $("sofar");
    if (so && S.selected >= 0) {
      const v = shown(S.selected);
      so.textContent = v.when + ": data " + v.data + " · grad " + v.grad +
        (L.mode === "replay" ? ". The chain rule below is the trained net's (" + trainedText() + ")." : "") +
        (G.update && G.update.k === S.selected ? "\nSGD: " + G.update.text : "");
    }
    // the chain rule shows once the backward pass has completed this gradient (as the numbers in the views)
    $("inspector").classList.toggle("unreached", S.selected >= 0 && !(L.mode === "replay" && R.m >= 0) &&
      !(S.complete[S.selected] || (isLeaf[S.selected] && S.k >= STEPS)));
    if (graph.svg) renderGraph();
    renderNetwork();
    try { history.replaceState(null, "", "#" + S.k); } catch (e) { /* about:srcdoc in a notebook */ }
    for (const f of api.listeners) f(api.current());
  }
  const counterText = (k) => "step " + k + " of " + STEPS;
  function fixCounter() {  // the counter as wide as its longest text (in em: it scales with the type), so the bar stays still
    const c = $("counter"), was = c.textContent;
    c.style.minWidth = ""; c.textContent = counterText(STEPS).replace(/\d/g, "8");
    c.style.minWidth = (c.getBoundingClientRect().width / (parseFloat(getComputedStyle(c).fontSize) || 16) + 0.1).toFixed(2) + "em";
    c.textContent = was;
  }
  // a banner longer than its box says so ("more ↓", see explorer.css) until it is scrolled to its end
  function cueMore() {
    const c = $("current");
    c.classList.toggle("more", c.scrollHeight - c.scrollTop - c.clientHeight > 2);
  }
  function goto(k) {
    k = Math.max(0, Math.min(STEPS, Math.round(Number(k)) || 0));
    leaveQuestion(k);
    compute(k); render();
    return S.k;
  }
  function gotoStop(j) {
    if (j < 0 || j >= STOPS.length) return goto(j < 0 ? 0 : STEPS);
    leaveQuestion(STOPS[j].k);
    computeStop(j); render();
    return S.k;
  }
  // → and ← at the grain chosen: a node, or a layer (PageDown / PageUp: a layer whatever the grain)
  function stepLayer() {
    const j = S.stop >= 0 ? S.stop + 1 : nextStop(S.k), last = j < 0 || j >= STOPS.length;
    if (asksFirst(last ? STEPS : STOPS[j].k)) return S.k;  // predict mode: a layer's questions first, one by one
    return last ? goto(STEPS) : gotoStop(j);
  }
  function backLayer() { const j = S.stop >= 0 ? S.stop - 1 : prevStop(S.k); return j < 0 ? goto(0) : gotoStop(j); }
  function gotoBackward() {  // the backward pass: its first step (a layer: ∂C/∂O complete)
    if (L.mode === "predict" && D.predict) {  // its first question not answered yet (all answered: its first step)
      for (let s = 0; s < B; s++) if (open(s).length) { L.asked = s; pose(); return S.k; }
    }
    if (S.grain === "layer") { const j = STOPS.findIndex((st) => st.phase !== "forward"); if (j >= 0) return gotoStop(j); }
    return goto(F + 1);
  }
  function gotoParam(name) {  // the backward step that completes the gradient of the node selected (or named)
    const k = name === undefined ? S.selected : byName.get(name);
    if (k === undefined || k < 0 || D.completeAt[k] < 0) return null;
    return goto(F + D.completeAt[k] + 1);
  }
  function setGrain(g) {
    S.grain = g === "node" || g === "layer" ? g : S.grain === "layer" ? "node" : "layer";
    $("grain").textContent = "by " + S.grain;
    $("grain").classList.toggle("on", S.grain === "layer");
    if (S.grain === "node" && S.stop >= 0) goto(S.k); else render();
    return S.grain;
  }
  // the first pass plays on its own until anything is pressed (after an SGD step: both passes again), at the grain
  // chosen: a layer at a time, or node by node (then quicker on a large net: 50 ms a step at least, 40 s for h = 100)
  function autoplay() {
    stopAuto();
    if (S.grain === "node") {
      if (!STEPS) return;
      goto(1);
      S.auto = setInterval(() => { if (S.k >= STEPS || asksFirst(S.k + 1)) stopAuto(); else goto(S.k + 1); },
                           D.autoplayMs || Math.min(700, Math.max(50, 20000 / STEPS)));
      return;
    }
    if (!STOPS.length) return;
    gotoStop(0);
    S.auto = setInterval(() => { if (S.stop < 0 || S.stop >= STOPS.length - 1) { stopAuto(); if (S.k < STEPS && !asksFirst(STEPS)) goto(STEPS); return; }
                                 if (asksFirst(STOPS[S.stop + 1].k)) stopAuto(); else gotoStop(S.stop + 1); }, D.autoplayMs || 700);
  }
  function stopAuto() { if (S.auto) { clearInterval(S.auto); S.auto = null; } }
  function play() {
    if (S.playing) return pause();
    if (L.mode === "replay") return null;  // the replay's keys move through the moments instead
    if (S.k >= STEPS) goto(0);
    $("play").textContent = "pause"; $("play").classList.add("on");
    const tick = () => { if (S.k >= STEPS) return pause(); if (S.grain === "layer") stepLayer(); else stepOrAsk(); if (L.asked >= 0) pause(); };
    S.playing = setInterval(tick, 1000 / Number($("speed").value));
  }
  function pause() {
    clearInterval(S.playing); S.playing = null;
    $("play").textContent = "play"; $("play").classList.remove("on");
  }
  function showView(which) {
    if (which === "network" && !D.network) which = "graph";  // not an MLP's graph: no network to draw
    for (const v of ["graph", "network"]) {
      $(v + "-view").classList.toggle("shown", v === which);
      $("tab-" + v).classList.toggle("on", v === which);
    }
    api.view = which;
    if (which === "network") layoutNetwork();
    render();
  }

  // --- learning modes: predict then check, nudge a weight ---------------------------------
  // The questions, their answers and the products come from Python (D.predict); the page
  // checks a typed number and runs the MLP's forward pass itself for the nudge.
  const L = { mode: null, asked: -1, factor: false, hints: 0, done: new Map(), right: 0, answered: 0,
              skipped: 0, nudged: null, tried: new Set(), diag: null };
  const PREDICT_HELP = "Predict mode: before each backward step is shown, → asks for the gradients it completes " +
    "(of a column of many, one: the one selected in the inspector, else the largest). Type a number, Enter: a wrong " +
    "first answer gets a second try (the score counts first tries); the step's last answer reveals it. hint, one " +
    "factor, show; d skips every dead path.";
  function parseAnswer(x) {
    if (typeof x === "number") return Number.isFinite(x) ? x : null;
    const num = "(?:\\d+\\.?\\d*|\\.\\d+)(?:e[+-]?\\d+)?";
    const m = new RegExp("^\\s*([+-]?" + num + ")\\s*(?:/\\s*(" + num + "))?\\s*$", "i")
      .exec(String(x).replace(/\u2212/g, "-"));
    if (!m) return null;
    const v = Number(m[1]) / (m[2] === undefined ? 1 : Number(m[2]));
    return Number.isFinite(v) ? v : null;
  }
  const close = (a, t) => (t === 0 ? Math.abs(a) <= 1e-9 : Math.abs(a - t) <= 0.005 * Math.abs(t));
  // A wrong answer's diagnosis: Python's candidates for the question (q.diag: the wrong numbers'
  // grid cells, their kind, factor and message, see explorer/learn.py), the one of lowest rank whose
  // cell is within 1 of the answer's (then the nearest); null when none fits.  Only cells are compared.
  function diagnosis(q, v) {
    if (!q.diag || !D.grid) return null;
    const c = Math.round(Math.asinh(v / D.grid.scale) / D.grid.step);
    let best = null;
    for (const d of q.diag) {
      const off = Math.abs(d.cell - c);
      if (off <= 1 && (!best || d.rank < best.rank || (d.rank === best.rank && off < Math.abs(best.cell - c)))) best = d;
    }
    return best && { kind: best.kind, factor: best.factor, message: best.message };
  }
  // A step's questions, in the order asked: its node's gradient, then the parameters it completes;
  // of a layer's many weights (pick) the one selected in the inspector, else Python's first.
  // The weights of a pick share one place in the score: key() is the question, or its pick.
  function questionsOf(s) {
    const p = D.predict[s];
    return p.picks ? [...p.asks, ...p.picks.map((pk) => pk.find((q) => q.node === S.selected) || pk[0])] : p.asks;
  }
  const key = (s, q) => (D.predict[s].picks || []).find((pk) => pk.includes(q)) || q;
  const open = (s) => questionsOf(s).filter((q) => !L.done.has(key(s, q)));
  const cur = () => open(L.asked)[0];
  const pending = () => {
    let n = 0;
    for (let s = Math.max(0, S.k - F); s < B; s++) for (const q of questionsOf(s)) if (q.dead && !L.done.has(key(s, q))) n++;
    return n;
  };
  function productText(q) {
    const rows = [q.formula, q.handout, q.numbers, q.valueText].filter((r, i, all) => i === 0 || r !== all[i - 1]);
    return q.q + " = " + rows.join("\n      = ");
  }
  function renderPredict(result) {
    $("learn-score").textContent = L.answered ? L.right + " of " + L.answered + " on the first try" +
      (L.skipped ? " · " + L.skipped + " dead paths skipped" : "") : "no answers yet";
    const n = D.predict ? pending() : 0;
    $("skip-dead").hidden = !n;
    $("skip-dead").textContent = "skip the " + n + " dead path" + (n === 1 ? "" : "s");
    const q = L.asked >= 0 ? cur() : null;
    $("ask-form").hidden = !q;
    // the inspector would give the answer away (a chain rule holds the numbers asked): only names while asking
    $("inspector").classList.toggle("asking", !!q);
    if (q) {
      $("ask-q").textContent = (L.factor ? q.factor.q : q.q) + " = ?";
      $("ask-factor").hidden = L.factor || !q.factor;
      $("ask-factor").textContent = q.factor ? "ask one factor: " + q.factor.q : "";
    }
    if (result !== undefined) $("learn-result").textContent = result;
    $("learn-diagnosis").hidden = !(q && L.diag);  // what the first answer looks like, during the second try
    $("learn-diagnosis").textContent = q && L.diag ? L.diag.message : "";
  }
  // the asked step's next open question (the step not revealed yet, the number asked hidden), or,
  // when none is left, the step revealed; ``before`` is what the last answer showed
  function pose(before) {
    const s = L.asked, q = cur();
    L.diag = null;
    if (!q) {  // the answer box hides: → and the page's other keys are the page's again at once
      L.asked = -1; $("ask-input").blur(); goto(F + s + 1); renderPredict(before); return;
    }
    L.factor = false; L.hints = 0;
    compute(F + s); S.node = D.backward[s].node;
    for (const a of questionsOf(s)) {  // asked: no partial sum shown either; answered: its value
      if (L.done.has(key(s, a))) { S.grad[a.node] = a.value; S.hasGrad[a.node] = 1; S.gradText[a.node] = a.valueText; }
      else S.hasGrad[a.node] = 0;
    }
    render();
    renderPredict((before ? before + "\n\n" : "") + "Before this step is revealed: what is " + q.q +
      "?  (a number, 0, 1 or a fraction like 3/4)");
    if (document.activeElement !== $("ask-input")) $("ask-input").focus();
    $("ask-input").value = "";
  }
  // predict mode: a move forward to step k (a layer, PageDown, play) that would reveal a backward step whose
  // gradients are not answered yet asks them instead (true); while one is asked, it is refused
  function asksFirst(k) {
    if (L.mode !== "predict" || !D.predict || k <= S.k) return false;
    if (L.asked >= 0) { renderPredict("Answer " + cur().q + " first (or press “show”)."); return true; }
    for (let s = Math.max(0, S.k - F); s < Math.min(B, k - F); s++) if (open(s).length) { L.asked = s; pose(); return true; }
    return false;
  }
  // a jump elsewhere (End, the slider, g, ←, the URL's #step) while a question is asked: it is no longer
  // asked (it stays open: → or b asks it again); its numbers may now be in sight
  function leaveQuestion(k) {
    if (L.asked < 0 || k === F + L.asked) return;
    L.asked = -1; $("ask-input").blur(); $("inspector").classList.remove("asking"); renderPredict("");
  }
  // → in predict mode: ask the next backward step's gradients before revealing it
  function stepOrAsk() {
    if (L.mode !== "predict" || !D.predict) return goto(S.k + 1);
    if (L.asked >= 0) { renderPredict("Answer " + cur().q + " first (or press “show”)."); return S.k; }
    let k = S.k + 1;  // steps whose questions were all skipped pass in one press
    while (k > F && k <= STEPS && questionsOf(k - F - 1).every((q) => L.done.get(key(k - F - 1, q)) === "skipped")) k++;
    if (k > F && k <= STEPS && open(k - F - 1).length) { L.asked = k - F - 1; pose(); return S.k; }
    return goto(k);
  }
  function hint() {
    if (L.asked < 0) return null;
    const q = cur();
    L.hints++;
    const text = L.factor ? "Hint: " + q.factor.q + " is the local derivative of one edge: " + q.factor.q + " = " + q.factor.text.split(" = ")[0] :
      L.hints === 1 ? "Hint: " + q.q + " = " + q.formula + (q.why ? "  (" + q.why + ")" : "") :
      "Hint: the factors are  " + q.locals.join(",  ");
    renderPredict(text);
    return text;
  }
  function settle(verdict, text) {  // the current question answered (or shown): go on
    const s = L.asked, q = cur(), k = key(s, q);
    if (!L.done.has(k)) L.done.set(k, verdict);
    pose(text + (k !== q ? "\n" + D.predict[s].rest : ""));
  }
  function toQuestion() {  // from anywhere before it (the forward pass too): the next question
    if (S.k < F) goto(F);
    while (L.asked < 0 && S.k < STEPS) stepOrAsk();
    return L.asked >= 0;
  }
  function answer(x) {
    if (!D.predict) return { accepted: false, error: "the page is still loading its questions" };
    if (L.mode !== "predict") setMode("predict");
    if (L.asked < 0 && !toQuestion()) return { accepted: false, error: "no question left: the backward pass is shown to its end (Home starts again)" };
    const q = cur(), v = parseAnswer(x);
    if (v === null) {  // not a number: a hint, no penalty
      const h = hint();
      return { accepted: false, counted: false, question: q.q, hint: h, diagnosis: null, score: $("learn-score").textContent };
    }
    if (L.factor) {
      const ok = close(v, q.factor.value);
      L.factor = false;
      const text = (ok ? "✓ right: " : "✗ not quite (you typed " + x + "): ") + q.factor.q + " = " + q.factor.text +
        "\nNow " + q.q + " = ?";
      renderPredict(text);
      return { accepted: ok, counted: false, question: q.factor.q, product: text, diagnosis: null, score: $("learn-score").textContent };
    }
    const ok = close(v, q.value), product = productText(q), k = key(L.asked, q), first = !L.tried.has(k);
    const diag = ok ? null : diagnosis(q, v);  // which factor of the chain rule looks wrong (no number given)
    if (first) { L.tried.add(k); L.answered++; if (ok) L.right++; }  // the score counts first tries
    if (!ok && first) {  // a second try before the answer is shown
      const text = "✗ not quite (you typed " + x + "). Try once more: " + q.q + " = " + q.formula +
        (q.why ? "  (" + q.why + ")" : "") + "\n(hint: the factors; show: the answer)";
      L.diag = diag;
      renderPredict(text);
      $("ask-input").focus();
      return { accepted: false, counted: true, retry: true, question: q.q, diagnosis: diag, score: $("learn-score").textContent };
    }
    settle(ok ? "right" : "wrong", (ok ? "✓ right" + (first ? ". " : " on the second try. ") : "✗ not quite again: you typed " + x + ". " +
      (diag ? diag.message + "\n" : "")) + "The chain rule:\n" + product);
    return { accepted: ok, counted: first, question: q.q, product, diagnosis: diag, score: $("learn-score").textContent };
  }
  function askFactor() {  // the current question's first factor on its own, e.g. ∂H2[3]/∂z2[3] = ?
    if (L.mode !== "predict") setMode("predict");
    if (L.asked < 0) toQuestion();
    const q = L.asked >= 0 ? cur().factor : null;
    if (!q) return null;
    L.factor = true;
    renderPredict("One factor: " + q.q + " = ?");
    $("ask-input").focus();
    return q.q;
  }
  function skipDead() {
    let n = 0;
    for (let s = Math.max(0, S.k - F); s < B; s++) for (const q of questionsOf(s)) {
      const k = key(s, q);
      if (q.dead && !L.done.has(k)) { L.done.set(k, "skipped"); n++; }
    }
    L.skipped += n;
    const text = "Skipped " + n + " questions whose gradient is 0: each lies behind a ReLU that is off, so nothing flows back.";
    if (L.asked >= 0) pose(text); else renderPredict(text);
    return n;
  }

  // the MLP's forward pass, the handout's formulas in the engine's float order
  const model = (() => {
    const nw = D.network;
    if (!nw || nw.desired === undefined) return null;
    const cols = nw.columns, layers = [];
    for (let li = 0; li < nw.links.length; li++) {
      layers.push({ nin: nw.links[li].nin, w: nw.links[li].w, neurons: cols[li + 1].neurons });
    }
    const out = layers[layers.length - 1].neurons;
    if (out.length !== 1) return null;
    const hasCost = D.root !== out[0].node;
    if (hasCost && nw.desired === null) return null;
    const params = [];
    for (const l of layers) { params.push(...l.w); for (const n of l.neurons) params.push(n.bias); }
    return { inputs: cols[0].neurons.map((n) => n.node), layers, hasCost, params, paramSet: new Set(params) };
  })();
  function forward(vals, trace) {  // trace: also keep each z and H (by node) in it
    let xs = model.inputs.map((k) => vals[k]);
    for (const l of model.layers) {
      const next = new Array(l.neurons.length);
      for (let j = 0; j < l.neurons.length; j++) {
        const n = l.neurons[j], base = j * l.nin;
        let s = vals[n.bias];  // as the engine adds (floats.add_up): b, then each w·x in order
        for (let i = 0; i < l.nin; i++) s += vals[l.w[base + i]] * xs[i];
        next[j] = n.node !== n.z ? (s > 0 ? s : 0) : s;  // ReLU on hidden layers
        if (trace) { trace[n.z] = s; trace[n.node] = next[j]; }
      }
      xs = next;
    }
    const O = xs[0];
    if (!model.hasCost) return { O, C: O };
    const e = O - D.network.desired;
    return { O, C: e * e };
  }
  const base = () => Float64Array.from(D.data);
  function forwardWith(values, x) {
    if (!model) return { error: nudgeUnavailable() };
    const vals = base();
    for (const [name, v] of Object.entries(values || {})) {
      const k = byName.get(name);
      if (k === undefined || !model.paramSet.has(k)) return { error: name + " is not a parameter of this net" };
      vals[k] = v;
    }
    if (x !== undefined) (Array.isArray(x) ? x : [x]).forEach((xi, i) => { vals[model.inputs[i]] = xi; });
    return forward(vals);
  }
  function nudgeUnavailable() {
    return "Nudging needs a net: the page runs the forward pass itself only for MLPs (layers of w·x+b, " +
      "ReLU, the cost C = (O − O_des)²). This graph is not one; build it with MLP or two_hidden_layers.";
  }
  const fmt = (x) => (x === 0 ? "0" : Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6 ? x.toExponential(6) : x.toPrecision(7));
  function nudge(name, dw) {
    if (!model) return { error: nudgeUnavailable() };
    if (!D.grads) return { error: "the page is still loading the gradients" };
    const k = byName.get(name);
    if (k === undefined || !model.paramSet.has(k)) return { error: "“" + name + "” is not a parameter of this net (e.g. " + D.names[model.params[0]] + ")" };
    dw = Number(dw);
    const w = D.data[k], w2 = w + dw;
    if (!Number.isFinite(dw) || !Number.isFinite(w2)) return { error: "Δw = " + dw + " is not a finite step (w + Δw overflows): take a smaller Δw" };
    const vals = base(), C0 = forward(vals).C;
    vals[k] = w2;
    const C1 = forward(vals).C;
    if (!Number.isFinite(C1)) return { error: "with " + name + " = " + w2 + " the forward pass leaves the finite range (C = " + C1 + "): take a smaller Δw" };
    return { name, w, dw, grad: D.grads[k], predicted: D.grads[k] * dw, actual: C1 - C0, C0, C1 };
  }
  // the handout's ③: the engine's SGD(lr=α) steps, precomputed by Python with both passes after each
  const G = { s: 0, states: null, update: null, costs: [], text: "" };
  const STATE_KEYS = ["C", "CText", "data", "dataText", "grads", "gradText", "completeAt", "dead", "forwardText",
                      "backward", "inspect", "paths", "pathsLive", "predict", "stops", "edgeText"];
  function useState(i) {
    const st = G.states[i];
    for (const key of STATE_KEYS) D[key] = st[key];
    STOPS.splice(0, STOPS.length, ...(D.stops || []));
    dead.fill(0); for (const k of st.dead) dead[k] = 1;
    G.s = i;
    reweight();
  }
  function sgdStep() {
    if (!D.sgd) return { error: "the page is still loading the SGD steps" };
    if (D.sgd.why) return { error: D.sgd.why };
    if (G.s + 1 >= G.states.length) {
      return { error: "The page holds " + (G.states.length - 1) + " SGD steps of the engine; train for more (micrograd-ws train)." };
    }
    stopAuto(); pause();
    if (L.mode === "predict" && !G.states[G.s + 1].predict) setMode("predict");  // leave it: its questions are the first weights'
    if (L.asked >= 0) { L.asked = -1; renderPredict(""); }
    const before = G.states[G.s], after = G.states[G.s + 1], lr = D.sgd.lrText;
    const k = S.selected >= 0 && isLeaf[S.selected] && !model.inputs.includes(S.selected) ? S.selected : model.params[0];
    const w = D.names[k], c = D.names[D.root];
    const text = w + " ← " + w + " − α·∂" + c + "/∂" + w + " = " + before.dataText[k] + " − " + lr + " · " +
      before.gradText[k].replace(/^-/, "(−") + (before.gradText[k].startsWith("-") ? ")" : "") + " = " + after.dataText[k];
    useState(G.s + 1);
    G.update = { k, text };
    G.costs.push(after.CText);
    G.text = "SGD step " + G.s + " (α = " + lr + "), every parameter:\n" + text + "\n" + c + " after each step: " +
      G.states[0].CText + " → " + G.costs.join(" → ") + "\nthen the forward and backward pass again:";
    $("sgd-out").textContent = G.text;
    $("sgd-panel").hidden = false;
    if (S.selected >= 0) select(D.names[S.selected]);
    autoplay();
    return { step: G.s, lr: D.sgd.lr, C0: before.C, C1: after.C, costs: G.states.slice(0, G.s + 1).map((st) => st.C),
             param: w, update: text, values: params() };
  }
  function sgdReset() { if (!G.states) return null; stopAuto(); useState(0); G.update = null; G.costs = []; G.text = "";
    $("sgd-panel").hidden = true; goto(STEPS); if (S.selected >= 0) select(D.names[S.selected]); return G.s; }
  function params() {  // every parameter's value now, by name
    const out = {};
    if (model) for (const k of model.params) out[D.names[k]] = D.data[k];
    return out;
  }
  function nudgeShown(name, dw) {  // the scripted nudge: its numbers, and the panel showing them
    const r = nudge(name, dw);
    if (!r.error) { $("nudge-name").value = name; $("nudge-dw").value = String(dw); renderNudge(); }
    return r;
  }
  function renderNudge() {
    const box = $("nudge-out");
    if (!model) { box.textContent = nudgeUnavailable(); return null; }
    const name = $("nudge-name").value.trim(), dw = parseAnswer($("nudge-dw").value);
    if (dw === null) { box.textContent = "Type Δw as a number, e.g. 0.01 or -1/8."; return null; }
    if (document.activeElement !== $("nudge-slider")) $("nudge-slider").value = String(Math.max(-1, Math.min(1, dw)));  // (Δw typed: the slider follows)
    const r = nudge(name, dw);
    if (r.error) { box.textContent = r.error; drawNudge(null); return r; }
    // short lines (at most about 55 characters: one row each beside the view on a 1280-wide projector): Δw as
    // typed, C(w + Δw) and C(w) as the page computed them
    box.textContent = name + " = " + fmt(r.w) + ",  Δw = " + dw + "\n" +
      "predicted ΔC ≈ ∂C/∂w·Δw\n" +
      "             = " + fmt(r.grad) + " · " + dw + " = " + fmt(r.predicted) + "\n" +
      "actual    ΔC = C(w+Δw) − C(w)\n" +
      "             = " + fmt(r.C1) + " − " + fmt(r.C0) + " = " + fmt(r.actual) + "\n" +
      (r.actual === 0 && r.predicted === 0 ? "no change: this weight is behind an off ReLU" :
        "apart by " + fmt(r.actual - r.predicted) + ": curvature the tangent leaves out");
    drawNudge(r);
    return r;
  }
  // a tick's number: three digits are enough to read a plot by
  const tick = (x) => (x === 0 ? "0" : Math.abs(x) < 1e-3 || Math.abs(x) >= 1e4 ? x.toExponential(1) : String(Number(x.toPrecision(3))));
  function drawNudge(r) {
    const { ctx, W, H, fs } = plotBox("nudge-plot", true);
    L.nudged = r;
    if (!r) return;
    const R = Math.max(Math.abs(r.dw) * 1.25, 1e-9), xs = [], act = [], pre = [];
    const vals = base(), C0 = r.C0, k = byName.get(r.name);
    for (let i = 0; i <= 80; i++) {
      const d = -R + 2 * R * i / 80; vals[k] = r.w + d;
      xs.push(d); act.push(forward(vals).C - C0); pre.push(r.grad * d);
    }
    const all = act.concat(pre).filter(Number.isFinite);
    let lo = Math.min(...all), hi = Math.max(...all); if (hi - lo < 1e-300) { lo -= 1; hi += 1; }
    // Words in bands of their own, where no curve goes: on top the title, whose first word ΔC names the axis of
    // the ticks under it, and the legend (beside it when they fit on one row, the title shortened if need be,
    // else in a second row); on the left ΔC's ticks; under the curves Δw's name and ticks.  The curves and the
    // dot (radius 5) stay between the bands.
    const width = (t) => ctx.measureText(t).width, row = fs + 6, asc = 0.72 * fs;
    const yTicks = [[hi, tick(hi)], [lo, tick(lo)]];
    const left = 10 + Math.max(width("ΔC"), width("Δw"), ...yTicks.map(([, t]) => width(t)));
    const actual = "— actual  ", titles = ["ΔC against Δw, |Δw| ≤ " + tick(R), "ΔC against Δw"];
    const legends = ["- - tangent ∂C/∂w·Δw", "- - tangent"].map((t) => [t, width(t) + width(actual)]);  // (the text names ∂C/∂w·Δw)
    let [tangent, legend] = legends[0], title;
    for (const [t, w] of legends) {
      title = titles.find((x) => 4 + width(x) + 16 + w <= W - 8);
      if (title) { [tangent, legend] = [t, w]; break; }
    }
    const oneRow = title !== undefined;
    if (!oneRow) title = titles.find((t) => 4 + width(t) <= W - 8) || titles[1];
    const top = (oneRow ? 1 : 2) * row + fs / 2 + 4, bottom = 1.5 * fs + 8;  // (a tick's number is centred on its value)
    const X = (d) => left + (d + R) / (2 * R) * (W - left - 10);
    const Y = (v) => H - bottom - (v - lo) / (hi - lo) * Math.max(1, H - bottom - top);
    ctx.strokeStyle = "#bbb"; ctx.lineWidth = 1; ctx.beginPath(); ctx.moveTo(X(0), top - 4); ctx.lineTo(X(0), H - bottom + 4);
    ctx.moveTo(left, Y(0)); ctx.lineTo(W - 10, Y(0)); ctx.stroke();
    const line = (ys, colour, dash) => {
      ctx.strokeStyle = colour; ctx.lineWidth = 2.5; ctx.setLineDash(dash); ctx.beginPath();
      xs.forEach((d, i) => (i ? ctx.lineTo(X(d), Y(ys[i])) : ctx.moveTo(X(d), Y(ys[i])))); ctx.stroke(); ctx.setLineDash([]);
    };
    line(act, "#0072B2", []); line(pre, "#E69F00", [6, 4]);
    ctx.fillStyle = "#CC79A7"; ctx.beginPath(); ctx.arc(X(r.dw), Y(r.actual), 5, 0, 7); ctx.fill();
    ctx.fillStyle = "#1a1a1a";
    ctx.fillText(title, 4, asc + 3);
    // ΔC's ticks, right-aligned in the left band (0 too, where the axis is, when it is apart from them)
    if (lo < 0 && hi > 0 && Y(0) - Y(hi) > 1.2 * fs && Y(lo) - Y(0) > 1.2 * fs) yTicks.push([0, "0"]);
    for (const [v, t] of yTicks) ctx.fillText(t, left - 6 - width(t), Y(v) + asc / 2);
    // Δw's ticks under the curves: −R from the left end, 0 under the axis, R to the right end
    const base0 = H - 6, xt = [["-" + tick(R), X(-R)], ["0", X(0) - width("0") / 2], [tick(R), X(R) - width(tick(R))]];
    ctx.fillText("Δw", 4, base0);
    for (const [t, x] of xt) ctx.fillText(t, x, base0);
    const legendRow = oneRow ? asc + 3 : row + asc + 3;
    ctx.fillStyle = "#E69F00"; ctx.fillText(tangent, W - 8 - width(tangent), legendRow);
    ctx.fillStyle = "#0072B2"; ctx.fillText(actual, W - 8 - legend, legendRow);
  }
  function renderSgd() {
    const r = sgdStep();
    // refused (the page holds no more steps): the steps taken and C after each stay, the reason under them
    if (r.error) { $("sgd-out").textContent = (G.s > 0 && G.text ? G.text + "\n\n" : "") + r.error; $("sgd-panel").hidden = false; }
    return r;
  }
  function setMode(m) {
    L.mode = L.mode === m ? null : m;
    for (const x of ["predict", "nudge", "replay"]) {
      $(x + "-panel").hidden = L.mode !== x; $("mode-" + x).classList.toggle("on", L.mode === x);
    }
    $("side").classList.toggle("plots", L.mode === "nudge" || L.mode === "replay");
    $("side").classList.toggle("nudging", L.mode === "nudge");
    $("side").parentElement.classList.toggle("nudging", L.mode === "nudge");
    // the replay holds each moment's weights, not its chain rule: stepping stays with the trained net
    for (const id of ["home", "back", "play", "step", "end", "scrub", "tab-graph", "paths"]) $(id).disabled = L.mode === "replay";
    if (L.mode === "replay") { pause(); $("paths").checked = false; }
    if (L.mode === "predict") {
      if (G.s > 0 && !G.states[G.s].predict) useState(0);  // the large net's questions are about the weights it opened on
      if (S.k >= STEPS || S.stop >= 0) goto(Math.min(S.k, F));  // all shown: back to the start of the backward pass
      renderPredict(PREDICT_HELP);
    }
    if (L.mode !== "predict") { L.asked = -1; $("inspector").classList.remove("asking"); }
    if (L.mode === "replay") { showView("network"); if (S.k < F) goto(F); gotoIteration(D.replay.moments[R.m >= 0 ? R.m : D.replay.moments.length - 1].it); }
    else if (R.m >= 0 && R.m !== D.replay.moments.length - 1) gotoIteration(D.replay.last);  // back to the trained net
    if (L.mode === "nudge") {
      if (!$("nudge-name").value && model) {
        $("nudge-name").value = S.selected >= 0 && model.paramSet.has(S.selected) ? D.names[S.selected] : D.names[model.params[0]];
      }
      renderNudge();
    }
    return L.mode;
  }

  // --- replay: the run's timeline (D.replay, from explore(history)) -----------------------
  const R = { m: -1, param: -1, nodes: null, index: new Map(), trained: null, cost: null, range: null };
  const trainedText = () => "after " + D.replay.last.toLocaleString("en") + " iterations, on the sample i = " + D.replay.xs[0];
  function replayNote() {
    return "Replay after " + D.replay.moments[R.m].it.toLocaleString("en") + " iterations: the network view, its tooltips " +
      "and the plots show that moment (← → Home End: the held moments). Stepping and the inspector's chain rule stay " +
      "the trained net's (" + trainedText() + "): leave the replay (r) for them.";
  }
  function nearestMoment(k) {
    const ms = D.replay.moments;
    let best = 0;
    for (let i = 1; i < ms.length; i++) if (Math.abs(ms[i].it - k) < Math.abs(ms[best].it - k)) best = i;
    return best;
  }
  function gotoIteration(k, param) {
    if (!D.replay) return { error: "this page holds no training run: write one with explore(history) or train --explore" };
    const i = nearestMoment(Math.max(0, Math.min(D.replay.last, Number(k) || 0))), m = D.replay.moments[i];
    if (!R.nodes) {
      R.nodes = D.replay.names.map((n) => byName.get(n));
      R.nodes.forEach((node, j) => R.index.set(node, j));
      R.trained = { data: D.data.slice(), dataText: D.dataText.slice(), dead: dead.slice() };  // the page's own numbers
    }
    if (param !== undefined) R.param = D.replay.names.indexOf(param);
    if (R.param < 0) R.param = D.replay.param;
    const same = R.m === i;
    R.m = i;
    if (same) { renderReplay(Number(k)); return moment(m); }  // the same held moment: only the cursor moves
    if (i === D.replay.moments.length - 1) {  // the trained net: the page's numbers exactly as Python wrote them
      for (let v = 0; v < N; v++) { D.data[v] = R.trained.data[v]; D.dataText[v] = R.trained.dataText[v]; }
      dead.set(R.trained.dead);
    } else {
      R.nodes.forEach((node, j) => { D.data[node] = m.values[j]; D.dataText[node] = fmt(m.values[j]); });
    }
    if (model && i !== D.replay.moments.length - 1) {  // the moment's activations on the page's sample: which ReLUs are off now
      const trace = Float64Array.from(D.data);
      forward(trace, trace);
      for (const l of model.layers) for (const n of l.neurons) {
        for (const k2 of [n.z, n.node]) { D.data[k2] = trace[k2]; D.dataText[k2] = fmt(trace[k2]); }
        if (n.node !== n.z) dead[n.node] = trace[n.z] > 0 ? 0 : 1;
      }
    }
    reweight();
    render();
    renderReplay(Number(k));
    return moment(m);
  }
  function moment(m) {
    const name = D.replay.names[R.param];
    return { iteration: m.it, cost: m.loss, param: name, value: m.values[R.param],
             grad: m.grads ? m.grads[R.param] : null };
  }
  function reweight() {  // each line's width bucket and sign from the weights now in D.data, and whether it is dead
    const max = new Map();
    for (const l of net.lines) if (l.w >= 0) max.set(l.link, Math.max(max.get(l.link) || 0, Math.abs(D.data[l.w])));
    for (const l of net.lines) {
      if (l.w < 0) continue;
      l.bucket = Math.min(WIDTHS.length - 1, Math.floor(WIDTHS.length * Math.abs(D.data[l.w]) / (max.get(l.link) || 1)));
      l.dead = !!(dead[l.from.node] || dead[l.to.node]);
    }
  }
  function plotBox(id, large) {  // a cleared plot at the size the layout gave it (in CSS pixels); large: its words at the page's size
    const c = $(id), dpr = window.devicePixelRatio || 1, ctx = c.getContext("2d");
    const W = Math.max(1, c.clientWidth), H = Math.max(1, c.clientHeight);
    if (c.width !== Math.round(W * dpr) || c.height !== Math.round(H * dpr)) { c.width = Math.round(W * dpr); c.height = Math.round(H * dpr); }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    // the labels follow the page's type, as the rest of the page does (present mode scales it up)
    const fs = Math.max(large ? 15 : 13, Math.round((large ? 1 : 0.85) * (parseFloat(getComputedStyle(c).fontSize) || 16)));
    ctx.font = fs + "px system-ui, sans-serif"; ctx.lineWidth = 1; ctx.setLineDash([]);
    return { c, ctx, W, H, fs };
  }
  function renderReplay(k) {
    const P = D.replay, m = P.moments[R.m], name = P.names[R.param];
    $("replay-k").max = P.last; $("replay-k").value = k;
    $("replay-text").textContent = "iteration " + k.toLocaleString("en") + (m.it !== k ? " (nearest held: " +
      m.it.toLocaleString("en") + ")" : "") + (P.marked.includes(m.it) ? " · a schedule count" : "") +
      "\nmean C over the data " + fmt(m.loss) + "\n" + name + " = " + fmt(m.values[R.param]) +
      (m.grads ? ",  ∂C/∂" + name + " = " + fmt(m.grads[R.param]) + " (that iteration's sample)" : "");
    if (!R.range) {  // fixed axes over the whole run, so the picture does not jump while scrubbing
      const ys = P.ys.concat(P.target || []);
      for (const mm of P.moments) ys.push(...mm.curve);
      R.range = [Math.min(...ys), Math.max(...ys)];
    }
    // the fit: target, data, the net's output at this moment
    let { ctx, W, H, fs } = plotBox("replay-fit");
    const gx = P.grid, x0 = gx[0], x1 = gx[gx.length - 1], [y0, y1] = R.range;
    const X = (x) => 34 + (x - x0) / (x1 - x0 || 1) * (W - 44), Y = (y) => H - 16 - (y - y0) / (y1 - y0 || 1) * (H - 24 - fs);
    const curve = (ys, colour, width) => { ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.beginPath();
      gx.forEach((x, i) => (i ? ctx.lineTo(X(x), Y(ys[i])) : ctx.moveTo(X(x), Y(ys[i])))); ctx.stroke(); };
    if (P.target) curve(P.target, "#cfcfcf", 7);
    ctx.fillStyle = "#fff"; ctx.strokeStyle = "#666"; ctx.lineWidth = 1;
    P.xs.forEach((x, i) => { ctx.beginPath(); ctx.arc(X(x), Y(P.ys[i]), 3, 0, 7); ctx.fill(); ctx.stroke(); });
    curve(m.curve, "#0072B2", 2.5);
    ctx.fillStyle = "#1a1a1a"; ctx.fillText("the fit after " + m.it.toLocaleString("en") + " iterations (grey: " + P.targetText + ")", 36, fs + 1);
    // the cost: every iteration's C (log-log), the schedule counts, the cursor
    ({ ctx, W, H, fs } = plotBox("replay-cost"));
    if (!R.cost) {
      // down to a decade and a half below the best mean C: single samples' tiny costs would squash the curve
      const pos = P.losses.filter((c) => c > 0), held = P.moments.map((q) => q.loss).filter((c) => c > 0);
      const lo = Math.max(Math.log10(Math.min(...pos, ...held)), Math.log10(Math.min(...held)) - 1.5);
      R.cost = { lo, hi: Math.log10(Math.max(...pos)), lx: Math.log10(P.last + 1) };
    }
    const { lo, hi, lx } = R.cost;
    const CX = (it) => 34 + Math.log10(it + 1) / (lx || 1) * (W - 44), CY = (c) => H - fs - 4 - (Math.log10(Math.max(c, 10 ** lo)) - lo) / (hi - lo || 1) * (H - 2 * fs - 12);
    ctx.fillStyle = "rgba(120,120,120,0.35)";
    P.losses.forEach((c, i) => ctx.fillRect(CX(i + 1), CY(c), 1.5, 1.5));
    ctx.strokeStyle = "#999"; ctx.setLineDash([4, 3]); ctx.fillStyle = "#1a1a1a";
    for (const n of P.marked) {
      ctx.beginPath(); ctx.moveTo(CX(n), fs + 5); ctx.lineTo(CX(n), H - fs - 4); ctx.stroke();
      const t = String(n), tw = ctx.measureText(t).width;  // at the right edge the label goes left of its line
      ctx.fillText(t, CX(n) + 2 + tw > W ? CX(n) - 2 - tw : CX(n) + 2, H - 3);
    }
    ctx.setLineDash([]); ctx.fillStyle = "#0072B2";
    for (const q of P.moments) { ctx.beginPath(); ctx.arc(CX(q.it), CY(q.loss), 3, 0, 7); ctx.fill(); }
    ctx.strokeStyle = "#CC79A7"; ctx.lineWidth = 3; ctx.beginPath(); ctx.moveTo(CX(k), fs + 5); ctx.lineTo(CX(k), H - fs - 4); ctx.stroke();
    const costTitle = ["C of each iteration (grey), mean C when held (blue); log–log", "C: each iteration (grey), held (blue)"]
      .find((t) => ctx.measureText(t).width <= W - 40) || "C";  // the longest title that fits
    ctx.fillStyle = "#1a1a1a"; ctx.fillText(costTitle, 36, fs + 1);
    // one parameter over the held moments: its value and ∂C/∂w
    ({ ctx, W, H, fs } = plotBox("replay-param"));
    const its = P.moments.map((q) => q.it), vs = P.moments.map((q) => q.values[R.param]);
    const gs = P.moments.map((q) => (q.grads ? q.grads[R.param] : null));
    const series = (ys, colour, top, bottom) => {
      const ok = ys.filter((y) => y !== null), a = Math.min(...ok), b = Math.max(...ok);
      const YY = (y) => bottom - (y - a) / (b - a || 1) * (bottom - top);
      ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.beginPath();
      let started = false;
      ys.forEach((y, i) => { if (y === null) return; started ? ctx.lineTo(CX(its[i]), YY(y)) : ctx.moveTo(CX(its[i]), YY(y)); started = true; });
      ctx.stroke();
    };
    series(vs, "#0072B2", fs + 6, H / 2 - 4);
    if (gs.some((g) => g !== null)) series(gs, "#E69F00", H / 2 + fs + 6, H - 16);
    ctx.strokeStyle = "#CC79A7"; ctx.lineWidth = 3; ctx.beginPath(); ctx.moveTo(CX(k), fs + 5); ctx.lineTo(CX(k), H - 16); ctx.stroke();
    ctx.fillStyle = "#0072B2"; ctx.fillText(name + " (value)", 36, fs + 1);
    ctx.fillStyle = "#E69F00"; ctx.fillText("∂C/∂" + name + " (each held iteration's sample)", 36, H / 2 + fs + 2);
  }

  const api = {
    steps: STEPS, data: D, listeners: [], view: null, stops: STOPS.length,
    goto, step: stepOrAsk, back: () => goto(S.k - 1), select, play, pause, showView,
    stepLayer, backLayer, gotoStop, backward: gotoBackward, gotoParam, grain: setGrain, present, params,
    get playingFirstPass() { return !!S.auto; }, get sgdSteps() { return G.s; }, sgdReset,
    mode: setMode, answer, hint, factor: askFactor, skipDead, nudge: nudgeShown, sgdStep, forward: forwardWith,
    goto_iteration: (k, param) => { if (L.mode !== "replay" && D.replay) setMode("replay"); return gotoIteration(k, param); },
    get iterations() { return D.replay ? D.replay.moments.map((m) => m.it) : []; },
    score: () => ({ right: L.right, answered: L.answered, skipped: L.skipped, text: $("learn-score").textContent }),
    current() {
      const grads = {};
      for (let v = 0; v < N; v++) if (S.hasGrad[v]) grads[D.names[v]] = S.grad[v];
      return { step: S.k, phase: S.k === 0 ? "start" : S.k <= F ? "forward" : "backward",
               node: S.node >= 0 ? D.names[S.node] : null, grads, layer: S.stop >= 0 ? S.stop + 1 : null, grain: S.grain,
               sgd: G.s, C: D.C };
    },
  };

  $("title").textContent = D.title;
  $("note").textContent = D.note;
  $("scrub").max = STEPS;
  $("scrub").addEventListener("input", (e) => goto(e.target.value));
  $("home").onclick = () => goto(0); $("end").onclick = () => goto(STEPS);
  $("back").onclick = api.back; $("step").onclick = stepOrAsk; $("play").onclick = play;
  // a clicked button keeps no focus, so that space and the arrows stay the page's keys
  for (const b of document.querySelectorAll("#bar button")) b.addEventListener("click", () => b.blur());
  $("speed").onchange = () => { if (S.playing) { pause(); play(); } };
  $("paths").onchange = render;
  $("mode-predict").onclick = () => setMode("predict"); $("mode-nudge").onclick = () => setMode("nudge");
  $("ask-form").onsubmit = (e) => { e.preventDefault(); answer($("ask-input").value); $("ask-input").value = ""; if (L.asked >= 0) $("ask-input").focus(); };
  $("ask-hint").onclick = hint;
  $("ask-factor").onclick = askFactor;
  $("ask-show").onclick = () => { if (L.asked >= 0) settle("shown", "Shown (not scored):\n" + productText(cur())); };
  $("skip-dead").onclick = skipDead;
  $("nudge-name").oninput = renderNudge; $("nudge-dw").oninput = renderNudge;
  $("nudge-slider").oninput = (e) => { $("nudge-dw").value = String(Number(e.target.value)); renderNudge(); };
  $("sgd").onclick = renderSgd; $("sgd-bar").onclick = () => { renderSgd(); $("sgd-bar").blur(); };
  $("grain").onclick = () => setGrain(); $("to-backward").onclick = gotoBackward; $("present").onclick = () => present();
  $("mode-replay").onclick = () => setMode("replay");
  $("replay-k").oninput = (e) => gotoIteration(e.target.value);
  $("replay-param-name").onchange = (e) => { const j = D.replay.names.indexOf(e.target.value.trim());
    if (j >= 0) gotoIteration($("replay-k").value, e.target.value.trim()); };
  api.listeners.push(() => { if (L.mode === "nudge" && S.selected >= 0 && model && model.paramSet.has(S.selected) &&
                                   $("nudge-name").value !== D.names[S.selected]) { $("nudge-name").value = D.names[S.selected]; renderNudge(); } });
  $("current").addEventListener("scroll", cueMore);
  new ResizeObserver(cueMore).observe($("current"));
  new ResizeObserver(() => {  // the plots follow the panel's size (a window resized, a projector)
    if (L.mode === "nudge" && L.nudged) drawNudge(L.nudged);
    if (L.mode === "replay" && R.m >= 0) renderReplay(Number($("replay-k").value));
  }).observe($("side"));
  const hasGraph = initGraph(), hasNet = initNetwork();
  performance.mark("explorer:views");
  $("tab-graph").onclick = () => showView("graph"); $("tab-network").onclick = () => showView("network");
  if (!D.network) { $("tab-network").disabled = true; $("tab-network").title = "the network view draws an MLP's layers; this graph is not one"; }
  document.addEventListener("keydown", (e) => {
    // typing, and the replay's own slider (its arrows move through the iterations), keep their keys
    const typing = e.target.tagName === "INPUT" && (!["range", "checkbox"].includes(e.target.type) || e.target.id === "replay-k");
    if (typing && e.key === "Escape") { e.target.blur(); return; }  // the page's keys back (an answer box keeps its text)
    if (e.target.tagName === "SELECT" || typing || e.altKey || e.ctrlKey || e.metaKey) return;
    const ms = D.replay ? D.replay.moments : [], held = (i) => gotoIteration(ms[Math.max(0, Math.min(ms.length - 1, i))].it);
    const act = L.mode === "replay" && R.m >= 0 ? { ArrowRight: () => held(R.m + 1), ArrowLeft: () => held(R.m - 1), Home: () => held(0),
                                                    End: () => held(ms.length - 1) }[e.key] : null;
    if (act) { e.preventDefault(); act(); return; }
    const layered = S.grain === "layer";
    const step = { ArrowRight: layered ? stepLayer : api.step, ArrowLeft: layered ? backLayer : api.back, " ": play,
                  Home: () => goto(0), End: () => goto(STEPS), PageDown: stepLayer, PageUp: backLayer,
                  l: () => setGrain(), b: gotoBackward, g: () => gotoParam(), s: renderSgd, f: () => present(),
                  p: () => setMode("predict"), n: () => setMode("nudge"), r: () => D.replay && setMode("replay"), d: () => (D.predict && skipDead()) }[e.key];
    if (step) { e.preventDefault(); stopAuto(); step(); }
  });
  // present mode: everything scales with the window, for a projector (f)
  function present(on) {
    const p = on === undefined ? !document.body.classList.contains("present") : !!on;
    document.body.classList.toggle("present", p);
    $("present").classList.toggle("on", p);
    if (p && document.documentElement.requestFullscreen && !document.fullscreenElement) {
      document.documentElement.requestFullscreen().catch(() => {});  // refused without a click: the layout still fills the window
    } else if (!p && document.fullscreenElement) document.exitFullscreen().catch(() => {});
    net.W = 0; if (api.view === "network") layoutNetwork();
    render();
    return p;
  }
  // anything the viewer does stops the first pass playing on its own
  for (const id of ["view", "side", "bar"]) $(id).addEventListener("pointerdown", stopAuto);
  for (const name of ["goto", "step", "back", "select", "play", "stepLayer", "backLayer", "gotoStop", "backward", "gotoParam",
                      "mode", "answer", "factor", "nudge", "goto_iteration"]) {
    const f = api[name];
    api[name] = (...args) => { stopAuto(); return f(...args); };
  }
  $("grain").textContent = "by " + S.grain; $("grain").classList.toggle("on", S.grain === "layer");
  fixCounter();
  const fromHash = () => { const m = /^#(\d+)$/.exec(location.hash); return m ? +m[1] : 0; };
  window.addEventListener("hashchange", () => { stopAuto(); goto(fromHash()); });
  compute(fromHash());
  showView(D.view === "network" && hasNet ? "network" : hasGraph || !hasNet ? "graph" : "network");
  api.readyAt = performance.now();  // for the load-time budget
  const parsed = new Promise((ok) => (document.readyState === "loading"
    ? document.addEventListener("DOMContentLoaded", ok) : ok()));
  api.loaded = parsed.then(() => decode($("explorer-inspect").textContent.trim())).then((more) => {
    Object.assign(D, more);
    $("mode-replay").hidden = !D.replay;
    if (D.replay) { R.param = D.replay.param; $("replay-param-name").value = D.replay.names[R.param]; }
    api.loadedAt = performance.now();
    if (D.sgd && D.sgd.states) {
      G.states = [Object.fromEntries(STATE_KEYS.map((key) => [key, D[key]])), ...D.sgd.states];
    } else G.states = [Object.fromEntries(STATE_KEYS.map((key) => [key, D[key]]))];
    $("sgd-bar").disabled = !!(D.sgd && D.sgd.why);
    if (D.sgd && D.sgd.why) $("sgd-bar").title = D.sgd.why;
    if (S.selected >= 0) select(D.names[S.selected]);
    else if (D.select !== null) select(D.names[D.select]);
    if (D.replay) { net.W = 0; setMode("replay"); }  // a replay page opens on the replay: the fit and the cost over time
                                                     // (its network laid out again: its neurons' names only, see labelRows)
    else if (!opened && !S.auto && S.k === 0) autoplay();  // alive at first sight: the first pass plays
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
