
"use strict";
(() => {
const $ = (selector) => document.querySelector(selector);
const readJSON = (id) => JSON.parse(document.getElementById(id).textContent);
const META = readJSON("meta");
const INDEX = readJSON("index-data");
const ROWS = [];

// Every element is built here; strings become text nodes, never markup.
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid == null || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}
const range = (n) => [...Array(n).keys()];
const num = (x, digits) => x == null ? "" : typeof x !== "number" ? String(x)
  : Number.isInteger(x) ? String(x) : x.toFixed(digits == null ? 2 : digits);
const PICK = {right: "\u2713", wrong: "\u2717", none: "\u2205"};
const PICK_TITLE = {right: "the pick has the best label",
  wrong: "a better-labelled candidate was there", none: "no candidate is labelled correct"};

// --- index -----------------------------------------------------------------------------------
const COST = [["calls", "judge calls", "calls"], ["sec", "seconds", "sec"],
  ["tok", "tokens", "tokens"], ["cmp", "comparisons", "cmp"]]
  .filter(([key]) => INDEX.some((e) => e[key] != null && (key === "sec" || e[key] > 0)));
const COLUMNS = [["i", "#", "num"], ["id", "id", "id"], ["kind", "kind", ""], ["n", "n", "num"],
  ["pick", "pick", ""], ["ties", "ties", "num"], ["flagged", "flags", "num"],
  ...COST.filter(([key]) => key !== "cmp").map(([key, , short]) => [key, short, "num"])];

function cell(e, key, kind) {
  if (key === "pick") {
    return h("td", {class: e.pick || "", title: PICK_TITLE[e.pick]}, PICK[e.pick] || "");
  }
  const mark = {flagged: "flag", ties: "tie"}[key];
  if (mark) return h("td", {class: "num" + (e[key] ? " " + mark : "")}, e[key] || "");
  const title = key === "id" ? e.id : null;
  return h("td", {class: kind, title}, num(e[key], key === "sec" ? 2 : 0));
}

function buildIndex() {
  $("#title").textContent = META.title;
  const judges = META.judges.join(", ") || "no judge";
  const run = [`${META.items} items`, META.strategies.join(", "), judges,
    META.labels ? "labelled" : "no labels"];
  $("#run").textContent = run.filter(Boolean).join(" \u00b7 ");
  for (const note of META.notes) $("#notes").append(h("li", {}, note));
  $("#heads").append(...COLUMNS.map(([, name, kind]) => h("th", {class: kind}, name)));
  const body = document.createDocumentFragment();
  for (const e of INDEX) {
    const row = h("tr", {"data-i": e.i, "data-id": e.id, onclick: () => openItem(e.i)},
      COLUMNS.map(([key, , kind]) => cell(e, key, kind)));
    ROWS.push(row);
    body.append(row);
  }
  $("#rows").append(body);
  const count = (test) => INDEX.filter(test).length;
  const counts = {wrong: count((e) => e.pick === "wrong"), ties: count((e) => e.ties > 0),
    flagged: count((e) => e.flagged > 0), invalid: count((e) => e.invalid > 0)};
  for (const [name, n] of Object.entries(counts)) $("#n-" + name).textContent = `(${n})`;
  if (!META.labels) {
    $("#f-wrong").disabled = true;
    const label = $("#f-wrong").parentNode;
    label.className = "off";
    label.title = "no labels: view with --input pointing at a labelled candidate file";
  }
  const kinds = {};
  for (const e of INDEX) kinds[e.kind] = (kinds[e.kind] || 0) + 1;
  for (const kind of Object.keys(kinds).sort()) {
    $("#f-kind").append(h("option", {value: kind}, `${kind} (${kinds[kind]})`));
  }
  for (const [key, name] of COST) $("#sort").append(h("option", {value: key}, `most ${name}`));
  for (const id of ["f-wrong", "f-ties", "f-flagged", "f-invalid", "f-kind"]) {
    $("#" + id).addEventListener("change", filter);
  }
  $("#f-search").addEventListener("input", filter);
  $("#sort").addEventListener("change", sort);
  filter();
}

function filter() {
  const wrong = $("#f-wrong").checked, ties = $("#f-ties").checked;
  const flagged = $("#f-flagged").checked, invalid = $("#f-invalid").checked;
  const kind = $("#f-kind").value, query = $("#f-search").value.trim().toLowerCase();
  let shown = 0;
  for (const e of INDEX) {
    const keep = (!wrong || e.pick === "wrong") && (!ties || e.ties > 0)
      && (!flagged || e.flagged > 0) && (!invalid || e.invalid > 0)
      && (!kind || e.kind === kind) && (!query || e.id.toLowerCase().includes(query));
    ROWS[e.i].hidden = !keep;
    shown += keep;
  }
  $("#count").textContent = `${shown} of ${INDEX.length}`;
}

function sort() {
  const key = $("#sort").value;
  const order = INDEX.slice();
  if (key) order.sort((x, y) => (y[key] ?? -1) - (x[key] ?? -1) || x.i - y.i);
  const body = document.createDocumentFragment();
  for (const e of order) body.append(ROWS[e.i]);
  $("#rows").append(body);
}

function openItem(i) { location.hash = "#item/" + i; }

function route() {
  const match = /^#item\/(\d+)$/.exec(location.hash);
  const i = match ? Number(match[1]) : -1;
  if (!(i >= 0 && i < INDEX.length)) return;
  for (const row of document.querySelectorAll("#rows tr.current")) row.classList.remove("current");
  ROWS[i].classList.add("current");
  ROWS[i].scrollIntoView({block: "nearest"});
  const main = $("#detail");
  main.replaceChildren(renderItem(readJSON("item-" + i), INDEX[i]));
  main.scrollTop = 0;
}

// j and k open the next and the previous visible row (in the order shown).
document.addEventListener("keydown", (event) => {
  if (event.key !== "j" && event.key !== "k") return;
  if (event.target.closest("input, select") || event.ctrlKey || event.metaKey) return;
  const rows = [...$("#rows").children];
  const step = event.key === "j" ? 1 : -1;
  let at = rows.findIndex((row) => row.classList.contains("current"));
  if (at < 0) at = step > 0 ? -1 : rows.length;
  for (let i = at + step; i >= 0 && i < rows.length; i += step) {
    if (!rows[i].hidden) return openItem(Number(rows[i].dataset.i));
  }
});

// --- text and code ---------------------------------------------------------------------------
const words = (text) => new Set(text.split(" "));
const KEYWORDS = words("and as assert async await break class continue def del elif else except " +
  "finally for from global if import in is lambda nonlocal not or pass raise return try while " +
  "with yield match case");
const CONSTANTS = words("True False None self cls");
const BUILTINS = words("abs all any bool bytes callable chr dict dir divmod enumerate filter " +
  "float format frozenset getattr hasattr hash int isinstance issubclass iter len list map max " +
  "min next object open ord pow print range repr reversed round set setattr slice sorted str " +
  "sum super tuple type zip Exception ValueError TypeError KeyError IndexError");
const PYTHON = new RegExp([
  String.raw`(#[^\n]*)`,
  String.raw`([rRbBuUfF]{0,2}(?:"{3}[\s\S]*?(?:"{3}|$)|'{3}[\s\S]*?(?:'{3}|$)` +
    String.raw`|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'))`,
  String.raw`(\b(?:0[xXoObB][\da-fA-F_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?j?)\b)`,
  String.raw`(@[A-Za-z_][\w.]*)`,
  String.raw`([A-Za-z_]\w*)`,
].join("|"), "g");

// A Python highlighter: comments, strings, numbers, decorators, keywords, builtins, and the
// names that def and class introduce.
function highlight(source) {
  const out = document.createDocumentFragment();
  let last = 0, previous = "", m;
  PYTHON.lastIndex = 0;
  while ((m = PYTHON.exec(source)) !== null) {
    if (m.index > last) out.append(source.slice(last, m.index));
    let kind = m[1] ? "c" : m[2] ? "s" : m[3] ? "n" : m[4] ? "d" : null;
    if (m[5]) {
      const word = m[5];
      kind = previous === "def" || previous === "class" ? "f" : CONSTANTS.has(word) ? "cn"
        : KEYWORDS.has(word) ? "k" : BUILTINS.has(word) ? "b" : null;
      previous = word;
    } else previous = "";
    out.append(kind ? h("span", {class: "t-" + kind}, m[0]) : m[0]);
    last = PYTHON.lastIndex;
  }
  if (last < source.length) out.append(source.slice(last));
  return out;
}

const FENCE = /```([^\n`]*)\n([\s\S]*?)(?:```|$)/g;
const PYTHONISH = words(" py python python3");
const CODE_LINE = /^(?:from|import|def|class|async def)\s|^@\w/m;

// Fenced blocks are code (Python ones highlighted) and the rest prose. A text without fences
// is code in "code" mode, prose in "text" mode, and in "auto" mode code if a line reads as
// Python (a prompt of a code item may be a function stub or a sentence).
function rich(text, mode) {
  FENCE.lastIndex = 0;
  if (!FENCE.test(text)) {
    if (mode === "code" || (mode === "auto" && CODE_LINE.test(text))) {
      return h("pre", {class: "code"}, highlight(text));
    }
    return h("div", {class: "text"}, text);
  }
  const out = h("div", {class: "text"});
  let last = 0, m;
  FENCE.lastIndex = 0;
  while ((m = FENCE.exec(text)) !== null) {
    if (m.index > last) out.append(text.slice(last, m.index));
    const lang = m[1].trim().toLowerCase();
    const python = PYTHONISH.has(lang) && (mode !== "text" || lang);
    out.append(h("pre", {class: "code"}, python ? highlight(m[2]) : m[2]));
    last = FENCE.lastIndex;
  }
  if (last < text.length) out.append(text.slice(last));
  return out;
}

const FOLD_LINES = 24, FOLD_CHARS = 2400, PREVIEW_LINES = 8;

// A long text is folded: a preview, and the whole text rendered when first unfolded.
function textBlock(text, mode) {
  if (text == null) return h("p", {class: "hint"}, "text not available (view with --input FILE)");
  const lines = text.split("\n");
  if (lines.length <= FOLD_LINES && text.length <= FOLD_CHARS) return rich(text, mode);
  const preview = lines.slice(0, PREVIEW_LINES).join("\n").slice(0, 600);
  const fold = h("details", {class: "fold"}, h("summary", {},
    h("div", {class: "preview"}, rich(preview, mode)),
    h("span", {class: "more"}, `all ${lines.length} lines, ${text.length} characters`)));
  fold.addEventListener("toggle", () => {
    if (fold.open && fold.childNodes.length === 1) fold.append(rich(text, mode));
  });
  return fold;
}

// --- one item --------------------------------------------------------------------------------
function context(d, e) {
  const trace = d.trace || {};
  const sel = d.selection;
  const evidence = (trace.explanation || {}).evidence || [];
  const signature = (k) => evidence[k] && evidence[k].signature != null
    ? String(evidence[k].signature) : null;
  const clusters = new Map();
  for (const k of range(sel.n)) {
    const key = signature(k);
    if (key == null) continue;
    if (!clusters.has(key)) clusters.set(key, []);
    clusters.get(key).push(k);
  }
  return {d, e, sel, trace, evidence, signature, clusters, matches: trace.matches || [],
    code: d.kind === "code", labels: d.labels};
}

function labelClass(ctx, k) {
  const labels = ctx.labels;
  if (!labels || labels[k] == null) return "";
  const best = Math.max(...labels.filter((x) => x != null));
  return labels[k] <= 0 ? "wrong" : labels[k] >= best ? "right" : "";
}

function flash(el) {
  if (!el) return;
  el.scrollIntoView({block: "center"});
  el.classList.add("flash");
  setTimeout(() => el.classList.remove("flash"), 1200);
}

function chip(ctx, k) {
  if (k == null) return h("span", {class: "chip"}, "none");
  const classes = ["chip", labelClass(ctx, k), k === ctx.sel.selected ? "chosen" : ""];
  return h("button", {class: classes.join(" "), type: "button", "data-cand": k,
    title: "show candidate #" + k, onclick: () => flash(document.getElementById("cand-" + k))},
    "#" + k);
}

const toMatch = (i) => () => flash(document.getElementById("match-" + i));

function renderItem(d, e) {
  const ctx = context(d, e);
  const sel = ctx.sel;
  const badge = (text, extra, title) => h("span", {class: "badge " + (extra || ""), title}, text);
  const badges = [badge(d.kind), badge(sel.strategy || "?"), badge(sel.judge || "no judge"),
    badge(`chose #${sel.selected} of ${sel.n}`, "chosen")];
  if (e.pick) {
    const what = e.pick === "none" ? "no correct candidate" : e.pick + " pick";
    badges.push(badge(`${PICK[e.pick]} ${what}`, e.pick, PICK_TITLE[e.pick]));
  }
  if (e.flagged) badges.push(badge(`${e.flagged} flagged`, "flag"));
  const where = [d.source ? `input ${d.source}` : null, `selection line ${d.line}`];
  return h("article", {id: "item", "data-id": d.id},
    h("h2", {}, d.id), h("div", {}, badges),
    h("div", {class: "hint"}, where.filter(Boolean).join(" \u00b7 ")),
    stats(sel),
    h("h2", {}, "Prompt"), textBlock(d.prompt, ctx.code ? "auto" : "text"),
    resources(d),
    h("h2", {}, `Candidates (${sel.n})`), candidates(ctx),
    clusterList(ctx),
    tournament(ctx),
    verdicts(ctx));
}

