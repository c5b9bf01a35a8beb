// micrograd_ws lab. Python (Pyodide) starts in this page on demand, from files inlined in it; micrograd_ws
// itself computes every name, number and page shown (micrograd_ws.browserlab.session): this script asks it
// and shows the answers, and draws the training plots from the numbers it returns.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const frame = $("lab-explorer");
  // an address that is never requested: the page answers it from its own inlined files
  const INDEX = "https://micrograd-ws.invalid/pyodide/";
  let py = null, session = null, starting = null, readySeconds = null;

  function bytesOf(id) {
    const bin = atob($(id).textContent.trim());
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes;
  }
  async function unpack(id) {  // an inlined file: base64 of its gzip
    const stream = new Blob([bytesOf(id)]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  const textOf = async (id) => new TextDecoder().decode(await unpack(id));
  const blobUrl = (bytes, type) => URL.createObjectURL(new Blob([bytes], { type }));
  const painted = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));

  function status(text, error) {
    $("lab-status").textContent = text;
    $("lab-status").classList.toggle("error", !!error);
  }

  // --- starting Python ---------------------------------------------------------------------
  const manifest = JSON.parse($("lab-manifest").textContent);
  function start() {
    if (!starting) starting = boot().catch((e) => {
      starting = null;
      status("Python could not start: " + (e && e.message ? e.message : e), true);
      $("lab-start").disabled = false;
      throw e;
    });
    return starting;
  }
  async function boot() {
    const t0 = performance.now();
    $("lab-start").disabled = true;
    status(`Starting Python (1/4): unpacking Pyodide ${manifest.pyodide} and Graphviz from this page…`);
    await painted();
    const [mjs, asm, wasm, stdlib, lock, vizjs] = await Promise.all(
      ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json",
       "viz-global.js"].map((f) => unpack("lab-rt-" + f)));
    const wheels = await Promise.all(manifest.wheels.map((_, k) => unpack("lab-wheel-" + k)));
    status("Starting Python (2/4): Graphviz (viz-js, for the pictures)…");
    await new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = blobUrl(vizjs, "text/javascript");
      s.onload = resolve;
      s.onerror = () => reject(new Error("viz-js did not load"));
      document.head.appendChild(s);
    });
    const viz = await window.Viz.instance();
    window.micrograd_ws_layout = (source, format) => viz.renderString(source, { format, engine: "dot" });
    status(`Starting Python (3/4): Pyodide ${manifest.pyodide} (Python compiled to WebAssembly)…`);
    await painted();
    const { loadPyodide } = await import(blobUrl(mjs, "text/javascript"));
    const createPyodideModule = (await import(blobUrl(asm, "text/javascript"))).default;
    const files = new Map([[INDEX + "pyodide.asm.wasm", [wasm, "application/wasm"]],
                           [INDEX + "python_stdlib.zip", [stdlib, "application/zip"]]]);
    const realFetch = window.fetch;
    window.fetch = function (input, init) {  // while Pyodide starts: its files come from the page, never the network
      const url = String(input instanceof Request ? input.url : input);
      if (!url.startsWith(INDEX)) return realFetch.call(window, input, init);
      const f = files.get(url);
      return Promise.resolve(f ? new Response(f[0], { headers: { "Content-Type": f[1] } })
                               : new Response("not in this page", { status: 404 }));
    };
    try {
      py = await loadPyodide({ indexURL: INDEX, lockFileContents: new TextDecoder().decode(lock),
                               createPyodideModule, stdout: () => {}, stderr: () => {},
                               stdin: () => null });  // input() reads end-of-file: the page has no terminal
    } finally {
      window.fetch = realFetch;
    }
    status("Starting Python (4/4): installing micrograd_ws…");
    await painted();
    const site = py.runPython("import site; site.getsitepackages()[0]");
    wheels.forEach((w) => py.unpackArchive(w, "wheel", { extractDir: site }));
    py.runPython([
      "import js",
      "from micrograd_ws import viz",
      "viz.use_layout(lambda source, format: js.micrograd_ws_layout(source, format))",
      "from micrograd_ws.browserlab.session import Session",
      "session = Session()"].join("\n"));
    session = py.globals.get("session");
    const hello = call("hello");
    readySeconds = (performance.now() - t0) / 1000;
    status(`Python is ready (${readySeconds.toFixed(1)} s): ${hello.text}. Edit the code and Run (Ctrl+Enter).`);
    $("lab-intro").hidden = true;
    $("lab-work").hidden = false;
    if (!$("lab-code").value) $("lab-code").value = call("starter", ["two-neuron"]).code;
    // the starter runs at once (the explorer already shows what it computes): net is there to train
    showOutput(call("run", [$("lab-code").value]));
    drawData(call("points"));
    return readySeconds;
  }

  // one call into the session: JSON in, JSON out; a Python error the session did not expect keeps Python's words
  let crashed = null;  // Python itself failed (e.g. a C stack overflow): nothing more can run in this page
  function call(method, args) {
    if (crashed) return { error: crashed };
    let text;
    try {
      text = session.call(method, JSON.stringify(args || []));
    } catch (e) {
      if (e && e.constructor && e.constructor.name === "PythonError") {  // an error the session did not expect
        const lines = String(e.message).trim().split("\n");
        return { error: lines[lines.length - 1] };
      }
      crashed = "Python in this page has crashed (" + (e && e.message ? e.message : e) + "), as a deep recursion " +
        "can make it: copy your code, then reload the page and start Python again.";
      status(crashed, true);
      return { error: crashed };
    }
    return JSON.parse(text);
  }

  // --- the code cell -------------------------------------------------------------------------
  function showOutput(r) {
    const out = $("lab-out");
    const parts = [];
    if (r.stdout) parts.push(r.stdout.replace(/\n$/, ""));
    if (r.result != null) parts.push(r.result);
    if (r.error) parts.push(r.error);
    out.textContent = parts.join("\n");
    out.classList.toggle("error", !!r.error);
  }
  async function show() {  // the explorer of the learner's C, as the engine in the page computes it
    status("Computing the explorer page of your C in the page's Python (the h = 100 net takes a while)…");
    await painted();
    const v = call("view");
    if (v.error) {
      status(v.error, true);
      return v;
    }
    if (v.same) {  // the C the explorer shows already: nothing drawn again (said if its weights changed since)
      status(v.text, !!v.stale);
      return v;
    }
    frame.srcdoc = v.html;
    status(`The explorer shows your C (${v.nodes.toLocaleString("en")} nodes, computed in ${v.seconds} s in this page).`);
    return v;
  }
  async function runCell() {
    await start();
    $("lab-run").disabled = true;
    try {
      $("lab-out").textContent = "running…";
      $("lab-out").classList.remove("error");
      await painted();
      const r = call("run", [$("lab-code").value]);
      showOutput(r);
      if (crashed) return status(crashed, true);  // (not "your code raised an error": the page must be reloaded)
      if (T.state === "idle") drawData(call("points"));  // the fit of the model the code left (a run under way keeps its own)
      if (r.error) status("Your code raised an error: the message is under the code.", true);
      else await show();
    } finally {
      $("lab-run").disabled = false;
    }
  }
  function starter(which) {
    $("lab-code").value = call("starter", [which]).code;
    return runCell();
  }
  function download() {
    const r = call("export");
    if (r.error) return status(r.error, true);
    const a = document.createElement("a");
    a.href = blobUrl(new TextEncoder().encode(r.text), "application/json");
    a.download = r.name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    status(`Downloaded ${r.name}: micrograd_ws.load("${r.name}") reads it, and micrograd-ws explore --model-file ${r.name} opens it.`);
  }

  // --- training, a piece at a time ----------------------------------------------------------------
  const T = { state: "idle", heldShown: "" };  // idle | running | paused
  function trainButtons() {
    $("lab-train").textContent = T.state === "running" ? "pause" : T.state === "paused" ? "go on" : "train";
    $("lab-stop").hidden = T.state !== "paused";
  }
  async function trainClick() {
    if (T.state === "running") {
      T.state = "paused";
      return;
    }
    await start();
    let r;
    if (T.state === "idle") {
      r = call("train_start", [$("lab-iters").value, $("lab-lr").value]);
      if (r.error) return status(r.error, true);
      T.heldShown = "";
    }
    T.state = "running";
    trainButtons();
    status(r && r.note ? r.note : "Training in the page's Python (compiled SGD steps)…");
    while (T.state === "running") {
      if (r) {
        drawProgress(r);
        if (r.error || r.done) break;
      }
      await painted();
      if (T.state !== "running") break;
      r = call("train_more", [0.4]);
      if (r.error) {
        status(r.error, true);
        T.state = "idle";
        if (r.text) {  // it diverged: net has its weights from before the run again, drawn as they are
          $("lab-train-text").textContent = r.text;
          drawData(call("points"));
        }
      }
    }
    if (T.state === "paused") {
      status("Paused: step through a held moment (the buttons under the plots), go on, or stop this run.");
    } else {
      T.state = "idle";
      if (r && r.done) {
        status("Trained. Each held moment (buttons under the plots) opens in the explorer, to step through.");
        $("lab-train").disabled = true;  // a click meant as "pause" just as the run ends does not start another
        setTimeout(() => { $("lab-train").disabled = false; }, 800);
      }
    }
    trainButtons();
  }
  function stopTraining() {
    const r = call("train_stop");
    T.state = "idle";
    trainButtons();
    if (r.error) return status(r.error, true);
    status("Stopped: net keeps the weights it has now, and the held moments stay. Train starts a new run from them.");
  }
  function drawProgress(r) {
    $("lab-train-text").textContent = r.text;
    $("lab-cost").hidden = !r.cost;  // (no box before the first iteration's cost)
    drawFit(r);
    drawCost(r);
    const held = $("lab-held"), key = r.held.join(",");
    if (key === T.heldShown) return;  // rebuilt only when a moment is added: a click on one is never lost
    T.heldShown = key;
    held.replaceChildren();
    if (r.held.length) {
      const label = document.createElement("span");
      label.textContent = "explore the net at iteration:";
      held.appendChild(label);
    }
    for (const it of r.held) {
      const b = document.createElement("button");
      b.textContent = r.heldText[it];
      b.title = "open the net as it was then in the explorer: step through both passes";
      b.onclick = async () => {
        status(`Computing the explorer page of the net at iteration ${r.heldText[it]}…`);
        await painted();
        const v = call("moment", [it]);
        if (v.error) return status(v.error, true);
        frame.srcdoc = v.html;
        held.querySelectorAll("button").forEach((x) => x.classList.toggle("on", x === b));
        status(`The explorer shows the net after ${r.heldText[it]} iterations.`);
      };
      held.appendChild(b);
    }
  }

  // --- the plots (numbers and their texts from Python) ----------------------------------------------
  function canvas(id) {
    const c = $(id), dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = "13px system-ui, sans-serif";
    return { g, w, h };
  }
  const leftMargin = (g, ticks) => Math.max(36, ...ticks.map(([, t]) => g.measureText(t).width + 10));
  let fitAxes = null;
  function drawData(p) {
    $("lab-data-text").textContent = p.error || p.text;
    if (!p.error) drawFit(p);
  }
  let plotted = null, lastFit = null, lastCost = null;  // plotted: what the fit plot shows (lab.plotted)
  function drawFit(p) {
    lastFit = p;
    const { g, w, h } = canvas("lab-fit"), a = p.axes;
    const box = { left: leftMargin(g, a.yticks), right: w - 14, top: 22, bottom: h - 24 };
    fitAxes = { a, box, w, h };
    plotted = { xs: p.xs, ys: p.ys, grid: p.grid, curve: p.curve, axes: p.axes, box, width: w, height: h };
    const X = (x) => box.left + (x - a.x[0]) / (a.x[1] - a.x[0]) * (box.right - box.left);
    const Y = (y) => box.bottom - (y - a.y[0]) / (a.y[1] - a.y[0]) * (box.bottom - box.top);
    g.strokeStyle = "#999"; g.fillStyle = "#444"; g.lineWidth = 1;
    g.strokeRect(box.left, box.top, box.right - box.left, box.bottom - box.top);
    g.textAlign = "center";
    for (const [v, t] of a.xticks) g.fillText(t, X(v), h - 6);
    g.textAlign = "right";
    for (const [v, t] of a.yticks) g.fillText(t, box.left - 4, Y(v) + 4);
    g.textAlign = "left";
    g.fillText(a.title, box.left + 4, 15);
    g.fillStyle = "#E69F00";
    for (let k = 0; k < p.xs.length; k++) {
      g.beginPath(); g.arc(X(p.xs[k]), Y(p.ys[k]), 3.5, 0, 2 * Math.PI); g.fill();
    }
    if (p.curve) {
      g.save();
      g.beginPath(); g.rect(box.left, box.top, box.right - box.left, box.bottom - box.top); g.clip();
      g.strokeStyle = "#0072B2"; g.lineWidth = 2.5; g.beginPath();
      p.grid.forEach((x, k) => (k ? g.lineTo(X(x), Y(p.curve[k])) : g.moveTo(X(x), Y(p.curve[k]))));
      g.stroke();
      g.restore();
    }
  }
  function drawCost(r) {
    lastCost = r;
    const { g, w, h } = canvas("lab-cost"), a = r.cost;
    if (!a) return;
    const m = leftMargin(g, a.yticks);
    const X = (k) => m + (k - a.x[0]) / (a.x[1] - a.x[0]) * (w - m - 14);
    const Y = (l) => h - 22 - (l - a.y[0]) / (a.y[1] - a.y[0]) * (h - 42);
    g.strokeStyle = "#999"; g.lineWidth = 1; g.strokeRect(m, 20, w - m - 14, h - 42);
    g.fillStyle = "#444"; g.textAlign = "right";
    for (const [v, t] of a.yticks) g.fillText(t, m - 4, Y(v) + 4);
    a.xticks.forEach(([v, t], n) => {
      g.textAlign = n === a.xticks.length - 1 ? "right" : n ? "center" : "left";
      g.fillText(t, X(v), h - 6);
    });
    g.textAlign = "left"; g.fillText(a.title, m + 4, 14);
    g.strokeStyle = "#CC79A7"; g.lineWidth = 2; g.beginPath();
    a.line.forEach(([k, l], n) => (n ? g.lineTo(X(k), Y(l)) : g.moveTo(X(k), Y(l))));
    g.stroke();
  }
  // a new size (a window made full screen, a projector): the plots drawn again at it, sharp, with their boxes
  const redraw = () => {
    if (lastFit) drawFit(lastFit);
    if (lastCost && !$("lab-cost").hidden) drawCost(lastCost);
  };
  if (window.ResizeObserver) {
    const seen = new ResizeObserver(() => requestAnimationFrame(redraw));
    seen.observe($("lab-fit"));
    seen.observe($("lab-cost"));
  } else {
    window.addEventListener("resize", redraw);
  }
  $("lab-fit").addEventListener("click", (ev) => {
    if (!session || !fitAxes) return;
    // from where the click is in the plot's box as drawn (scaled, should the canvas have a new size not drawn yet)
    const { a, box, w, h } = fitAxes, c = $("lab-fit"), at = c.getBoundingClientRect();
    const px = (ev.clientX - at.left - c.clientLeft) * (w / c.clientWidth);  // (inside the canvas's border)
    const py_ = (ev.clientY - at.top - c.clientTop) * (h / c.clientHeight);
    if (px < box.left || px > box.right || py_ < box.top || py_ > box.bottom) return;
    const x = a.x[0] + (px - box.left) / (box.right - box.left) * (a.x[1] - a.x[0]);
    const y = a.y[0] + (box.bottom - py_) / (box.bottom - box.top) * (a.y[1] - a.y[0]);
    pointsChanged(call("add_point", [x, y]));
  });
  function pointsChanged(p) {  // while a run is under way, the plot keeps showing it
    if (T.state === "idle" || p.error) return drawData(p);
    $("lab-data-text").textContent = p.text + " The run under way trains on its own data: stop it, then train, to use these.";
  }

  // --- the page's buttons, keys and scripting ----------------------------------------------------------
  $("lab-start").onclick = () => start().catch(() => {});
  $("lab-run").onclick = () => runCell();
  $("lab-two").onclick = () => starter("two-neuron");
  $("lab-h100").onclick = () => starter("h100");
  $("lab-download").onclick = download;
  $("lab-train").onclick = () => trainClick();
  $("lab-stop").onclick = stopTraining;
  $("lab-use-points").onclick = () => pointsChanged(call("paste", [$("lab-points").value]));
  $("lab-clear-points").onclick = () => pointsChanged(call("clear_points"));
  let tabLeaves = false;  // Escape was pressed: the next Tab leaves the cell, as in any other box (keyboard users)
  $("lab-code").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); runCell(); }
    else if (ev.key === "Escape") tabLeaves = true;
    else if (ev.key === "Tab" && !ev.shiftKey && !tabLeaves) {  // four spaces, as Python is indented
      ev.preventDefault();
      const t = ev.target, s = t.selectionStart;
      t.setRangeText("    ", s, t.selectionEnd, "end");
    }
    if (ev.key !== "Escape" && !["Shift", "Control", "Alt", "Meta"].includes(ev.key)) tabLeaves = false;
  });
  $("lab-code").addEventListener("blur", () => { tabLeaves = false; });

  const starterModel = JSON.parse($("lab-starter").textContent);
  window.lab = {
    /** Start Python; resolves (to the seconds it took) when it is ready. */
    start,
    /** Run code in the page's Python: {stdout, result (the last expression's repr), error}. */
    run: async (code) => { await start(); return call("run", [String(code)]); },
    /** Show the explorer of the cost C in the page's Python. */
    show: async () => { await start(); return show(); },
    /** The current model (net) as the project's JSON model file. */
    exportModel() {
      if (!session) return starterModel.text;  // the page opens on the starter's model, computed when written
      const r = call("export");
      if (r.error) throw new Error(r.error);
      return r.text;
    },
    /** What the fit plot shows now: {xs, ys (the points), grid, curve (net's O; null without a 1 → 1 net), axes}. */
    get plotted() { return plotted; },
    get ready() { return session !== null; },
    get readySeconds() { return readySeconds; },
    call: (method, ...args) => { if (!session) throw new Error("Python has not started: await lab.start()"); return call(method, args); },
  };

  textOf("lab-first").then((html) => { frame.srcdoc = html; });
})();
