// ucgrid web console: plain JavaScript over the /v1 API, no build step.
"use strict";

const LEVELS = ["blocked", "public", "business", "team", "personal"];
const SERVICES = ["configure_profile", "chat", "softphone_audio", "softphone_video", "screen_share_accept",
  "screen_share_initiate", "sms", "record_calls", "phone_books", "apps"];
const ROLES = ["user", "receptionist", "group_admin", "manager", "owner"];
const STATE_LABEL = {available: "Available", away: "Away", busy: "Busy", dnd: "Do not disturb", offline: "Offline", "": "Not shared"};
const LINE_ICON = {idle: "☎", ringing: "☏", busy: "☎"};

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("ucgrid.token") || "";
let me = sessionStorage.getItem("ucgrid.me") || "";
let events = null;
let group = null;

function status(msg) { $("status").textContent = msg; }

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role" || k === "for") e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

async function api(method, path, body, auth) {
  const headers = {Authorization: auth || ("Bearer " + token)};
  const init = {method, headers};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 401 && !auth) { signedOut("Your session ended: sign in again."); throw new Error("signed out"); }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { if (res.ok) throw e; }
  if (!res.ok) {
    // The API's message as given: it names the field a 400 is about.
    const err = new Error(data && data.error ? data.error.message : res.status + " " + res.statusText);
    err.status = res.status;
    throw err;
  }
  return data;
}

// ---- sign-in ----

async function signIn(ev) {
  ev.preventDefault();
  const user = $("signin-user").value.trim(), pw = $("signin-password").value;
  $("signin-error").textContent = "";
  try {
    const auth = "Basic " + btoa(unescape(encodeURIComponent(user + ":" + pw)));
    const t = await api("POST", "/v1/tokens", undefined, auth);
    token = t.token; me = user;
    sessionStorage.setItem("ucgrid.token", token);
    sessionStorage.setItem("ucgrid.me", me);
    $("signin-password").value = "";
    await start();
  } catch (e) {
    $("signin-error").textContent = "Sign-in failed: " + e.message;
  }
}

function signedOut(msg) {
  if (events) { events.close(); events = null; }
  token = ""; me = "";
  sessionStorage.removeItem("ucgrid.token");
  sessionStorage.removeItem("ucgrid.me");
  $("app").hidden = true; $("who").hidden = true; $("signin").hidden = false;
  applyMay(null);
  showTab("monitor");
  status(msg || "Signed out.");
  $("signin-user").focus();
}

async function signOut() {
  try { await api("DELETE", "/v1/tokens/current"); } catch (e) { /* signed out either way */ }
  signedOut();
}

async function start() {
  $("signin").hidden = true; $("app").hidden = false; $("who").hidden = false;
  $("me-name").textContent = me;
  status("");
  await loadMe();
  await loadMonitor();
  connect();
}

// ---- monitor ----

function presenceText(p) {
  if (!p.visible) return "";
  return STATE_LABEL[p.state] + (p.note ? " — " + p.note : "") + (p.idle ? " (idle)" : "");
}

function renderPresence(user, p) {
  for (const card of document.querySelectorAll(`[data-user="${CSS.escape(user)}"]`)) {
    const st = p.visible ? p.state : "";
    card.dataset.state = st;
    const dot = card.querySelector(".dot");
    dot.className = "dot " + (p.visible ? st : "hidden");
    dot.setAttribute("aria-label", p.visible ? STATE_LABEL[st] : "presence not shared");
    card.querySelector(".presence").textContent = presenceText(p);
  }
  if (user === me && p.visible) {
    $("my-state").value = p.state;
    if (document.activeElement !== $("my-note")) $("my-note").value = p.note;
  }
}

// The audio/video indicator as the viewer's av_see_line_state grade shows
// it: gray hides whether a busy line is busy ("unavailable").
const AV_LABEL = {available: "audio/video: available", unavailable: "audio/video: unavailable", busy: "audio/video: busy"};