const STATS = [["comparisons", "comparisons"], ["rounds", "rounds"],
  ["judge_calls", "judge calls"], ["prompt_tokens", "prompt tokens"],
  ["completion_tokens", "completion tokens"], ["elapsed", "seconds"], ["ties", "ties"],
  ["invalid", "invalid"], ["flagged_verdicts", "flagged"], ["decisive_verdicts", "decisive"],
  ["first_shown_wins", "first shown wins"], ["both_orders_matches", "both-orders matches"],
  ["swap_disagreements", "swap disagreements"], ["short_circuits", "short-circuits"],
  ["deduplicated", "deduplicated"], ["cyclic_triads", "cyclic triads"], ["seed", "seed"]];

function stats(sel) {
  const pair = (name, value) => h("div", {}, h("dt", {}, name), h("dd", {}, value));
  const parts = STATS.filter(([key]) => sel[key] != null)
    .map(([key, name]) => pair(name, num(sel[key], key === "elapsed" ? 3 : 2)));
  for (const [who, n] of Object.entries(sel.decided_by || {})) parts.push(pair("by " + who, n));
  return h("dl", {class: "stats"}, parts);
}

function resources(d) {
  const found = Object.entries(d.resources || {});
  if (!found.length) return null;
  const shown = (value) => typeof value === "string" ? value : JSON.stringify(value, null, 1);
  return [h("h2", {}, "What the judge saw besides the texts"), found.map(([name, value]) =>
    [h("h3", {}, name), textBlock(shown(value), name === "tests" ? "code" : "text")])];
}

