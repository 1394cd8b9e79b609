"use strict";
// The tmr serve page: search as you type (or on Enter), every hit playing (the shared player of
// player.js), "more like this", a localise view, BVH export, the query in the URL, keyboard control.
// Every text from the library or the user reaches the page as textContent, never as HTML.
(function () {
  const { element, Stage, hitCard, curvePlot, wireControls } = TmrPlayer;
  const stage = new Stage(JSON.parse(document.getElementById("tmr-drawing").textContent));
  const box = document.getElementById("q"), howMany = document.getElementById("k");
  const hitsNode = document.getElementById("hits"), status = document.getElementById("status");
  const curve = document.getElementById("curve"), localizeBox = document.getElementById("localize-q");
  let cards = [], selected = -1, searches = 0, localizations = 0, typing = null, lastText = "", localized = null;

  async function api(url) {
    const response = await fetch(url);
    const body = await response.json().catch(() => ({ error: response.status + " " + response.statusText }));
    if (!response.ok) throw new Error(body.error || String(response.status));
    return body;
  }

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function motionUrl(id, suffix, params) {
    return "/api/motions/" + encodeURIComponent(id) + suffix + "?" + new URLSearchParams(params);
  }

  // One search (`params`: {q} or {like}); a newer one makes an older answer stale.
  async function run(params, describe) {
    const mine = ++searches;
    const url = new URL(window.location.href);
    url.search = new URLSearchParams(params).toString();
    window.history.replaceState(null, "", url);
    say("searching…");
    try {
      const result = await api("/api/search?" + new URLSearchParams({ ...params, k: howMany.value }));
      if (mine !== searches) return;
      say(result.hits.length ? describe(result) : "nothing in the library yet");
      showHits(result.hits);
    } catch (error) {
      if (mine === searches) { say(error.message, true); showHits([]); }
    }
  }

  function searchText(text) {
    text = text.trim();
    if (!text) return;
    lastText = text;
    run({ q: text }, (result) => result.hits.length + " results for “" + text + "”");
  }

  function moreLike(hit) {
    run({ like: hit.id }, (result) => result.hits.length + " motions like " + hit.path);
  }

  function actions(hit) {
    const row = element("div", { className: "actions" });
    const like = element("button", { type: "button", className: "like" }, "more like this");
    like.addEventListener("click", () => moreLike(hit));
    const open = element("button", { type: "button", className: "open" }, "localise");
    open.addEventListener("click", () => openLocalize(hit));
    const bvh = element("a", { className: "export", href: motionUrl(hit.id, "/export.bvh", { start: hit.start, end: hit.end }) }, "export BVH");
    bvh.setAttribute("download", "");
    row.append(like, open, bvh);
    return row;
  }

  function showHits(hits) {
    hitsNode.replaceChildren();
    stage.prune();
    cards = hits.map((hit, i) => {
      const card = hitCard(stage, hit);
      card.tabIndex = 0;
      card.append(actions(hit));
      card.addEventListener("focus", () => select(i, false));
      return card;
    });
    hitsNode.append(...cards);
    hits.forEach((hit, i) => {
      const card = cards[i];
      api(motionUrl(hit.id, "", { start: hit.start, end: hit.end }))
        .then((motion) => card.isConnected && card.show(motion.figure))
        .catch((error) => card.isConnected && card.fail(error.message));
    });
    selected = -1;
  }

  function select(i, focus) {
    if (!cards.length) return;
    i = Math.min(Math.max(i, 0), cards.length - 1);
    if (selected >= 0 && cards[selected]) cards[selected].classList.remove("selected");
    selected = i;
    cards[i].classList.add("selected");
    if (focus !== false) { cards[i].focus({ preventScroll: true }); cards[i].scrollIntoView({ block: "nearest" }); }
  }

  // The localise view: the whole take playing, the similarity curve of a text along it with the
  // segments found; a click on the curve or on a segment moves the figure there.
  async function openLocalize(hit) {
    localized = hit;
    curve.hidden = false;
    document.getElementById("curve-path").textContent = hit.path;
    if (!localizeBox.value.trim()) localizeBox.value = lastText;
    const text = localizeBox.value.trim();
    const mine = ++localizations;
    if (!text) { say("type what to find in this take, then Enter", true); localizeBox.focus(); return; }
    try {
      const [motion, found] = await Promise.all([
        api(motionUrl(hit.id, "", {})),
        api(motionUrl(hit.id, "/localize", { q: text, top: 3 })),
      ]);
      if (mine !== localizations) return;
      const canvas = element("canvas", { id: "curve-figure" }), controls = element("div", { className: "player" });
      document.getElementById("curve-holder").replaceChildren(canvas, controls);
      const plot = element("canvas", { id: "curve-plot" });
      document.getElementById("curve-plot").replaceWith(plot);
      stage.prune();
      const player = stage.player(canvas, motion.figure, controls);
      const points = { times: found.curve.map((p) => p.time), scores: found.curve.map((p) => p.score), segments: found.segments };
      curvePlot(stage, plot, points, player);
      const jumps = found.segments.map((segment, n) => {
        const jump = element("button", { type: "button", className: "segment-jump" },
          "#" + (n + 1) + " " + segment.start.toFixed(2) + "–" + segment.end.toFixed(2) + " s (" + segment.score.toFixed(3) + ")");
        jump.addEventListener("click", () => player.seek(segment.start));
        return jump;
      });
      document.getElementById("segments").replaceChildren(...jumps);
      if (found.segments.length) player.seek(found.segments[0].start);
      curve.scrollIntoView({ block: "nearest" });
    } catch (error) {
      if (mine === localizations) say(error.message, true);
    }
  }

  function closeLocalize() {
    curve.hidden = true;
    localized = null;
    document.getElementById("curve-holder").replaceChildren();
    stage.prune();
  }

  document.getElementById("search").addEventListener("submit", (event) => {
    event.preventDefault();
    window.clearTimeout(typing);
    searchText(box.value);
  });
  box.addEventListener("input", () => {
    window.clearTimeout(typing);
    typing = window.setTimeout(() => { if (box.value.trim() !== lastText) searchText(box.value); }, 300);
  });
  howMany.addEventListener("change", () => searchText(box.value));
  document.getElementById("localize").addEventListener("submit", (event) => {
    event.preventDefault();
    if (localized) openLocalize(localized);
  });
  document.getElementById("close-curve").addEventListener("click", closeLocalize);

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const inField = target.tagName === "INPUT" || target.tagName === "SELECT";
    if (event.key === "Escape" && !curve.hidden) { closeLocalize(); return; }
    if (target === box && event.key === "ArrowDown") { event.preventDefault(); select(0); return; }
    if (inField || target.tagName === "BUTTON" || target.tagName === "A") return;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") { event.preventDefault(); select(selected + 1); }
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp") { event.preventDefault(); select(selected - 1); }
    else if (event.key === " " && selected >= 0 && cards[selected].player) {
      event.preventDefault();
      const player = cards[selected].player;
      player.setPlaying(!player.playing);
    }
  });
  wireControls(stage, document.getElementById("play-all"), document.getElementById("loop"), document.getElementById("speed"));

  const given = new URLSearchParams(window.location.search);
  if (given.get("like")) run({ like: given.get("like") }, (result) => result.hits.length + " motions like this one");
  else if (given.get("q")) { box.value = given.get("q"); searchText(box.value); }
  else api("/api/info").then((info) => say(info.files + " motions in the library. " + status.textContent)).catch((error) => say(error.message, true));
})();