// forwardingText lists the forwards that are on, with their numbers when
// the viewer may see them.
function forwardingText(l) {
  if (!l.sees_forwarding) return "";
  const f = l.forwarding, to = (n) => (n ? " to " + n : "");
  const on = [];
  if (f.enabled) on.push("forwarded" + to(f.destination));
  if (f.busy_enabled) on.push("on busy" + to(f.busy));
  if (f.no_answer_enabled) on.push("on no answer" + to(f.no_answer));
  return on.join(", ");
}

function lineText(l) {
  const fwd = forwardingText(l);
  if (!l.sees_state) return fwd;
  const calls = l.calls.map((c) => (c.direction === "in" ? "from " : "to ") + (c.remote || "someone")).join(", ");
  let t = l.state + (calls ? " (" + calls + ")" : "");
  if (fwd) t += ", " + fwd;
  return t;
}

function renderLine(l) {
  for (const li of document.querySelectorAll(`[data-line="${CSS.escape(l.number)}"]`)) {
    const st = l.sees_state ? l.state : "";
    li.dataset.state = st;
    li.className = "line " + (st || "unknown");
    li.querySelector(".icon").textContent = LINE_ICON[st] || "·";
    li.querySelector(".text").textContent = lineText(l);
    const av = li.querySelector(".av");
    av.className = "av " + (l.av || "hidden");
    av.hidden = !l.av || l.av === "hidden";
    av.setAttribute("aria-label", AV_LABEL[l.av] || "");
    av.title = AV_LABEL[l.av] || "";
    li.hidden = !l.sees_state && !l.sees_forwarding;
  }
}

function contactCard(c) {
  const lines = el("ul", {class: "lines", "aria-label": "Lines of " + c.display_name});
  for (const l of c.lines) {
    lines.append(el("li", {"data-line": l.number, class: "line"},
      el("span", {class: "icon", "aria-hidden": "true"}), " ", el("span", {class: "number"}, l.number), " ",
      el("span", {class: "av hidden", role: "img", hidden: true}, "AV"), " ",
      el("span", {class: "text"})));
  }
  const card = el("li", {class: "contact", "data-user": c.id, tabIndex: 0},
    el("span", {class: "dot", role: "img"}), " ",
    el("span", {class: "name"}, c.display_name), " ",
    el("span", {class: "presence"}), lines);
  return card;
}

async function loadMonitor() {
  const m = await api("GET", "/v1/monitor");
  const box = $("monitor-groups");
  box.replaceChildren();
  const byId = new Map([[m.me.id, m.me]]);
  for (const c of m.contacts) byId.set(c.id, c);
  const mine = el("section", {class: "group", "aria-label": "Me"}, el("h3", {}, "Me"), el("ul", {class: "contacts"}, contactCard(m.me)));
  box.append(mine);
  for (const g of m.groups) {
    const ul = el("ul", {class: "contacts"});
    for (const id of g.members) {
      if (!byId.has(id)) continue;
      const card = contactCard(byId.get(id));
      if (g.logged_out.includes(id)) card.append(el("span", {class: "logged-out"}, "logged out of group calls"));
      ul.append(card);
    }
    box.append(el("section", {class: "group", "aria-label": g.name},
      el("h3", {}, g.name + " ", el("span", {class: "lock", title: "set by an administrator"}, "fixed")), ul));
  }
  if (m.groups.length === 0) box.append(el("p", {}, "Your groups show nobody on the monitor yet."));
  for (const c of byId.values()) {
    renderPresence(c.id, c.presence);
    for (const l of c.lines) renderLine(l);
  }
  $("keys").replaceChildren(...m.keys.map((k) => el("li", {}, el("strong", {}, k.label), " ", k.number)));
}