function candidates(ctx) {
  const {d, sel} = ctx;
  const cards = range(sel.n).map((k) => {
    const chosen = k === sel.selected;
    const badge = (text, extra, title) => h("span", {class: "badge " + (extra || ""), title}, text);
    const badges = [badge("#" + k), chosen ? badge("chosen", "chosen") : null];
    const label = ctx.labels ? ctx.labels[k] : null;
    if (label != null) badges.push(badge(`label ${num(label)}`, label > 0 ? "right" : "wrong"));
    const rank = sel.ranking ? sel.ranking.indexOf(k) : -1;
    if (rank >= 0) badges.push(badge(`rank ${rank + 1}`));
    if (sel.scores && sel.scores[k] != null) badges.push(badge(`score ${num(sel.scores[k], 3)}`));
    const sig = ctx.signature(k);
    if (sig != null) {
      const size = ctx.clusters.get(sig).length;
      badges.push(badge(`cluster ${sig} \u00d7${size}`, "", "evidence signature: its cluster"));
    }
    if (d.generators && d.generators[k]) badges.push(badge(d.generators[k]));
    const text = d.candidates ? d.candidates[k] : chosen ? d.chosen_text : null;
    return h("section", {class: "cand" + (chosen ? " chosen" : ""), id: "cand-" + k, "data-k": k},
      h("div", {}, badges), textBlock(text, ctx.code ? "code" : "text"), evidenceOf(ctx, k));
  });
  return h("div", {class: "cands"}, cards);
}

