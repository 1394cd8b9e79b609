"use strict";
// The stick-figure player shared by the results page (tmr search --html, inlined there) and the
// tmr serve page (loaded from the server): figures, the localize curve, hit cards, one clock.
// `drawing` is what tmrcli/views/html_page.py drawing_data() sends: scale, joints, head, bones, colours.
const TmrPlayer = (function () {
  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    Object.assign(node, attributes || {});
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A canvas drawn at the screen's pixel density; returns its context in CSS pixels.
  function context(canvas) {
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(canvas.clientWidth * ratio);
    canvas.height = Math.round(canvas.clientHeight * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return ctx;
  }

  // Every player of a page, advanced together by one animation clock, with shared loop and speed.
  class Stage {
    constructor(drawing) {
      this.drawing = drawing;
      this.unit = 1 / drawing.scale;
      this.settings = { loop: true, speed: 1 };
      this.players = [];
      let last = null;
      const tick = (now) => {
        if (last !== null) {
          const seconds = Math.min((now - last) / 1000, 0.25) * this.settings.speed;
          this.players.forEach((player) => player.advance(seconds));
        }
        last = now;
        window.requestAnimationFrame(tick);
      };
      window.requestAnimationFrame(tick);
    }
    player(canvas, figure, controls) { return new Player(this, canvas, figure, controls); }
    // Players whose canvas has left the page stop being advanced.
    prune() { this.players = this.players.filter((player) => player.canvas.isConnected); }
  }

  // One animated stick figure: a figure of tmrcli/views/html_page.py on one canvas.
  class Player {
    constructor(stage, canvas, figure, controls) {
      this.stage = stage;
      this.canvas = canvas;
      this.figure = figure;
      this.ctx = context(canvas);
      this.duration = figure.frames / figure.fps;
      this.time = 0;
      this.playing = true;
      this.listeners = [];
      this.button = element("button", { type: "button", textContent: "Pause" });
      this.slider = element("input", { type: "range", min: 0, max: figure.frames - 1, value: 0 });
      this.button.addEventListener("click", () => this.setPlaying(!this.playing));
      this.canvas.addEventListener("click", () => this.setPlaying(!this.playing));
      this.slider.addEventListener("input", () => { this.setPlaying(false); this.seek(this.slider.valueAsNumber / figure.fps); });
      controls.append(this.button, this.slider);
      stage.players.push(this);
      this.draw();
    }
    setPlaying(playing) {
      if (playing && this.time >= this.duration - 1e-9) this.time = 0;
      this.playing = playing;
      this.button.textContent = playing ? "Pause" : "Play";
    }
    seek(time) {
      this.time = Math.min(Math.max(time, 0), this.duration - 1e-9);
      this.draw();
    }
    advance(seconds) {
      if (!this.playing) return;
      let time = this.time + seconds;
      if (time >= this.duration) {
        if (this.stage.settings.loop) time %= this.duration;
        else { time = this.duration - 1e-9; this.setPlaying(false); }
      }
      this.seek(time);
    }
    frame() { return Math.min(this.figure.frames - 1, Math.floor(this.time * this.figure.fps)); }
    draw() {
      const d = this.stage.drawing, ctx = this.ctx, size = this.canvas.clientWidth, f = this.figure, k = this.frame();
      const s = size * this.stage.unit;
      ctx.clearRect(0, 0, size, this.canvas.clientHeight);
      ctx.lineCap = "round";
      ctx.strokeStyle = d.colours.grid;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let i = 0; i < f.grid.length; i += 4) {
        ctx.moveTo(f.grid[i] * s, f.grid[i + 1] * s);
        ctx.lineTo(f.grid[i + 2] * s, f.grid[i + 3] * s);
      }
      ctx.stroke();
      ctx.strokeStyle = d.colours.trajectory;
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      for (let i = 0; i < f.trajectory.length; i += 2) ctx.lineTo(f.trajectory[i] * s, f.trajectory[i + 1] * s);
      ctx.stroke();
      ctx.setLineDash([]);
      const joints = f.joints, base = k * 2 * d.joints;
      ctx.lineWidth = Math.max(2, size / 100);
      for (const [parent, child, side] of d.bones) {
        ctx.strokeStyle = d.colours[side];
        ctx.beginPath();
        ctx.moveTo(joints[base + 2 * parent] * s, joints[base + 2 * parent + 1] * s);
        ctx.lineTo(joints[base + 2 * child] * s, joints[base + 2 * child + 1] * s);
        ctx.stroke();
      }
      const head = base + 2 * d.head;
      ctx.fillStyle = d.colours.spine;
      ctx.beginPath();
      ctx.arc(joints[head] * s, joints[head + 1] * s, Math.max(3, size / 70), 0, 2 * Math.PI);
      ctx.fill();
      ctx.font = "12px ui-monospace, monospace";
      ctx.fillText((f.start + k / f.fps).toFixed(2) + " s", 8, 16);
      this.slider.value = k;
      for (const listener of this.listeners) listener(this.time);
    }
  }

  // A result's card: its figure (`show`, once the figure is at hand) or why it cannot be shown (`fail`),
  // rank, score (and confidence when the model gives one), file, segment and duration.
  function hitCard(stage, hit) {
    const card = element("article", { className: "card" });
    const figure = element("div", { className: "figure" });
    card.append(figure);
    card.show = (data) => {
      const canvas = element("canvas");
      const controls = element("div", { className: "player" });
      figure.replaceChildren(canvas, controls);
      card.player = stage.player(canvas, data, controls);
    };
    card.fail = (problem) => figure.replaceChildren(element("p", { className: "problem" }, "cannot show this motion: " + problem));
    const title = element("div");
    // A page tmr wrote names each card (`label`: "#N", or the file of a motion shown without a query) and
    // its segment (`span`, rounded as the commands print it); the API's hits give rank, start and end.
    title.append(element("span", { className: "rank" }, hit.label || "#" + hit.rank));
    if (hit.score !== null) {
      const shown = typeof hit.confidence === "number"
        ? "confidence " + hit.confidence.toFixed(2) + " · score " + hit.score.toFixed(3)
        : "score " + hit.score.toFixed(3);
      title.append(element("span", { className: "score" }, shown));
    }
    card.append(title);
    if (hit.score !== null) {
      const bar = element("div", { className: "bar" });
      bar.append(element("span"));
      const level = typeof hit.confidence === "number" ? hit.confidence : hit.score;
      bar.firstChild.style.width = (100 * Math.min(Math.max(level, 0), 1)).toFixed(1) + "%";
      card.append(bar);
    }
    card.append(element("div", { className: "path", title: hit.path }, hit.path));
    card.append(element("div", { className: "segment" }, hit.span ||
      hit.start.toFixed(2) + "-" + hit.end.toFixed(2) + " s (" + (hit.end - hit.start).toFixed(2) + " s)"));
    return card;
  }

  // The localize curve on `canvas`: scores over time, found segments shaded, a playhead following
  // the figure of `player`; a click on the curve moves the figure there.
  function curvePlot(stage, canvas, curve, player) {
    const colours = stage.drawing.colours;
    const ctx = context(canvas);
    const width = canvas.clientWidth, height = canvas.clientHeight, pad = 24;
    const last = curve.times.length ? curve.times[curve.times.length - 1] : 1;
    const span = Math.max(player.duration, last, 1e-6);
    const x = (t) => pad + (width - 2 * pad) * t / span;
    const y = (score) => height - pad - (height - 2 * pad) * score;
    function draw(time) {
      ctx.clearRect(0, 0, width, height);
      ctx.fillStyle = "rgba(31, 111, 209, 0.15)";
      ctx.strokeStyle = colours.grid;
      for (const segment of curve.segments) ctx.fillRect(x(segment.start), pad, x(segment.end) - x(segment.start), height - 2 * pad);
      ctx.strokeRect(pad, pad, width - 2 * pad, height - 2 * pad);
      ctx.fillStyle = "#666";
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillText("1", 8, pad + 4);
      ctx.fillText("0", 8, height - pad + 4);
      ctx.fillText("0 s", pad, height - 6);
      ctx.fillText(span.toFixed(1) + " s", width - pad - 24, height - 6);
      for (const segment of curve.segments) ctx.fillText(segment.score.toFixed(2), x(segment.start) + 3, pad + 12);
      ctx.strokeStyle = colours.spine;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      curve.times.forEach((t, i) => ctx.lineTo(x(t), y(curve.scores[i])));
      ctx.stroke();
      ctx.strokeStyle = colours.right;
      ctx.beginPath();
      ctx.moveTo(x(time), pad);
      ctx.lineTo(x(time), height - pad);
      ctx.stroke();
    }
    canvas.addEventListener("click", (event) => {
      const rect = canvas.getBoundingClientRect();
      player.seek((event.clientX - rect.left - pad) / (width - 2 * pad) * span);
    });
    player.listeners.push(draw);
    draw(player.time);
  }

  // The header's controls: play/pause all, loop, speed.
  function wireControls(stage, playAll, loop, speed) {
    playAll.addEventListener("click", () => {
      const playing = !stage.players.some((player) => player.playing);
      stage.players.forEach((player) => player.setPlaying(playing));
      playAll.textContent = playing ? "Pause all" : "Play all";
    });
    loop.addEventListener("change", (event) => { stage.settings.loop = event.target.checked; });
    speed.addEventListener("change", (event) => { stage.settings.speed = Number(event.target.value); });
  }

  return { element, context, Stage, hitCard, curvePlot, wireControls };
})();