// connect opens the live stream with a single-use ticket (a token never
// goes into a URL). A ticket is good for one connection, so after an
// error the console reconnects itself with a new ticket instead of
// leaving it to EventSource.
let connecting = 0;
async function connect() {
  const gen = ++connecting;
  if (events) { events.close(); events = null; }
  $("live").textContent = "connecting";
  let t;
  try { t = await api("POST", "/v1/events/tickets"); } catch (e) {
    if (token && gen === connecting) setTimeout(() => token && gen === connecting && connect(), 3000);
    return;
  }
  if (!token || gen !== connecting) return;
  const es = new EventSource("/v1/events?ticket=" + encodeURIComponent(t.ticket));
  events = es;
  es.addEventListener("ready", () => { $("live").textContent = "live"; $("live").className = "live on"; });
  es.addEventListener("presence", (e) => { const p = JSON.parse(e.data); renderPresence(p.user, p); });
  es.addEventListener("line", (e) => renderLine(JSON.parse(e.data)));
  // Who is logged in to group calls changed: the monitor shows it.
  es.addEventListener("group_availability", () => loadMonitor().catch(() => {}));
  es.addEventListener("end", (e) => {
    const r = JSON.parse(e.data).reason;
    if (r === "signed_out") signedOut("Your session ended: sign in again.");
  });
  es.onerror = () => {
    if (events !== es) return;
    es.close(); events = null;
    $("live").textContent = "reconnecting"; $("live").className = "live";
    setTimeout(() => token && gen === connecting && connect(), 2000);
  };
}

async function setMyPresence(ev) {
  ev.preventDefault();
  try {
    await api("PUT", "/v1/users/" + encodeURIComponent(me) + "/presence", {state: $("my-state").value, note: $("my-note").value});
    status("Presence set.");
  } catch (e) { status("Could not set presence: " + e.message); }
}

// ---- who may see me ----

function levelOptions(select, optional) {
  select.replaceChildren();
  if (optional) select.append(el("option", {value: ""}, "(none)"));
  for (const l of LEVELS) select.append(el("option", {value: l}, l));
}

function grantLabel(g) {
  return (g.level || ("special: " + Object.keys(g.rights || {}).join(", "))) + untilLabel(g.until);
}

// untilLabel says when a grant or membership ends ("" when it does not).
function untilLabel(until) { return until ? " (until " + new Date(until).toLocaleString() + ")" : ""; }