function checkLine(check) {
  return h("li", {class: "check", "data-check-id": check.id},
    h("span", {class: "st st-" + check.status}, check.status), " ", h("b", {}, check.id), " ",
    check.hard === false ? h("span", {class: "soft"}, "soft ") : null, check.detail || "");
}

function evidenceOf(ctx, k) {
  const ev = ctx.evidence[k];
  if (!ev) return null;
  const notes = (ev.notes || []).length ? h("details", {}, h("summary", {class: "more"}, "notes"),
    h("ul", {}, ev.notes.map((note) => h("li", {}, note)))) : null;
  return h("div", {}, h("h3", {}, `evidence (${ev.verifier || "?"})`),
    h("ul", {class: "checks"}, (ev.checks || []).map(checkLine)), notes);
}

function clusterList(ctx) {
  const groups = new Map(ctx.clusters);
  if (!groups.size) {
    (ctx.trace.vote_keys || []).forEach((key, k) => {
      if (key == null) return;
      if (!groups.has(String(key))) groups.set(String(key), []);
      groups.get(String(key)).push(k);
    });
  }
  if (!groups.size) return null;
  const kind = ctx.d.kind;
  const title = kind === "code" ? "Behaviour clusters" : kind === "math" ? "Answer clusters"
    : "Clusters";
  const sorted = [...groups.entries()].sort((x, y) => y[1].length - x[1].length);
  const th = (text) => h("th", {}, text);
  return [h("h2", {}, title), h("table", {class: "plain clusters"},
    h("tr", {}, th("signature"), th("size"), th("candidates")),
    sorted.map(([sig, members]) => h("tr", {}, h("td", {}, sig), h("td", {}, members.length),
      h("td", {}, members.map((k) => chip(ctx, k))))))];
}

// --- the tournament --------------------------------------------------------------------------
function tournament(ctx) {
  const strategy = ctx.sel.strategy || ctx.trace.strategy;
  if (!ctx.d.trace) {
    return [h("h2", {}, "Tournament"),
      h("p", {class: "hint"}, "no trace row for this item (view with --trace FILE)")];
  }
  const draw = {knockout: bracket, sequential: chain, "round-robin": matrix, pointwise, vote};
  const body = draw[strategy] ? draw[strategy](ctx) : null;
  return body ? [h("h2", {}, `Tournament: ${strategy}`), body] : null;
}

function rounds(ctx) {
  const byRound = new Map();
  ctx.matches.forEach((m, i) => {
    const r = m.round ?? 1;
    if (!byRound.has(r)) byRound.set(r, []);
    byRound.get(r).push([m, i]);
  });
  return [...byRound.entries()].sort((x, y) => x[0] - y[0]);
}

function outcomeText(m) {
  if (m.outcome === "tie" || m.outcome === "invalid") return m.outcome;
  return m.winner != null ? `#${m.winner} wins` : String(m.outcome);
}

// Rounds left to right; who goes on from a tie or an invalid verdict is the one that plays
// later (or is chosen); candidates that sit a round out are its byes.
function bracket(ctx) {
  const all = rounds(ctx);
  const alive = new Set(ctx.trace.order || range(ctx.sel.n));
  const columns = all.map(([r, ms], at) => {
    const later = new Set([ctx.sel.selected]);
    for (const [, next] of all.slice(at + 1)) for (const [m] of next) later.add(m.a).add(m.b);
    const playing = new Set(ms.flatMap(([m]) => [m.a, m.b]));
    const byes = [...alive].filter((k) => !playing.has(k));
    const boxes = ms.map(([m, i]) => {
      const on = m.winner != null ? m.winner : [m.a, m.b].find((k) => later.has(k)) ?? null;
      if (on != null) alive.delete(on === m.a ? m.b : m.a);
      const side = (k, first) => h("div", {class: k === on ? "adv" : ""}, chip(ctx, k),
        first ? " shown first" : "");
      const note = m.winner == null && on != null ? `, #${on} goes on` : "";
      return h("div", {class: "match", "data-match": i, onclick: toMatch(i)},
        side(m.a, true), side(m.b, false), h("div", {class: "out"}, outcomeText(m), note));
    });
    const bye = byes.length ? h("div", {class: "bye"}, "bye: ", byes.map((k) => chip(ctx, k)))
      : null;
    return h("div", {class: "round"}, h("h4", {}, `round ${r}`), boxes, bye);
  });
  columns.push(h("div", {class: "round"}, h("h4", {}, "chosen"), chip(ctx, ctx.sel.selected)));
  return h("div", {class: "bracket"}, columns);
}