// localInput turns an RFC 3339 time into a datetime-local input's value.
function localInput(rfc) {
  const d = new Date(rfc);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

// untilValue turns a datetime-local input into the API's RFC 3339 "until"
// (undefined when empty: no end).
function untilValue(input) { return input.value ? new Date(input.value).toISOString() : undefined; }

async function loadPrivacy() {
  const list = await api("GET", "/v1/users/" + encodeURIComponent(me) + "/grants");
  const rows = [];
  for (const g of list.grants) {
    const sel = el("select", {"aria-label": "Level for " + g.viewer});
    levelOptions(sel, false);
    if (!g.level) sel.prepend(el("option", {value: ""}, "special"));
    sel.value = g.level || "";
    const eff = el("td", {class: "effective"});
    const save = el("button", {type: "button"}, "Save");
    save.addEventListener("click", () => putGrant(g.viewer, sel.value, g.until));
    const del = el("button", {type: "button"}, "Remove");
    del.addEventListener("click", () => deleteGrant(g.viewer));
    rows.push(el("tr", {"data-viewer": g.viewer}, el("th", {scope: "row"}, g.viewer), el("td", {}, sel, untilLabel(g.until)), eff, el("td", {}, save, " ", del)));
    api("GET", "/v1/rights/" + encodeURIComponent(g.viewer) + "/" + encodeURIComponent(me))
      .then((x) => { eff.textContent = x.level; }).catch(() => { eff.textContent = "?"; });
  }
  $("grants").replaceChildren(...rows);
  $("presets").replaceChildren(...list.presets.map((p) => el("li", {}, p.viewer + ": " + grantLabel(p))));
}

async function putGrant(viewer, level, until) {
  if (!level) return;
  try {
    await api("PUT", "/v1/users/" + encodeURIComponent(me) + "/grants/" + encodeURIComponent(viewer), {level, until});
    status(viewer + " now gets " + level + untilLabel(until) + ".");
    await loadPrivacy();
  } catch (e) { status("Could not change the grant: " + e.message); }
}

async function deleteGrant(viewer) {
  try {
    await api("DELETE", "/v1/users/" + encodeURIComponent(me) + "/grants/" + encodeURIComponent(viewer));
    status("Grant to " + viewer + " removed.");
    await loadPrivacy();
  } catch (e) { status("Could not remove the grant: " + e.message); }
}

// ---- groups ----

async function loadGroupIds() {
  try {
    const page = await api("GET", "/v1/groups?limit=1000");
    $("group-ids").replaceChildren(...page.items.map((g) => el("option", {value: g.id}, g.name)));
  } catch (e) { /* only system roles list groups; others type the id */ }
}

async function openGroup(ev) {
  ev.preventDefault();
  $("group-error").textContent = "";
  $("group-form").hidden = true; $("override-form").hidden = true; // no edits to the group shown before while this one loads
  try {
    group = await api("GET", "/v1/groups/" + encodeURIComponent($("group-id").value.trim()));
    fillGroup();
  } catch (e) { $("group-error").textContent = e.message; $("group-form").hidden = false; }
}

function fillGroup() {
  const g = group;
  $("group-form").hidden = false; $("override-form").hidden = false;
  $("group-title").textContent = g.id;
  $("g-name").value = g.name; $("g-active").checked = g.active;
  $("g-leader").value = g.leader; $("g-deputy").value = g.deputy;
  $("g-member-level").value = g.member_level || ""; $("g-leader-level").value = g.leader_level || "";
  $("g-display").checked = g.display_members_on_monitor;
  $("g-monitor").value = g.monitor_groups.join(", ");
  renderMembers();
  const box = $("g-services");
  box.replaceChildren(el("legend", {}, "Services"));
  for (const s of SERVICES) {
    const id = "g-svc-" + s;
    box.append(el("label", {for: id}, el("input", {type: "checkbox", id, checked: g.services.includes(s), value: s}), " " + s.replaceAll("_", " ")));
  }
  const cg = g.call_group;
  $("g-cg-mode").value = cg.mode || "disabled"; $("g-cg-number").value = cg.number;
  $("g-cg-strategy").value = cg.strategy || "ring_all"; $("g-cg-timeout").value = cg.ring_timeout_s;
  $("g-cg-noanswer").value = cg.no_answer_target; $("g-cg-skipbusy").checked = cg.skip_busy;
  $("g-timezone").value = g.timezone;
  $("g-hours").value = g.office_hours ? JSON.stringify(g.office_hours, null, 1) : "";
  $("override-now").textContent = g.override ? g.override.mode : "auto";
  $("override-mode").value = g.override ? g.override.mode : "auto";
}

function renderMembers() {
  $("g-members").replaceChildren(...group.members.map((m, i) => {
    const role = el("select", {"aria-label": "Role of " + m.user});
    for (const r of ROLES) role.append(el("option", {value: r}, r.replace("_", " ")));
    role.value = m.role;
    role.addEventListener("change", () => { group.members[i].role = role.value; });
    const del = el("button", {type: "button", "aria-label": "Remove " + m.user}, "Remove");
    del.addEventListener("click", () => { group.members.splice(i, 1); renderMembers(); });
    const until = el("input", {type: "datetime-local", "aria-label": "Member until (optional) for " + m.user});
    if (m.until) until.value = localInput(m.until);
    until.addEventListener("change", () => { group.members[i].until = untilValue(until); });
    return el("tr", {}, el("th", {scope: "row"}, m.user), el("td", {}, role), el("td", {}, until), el("td", {}, del));
  }));
}

async function saveGroup(ev) {
  ev.preventDefault();
  const g = structuredClone(group);
  g.name = $("g-name").value; g.active = $("g-active").checked;
  g.leader = $("g-leader").value.trim(); g.deputy = $("g-deputy").value.trim();
  for (const [field, sel] of [["member_level", "g-member-level"], ["leader_level", "g-leader-level"]]) {
    if ($(sel).value) { g[field] = $(sel).value; delete g[field.replace("level", "rights")]; } else delete g[field];
  }
  g.display_members_on_monitor = $("g-display").checked;
  g.monitor_groups = $("g-monitor").value.split(",").map((s) => s.trim()).filter(Boolean);
  g.services = SERVICES.filter((s) => $("g-svc-" + s).checked);
  g.call_group = Object.assign(g.call_group, {mode: $("g-cg-mode").value, number: $("g-cg-number").value.trim(),
    strategy: $("g-cg-strategy").value, ring_timeout_s: Number($("g-cg-timeout").value) || 0,
    no_answer_target: $("g-cg-noanswer").value.trim(), skip_busy: $("g-cg-skipbusy").checked});
  g.timezone = $("g-timezone").value.trim();
  try {
    const hours = $("g-hours").value.trim();
    if (hours) g.office_hours = JSON.parse(hours); else delete g.office_hours;
  } catch (e) { $("group-error").textContent = "office hours: not JSON: " + e.message; return; }
  try {
    group = await api("PUT", "/v1/groups/" + encodeURIComponent(g.id), g);
    fillGroup();
    $("group-error").textContent = "";
    status("Group " + g.id + " saved.");
  } catch (e) { $("group-error").textContent = e.message; }
}

function addMember() {
  const user = $("g-new-member").value.trim();
  if (!user || group.members.some((m) => m.user === user)) return;
  group.members.push({user, role: "user"});
  $("g-new-member").value = "";
  renderMembers();
}

async function applyOverride(ev) {
  ev.preventDefault();
  const body = {mode: $("override-mode").value};
  if ($("override-until").value && body.mode !== "auto") body.until = new Date($("override-until").value).toISOString();
  try {
    await api("PUT", "/v1/groups/" + encodeURIComponent(group.id) + "/override", body);
    group = await api("GET", "/v1/groups/" + encodeURIComponent(group.id));
    fillGroup();
    status("Override set to " + body.mode + ".");
  } catch (e) { status("Could not set the override: " + e.message); }
}

// ---- tabs (arrow keys move between them) ----

function showTab(name) {
  for (const b of document.querySelectorAll(".tab")) {
    const on = b.dataset.tab === name;
    b.setAttribute("aria-selected", String(on));
    $(b.dataset.tab).hidden = !on;
  }
  if (name === "privacy") loadPrivacy().catch((e) => status(e.message));
  if (name === "groups") loadGroupIds();
  const loaders = {profile: loadProfile, users: loadUsers, lines: loadLines, trunks: loadTrunks, settings: loadSettings, sync: loadSync};
  if (loaders[name]) {
    // aria-busy while the page loads; data-state says when the latest
    // load is done (what was typed before then is overwritten).
    const panel = $(name), gen = String(Number(panel.dataset.gen || 0) + 1);
    panel.dataset.gen = gen; panel.dataset.state = "loading"; panel.setAttribute("aria-busy", "true");
    const done = (state) => {
      if (panel.dataset.gen !== gen) return;
      panel.dataset.state = state; panel.setAttribute("aria-busy", "false");
    };
    loaders[name]().then(() => done("ready"), (e) => { done("failed"); status(e.message); });
  }
}

function init() {
  for (const s of document.querySelectorAll(".level-select")) levelOptions(s, s.classList.contains("optional"));
  $("signin-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("my-presence").addEventListener("submit", setMyPresence);
  $("grant-form").addEventListener("submit", (ev) => { ev.preventDefault(); putGrant($("grant-viewer").value.trim(), $("grant-level").value, untilValue($("grant-until"))); });
  $("group-open").addEventListener("submit", openGroup);
  $("group-form").addEventListener("submit", saveGroup);
  $("g-add-member").addEventListener("click", addMember);
  $("override-form").addEventListener("submit", applyOverride);
  initAdmin();
  for (const b of document.querySelectorAll(".tab")) {
    b.addEventListener("click", () => showTab(b.dataset.tab));
    b.addEventListener("keydown", (e) => {
      const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (!d) return;
      // Only the tabs the caller may use take part.
      const tabs = [...document.querySelectorAll(".tab")].filter((t) => !t.hidden);
      const n = tabs[(tabs.indexOf(b) + d + tabs.length) % tabs.length];
      n.focus(); showTab(n.dataset.tab);
    });
  }
  if (token) start().catch(() => signedOut()); else $("signin-user").focus();
}

document.addEventListener("DOMContentLoaded", init);