// The incumbent chain: each challenger against the best so far.
function chain(ctx) {
  const all = rounds(ctx).flatMap(([, ms]) => ms);
  const order = ctx.trace.order || [];
  let holder = order.length ? order[0] : all.length ? all[0][0].a : ctx.sel.selected;
  const steps = [chip(ctx, holder)];
  all.forEach(([m, i], at) => {
    const next = all[at + 1];
    const challenger = m.a === holder ? m.b : m.a;
    let after = m.winner;
    if (after == null) {
      after = next ? [m.a, m.b].find((k) => k === next[0].a || k === next[0].b) ?? holder
        : ctx.sel.selected;
    }
    const how = after !== holder ? "takes over" : m.outcome === "tie" ? "tie, holds"
      : m.outcome === "invalid" ? "invalid, holds" : "holds";
    steps.push(h("span", {class: "step", "data-match": i, onclick: toMatch(i)},
      `\u2192 vs #${challenger}: ${how} \u2192`), chip(ctx, after));
    holder = after;
  });
  const checkpoints = Object.entries(ctx.sel.checkpoints || {});
  const best = checkpoints.length ? h("p", {}, "best after the first k candidates: ",
    checkpoints.map(([k, c]) => [`k=${k} `, chip(ctx, c), " "])) : null;
  return [h("div", {class: "chain"}, steps), best];
}

// The win matrix: row against column.
function matrix(ctx) {
  const n = ctx.sel.n, scores = ctx.sel.scores;
  const at = new Map();
  ctx.matches.forEach((m, i) => at.set(`${m.a},${m.b}`, [m, i]).set(`${m.b},${m.a}`, [m, i]));
  const th = (...kids) => h("th", {}, kids);
  const head = h("tr", {}, th(""), range(n).map((j) => th(chip(ctx, j))), th("W"), th("T"),
    th("L"), scores ? th("score") : null);
  const rows = range(n).map((k) => {
    const tally = {W: 0, T: 0, L: 0};
    const cells = range(n).map((j) => {
      const found = at.get(`${k},${j}`);
      if (j === k || !found) return h("td", {}, j === k ? "\u00b7" : "");
      const [m, i] = found;
      const mark = m.outcome === "invalid" ? "I" : m.winner === k ? "W" : m.winner === j ? "L"
        : "T";
      if (mark in tally) tally[mark]++;
      const reason = ((m.verdicts || [])[0] || {}).reason || "";
      const shown = {I: "!", T: "="}[mark] || mark;
      return h("td", {class: "cell " + mark, "data-match": i, title: reason, onclick: toMatch(i)},
        shown);
    });
    return h("tr", {"data-k": k}, th(chip(ctx, k)), cells, h("td", {}, tally.W),
      h("td", {}, tally.T), h("td", {}, tally.L), scores ? h("td", {}, num(scores[k], 3)) : null);
  });
  const triads = ctx.sel.cyclic_triads;
  return [h("p", {class: "hint"},
    "row against column: W won, L lost, = tie, ! invalid; click a cell for its verdicts"),
    h("table", {class: "matrix"}, head, rows),
    triads != null ? h("p", {}, `cyclic triads: ${num(triads, 3)}`) : null];
}

function pointwise(ctx) {
  const th = (text) => h("th", {}, text);
  const rows = (ctx.trace.scores || []).map((s, k) => h("tr", {},
    h("td", {}, chip(ctx, k)), h("td", {}, s ? num(s.value, 3) : "none"),
    h("td", {class: "reason"}, s ? s.reason || "" : "no score",
      s && s.flags ? h("div", {class: "flags"}, s.flags.join("; ")) : null),
    h("td", {}, s ? s.judge || "" : ""), h("td", {class: "cost"}, s ? costText(s.cost) : "")));
  return h("table", {class: "plain"},
    h("tr", {}, th("candidate"), th("score"), th("reason"), th("judge"), th("cost")), rows);
}

function vote(ctx) {
  const info = ctx.sel.vote || {};
  const rows = (ctx.trace.vote_keys || []).map((key, k) => h("tr", {},
    h("td", {}, chip(ctx, k)), h("td", {}, key == null ? "(no key: abstains)" : String(key))));
  const how = info.decided ? h("p", {}, `decided by: ${info.decided}; class sizes ` +
    `${(info.classes || []).join(", ")}; abstained ${info.abstained ?? 0}`) : null;
  return [h("table", {class: "plain"},
    h("tr", {}, h("th", {}, "candidate"), h("th", {}, "vote key")), rows), how];
}

// --- verdicts --------------------------------------------------------------------------------
function costText(cost) {
  if (!cost) return "";
  const p = cost.prompt_tokens || 0, c = cost.completion_tokens || 0;
  return `${cost.calls || 0} calls \u00b7 ${p + c} tokens (${p} + ${c}) \u00b7 ` +
    `${num(cost.seconds || 0, 2)} s`;
}

function findCheck(ctx, k, id) {
  const ev = ctx.evidence[k];
  return ev ? (ev.checks || []).find((c) => c.id === id) : undefined;
}

// Each cited id beside what it says about either candidate.
function citedTable(ctx, ids, first, second) {
  if (!ids || !ids.length) return null;
  const side = (k, id) => {
    const c = findCheck(ctx, k, id);
    return h("td", {}, c ? [h("span", {class: "st st-" + c.status}, c.status), " ", c.detail || ""]
      : h("span", {class: "hint"}, "\u2014"));
  };
  const head = h("tr", {}, h("th", {}, "cited evidence"), h("th", {}, `#${first} (shown first)`),
    h("th", {}, `#${second}`));
  return h("table", {class: "cited"}, head, ids.map((id) => {
    const known = findCheck(ctx, first, id) || findCheck(ctx, second, id);
    const unknown = known ? null
      : h("div", {class: "hint"}, "not a recorded check (a rubric item or a tool?)");
    return h("tr", {class: "cite", "data-cite": id}, h("td", {}, h("b", {}, id), unknown),
      side(first, id), side(second, id));
  }));
}

function clusterLine(ctx, first, second) {
  const part = (k) => {
    const sig = ctx.signature(k);
    return sig == null ? null : [chip(ctx, k), ` ${sig} (\u00d7${ctx.clusters.get(sig).length})`];
  };
  const a = part(first), b = part(second);
  return a || b ? h("div", {class: "cost"}, "clusters: ", a, " \u00b7 ", b) : null;
}

// With both display orders a match has two verdicts, the second with b shown first.
function verdictBlock(ctx, m, v, index, total) {
  const [first, second] = index === 1 && total === 2 ? [m.b, m.a] : [m.a, m.b];
  const named = v.winner === "a" ? first : v.winner === "b" ? second : null;
  const flags = v.flags && v.flags.length ? v.flags : null;
  const outcome = named != null ? ["names ", chip(ctx, named)]
    : h("b", {class: v.winner === "tie" ? "tie" : "flag"}, v.winner);
  const confidence = v.confidence != null ? `, confidence ${num(v.confidence, 2)}` : "";
  const raw = v.raw ? h("details", {}, h("summary", {class: "more"}, "raw output"),
    h("pre", {}, v.raw)) : null;
  return h("div", {class: "verdict" + (flags ? " flagged" : "")},
    h("div", {}, h("span", {class: "badge"}, v.judge || "judge?"),
      v.via ? [" ", h("span", {class: "badge"}, "via " + v.via)] : null, " ", outcome,
      ` (shown first #${first})${confidence}`),
    flags ? h("div", {class: "flags"}, "flagged: ", flags.join("; ")) : null,
    h("div", {class: "reason"}, v.reason || ""),
    citedTable(ctx, v.evidence, first, second),
    clusterLine(ctx, first, second),
    h("div", {class: "cost"}, costText(v.cost)), raw);
}

function verdicts(ctx) {
  if (!ctx.matches.length) return null;
  const cards = ctx.matches.map((m, i) => {
    const vs = m.verdicts || [];
    const result = m.winner != null ? chip(ctx, m.winner)
      : h("span", {class: m.outcome === "tie" ? "tie" : "flag"}, m.outcome);
    return h("section", {class: "matchcard", id: "match-" + i},
      h("div", {}, h("b", {}, `round ${m.round ?? "?"}: `), chip(ctx, m.a), " vs ",
        chip(ctx, m.b), " \u2192 ", result),
      vs.length ? vs.map((v, at) => verdictBlock(ctx, m, v, at, vs.length))
        : h("p", {class: "hint"}, "no verdicts recorded"));
  });
  return [h("h2", {}, `Matches and verdicts (${ctx.matches.length})`), cards];
}

buildIndex();
window.addEventListener("hashchange", route);
route();
})();
