// ucgrid web console: the pages a system is run from (users, lines,
// trunks, global settings, directory sync) and every user's own profile
// and forwarding. Loaded after app.js, whose helpers ($, el, api, status,
// levelOptions, showTab, SERVICES, me) it uses. What the caller may do
// comes from GET /v1/me; the API decides every request all the same, and
// its refusals are shown as given.
"use strict";

const CONTACT_FIELDS = [["job_title", "Job title"], ["company", "Company"], ["department", "Department"],
  ["office", "Office"], ["business_address", "Business address"], ["work_phone", "Work phone"],
  ["business_phone2", "Business phone 2"], ["mobile", "Mobile"], ["pager", "Pager"], ["private_phone", "Private phone"],
  ["business_fax", "Business fax"], ["email", "E-mail"], ["sip_address", "SIP address"], ["website", "Website"],
  ["picture", "Picture (URL)"]];

const enc = encodeURIComponent;
let myself = null; // GET /v1/me
let profileRec = null; // the caller's own user record
let editUser = null; // the user open on the Users page
let editLine = null; // the line open on the Lines page (null: a new one)
let editTrunk = null; // the trunk open on the Trunks page (null: a new one)
let globalRec = null; // GET /v1/global

// ---- what the caller may do ----

async function loadMe() {
  myself = await api("GET", "/v1/me");
  applyMay(myself.may);
}

// applyMay shows the tabs and controls marked data-may="a b" when the
// caller holds one of those actions; null (signed out) hides them all.
function applyMay(may) {
  for (const e of document.querySelectorAll("[data-may]")) {
    e.hidden = !may || !e.dataset.may.split(" ").some((a) => may[a]);
  }
  if (!may) myself = null;
}

// listAll follows a list route's cursor to the end.
async function listAll(path) {
  const items = [];
  let after = "";
  do {
    const page = await api("GET", path + "?limit=1000" + (after ? "&after=" + enc(after) : ""));
    items.push(...page.items);
    after = page.next || "";
  } while (after);
  return items;
}

// num reads a number input: "" is 0; what is not a number goes to the
// API as typed, which names the field in its refusal.
function num(id) {
  const v = $(id).value.trim();
  if (v === "") return 0;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}

function contactInputs(box, prefix) {
  for (const [f, label] of CONTACT_FIELDS) {
    box.append(el("label", {for: prefix + f}, label), el("input", {id: prefix + f}));
  }
  box.append(el("label", {for: prefix + "additional_phones"}, "Additional phones (comma separated)"),
    el("input", {id: prefix + "additional_phones"}));
}

function fillContact(prefix, c) {
  for (const [f] of CONTACT_FIELDS) $(prefix + f).value = c[f] || "";
  $(prefix + "additional_phones").value = (c.additional_phones || []).join(", ");
}

function readContact(prefix) {
  const c = {};
  for (const [f] of CONTACT_FIELDS) c[f] = $(prefix + f).value.trim();
  c.additional_phones = $(prefix + "additional_phones").value.split(",").map((s) => s.trim()).filter(Boolean);
  return c;
}

function serviceBoxes(box, prefix) {
  for (const s of SERVICES) {
    box.append(el("label", {for: prefix + s}, el("input", {type: "checkbox", id: prefix + s, value: s}), " " + s.replaceAll("_", " ")));
  }
}

// userBody is a user record as PUT takes it back.
function userBody(u) {
  const b = structuredClone(u);
  delete b.created_at; delete b.updated_at;
  return b;
}

// ---- forwarding (own lines and the Lines page) ----

// forwardingForm builds the form of a line's forwards; it sends only the
// forwards changed (PUT /v1/lines/{n}/forwarding keeps the others).
function forwardingForm(prefix, number, fw) {
  const initial = {unconditional: fw.unconditional || "", busy: fw.busy || "", no_answer: fw.no_answer || "", no_answer_s: fw.no_answer_s || 0};
  const inputs = {};
  const fs = el("fieldset", {}, el("legend", {}, "Forwarding of line " + number));
  for (const [k, label] of [["unconditional", "Always forward to"], ["busy", "When busy, forward to"], ["no_answer", "On no answer, forward to"]]) {
    const id = prefix + "-fw-" + k;
    inputs[k] = el("input", {id, value: initial[k], placeholder: "off"});
    fs.append(el("label", {for: id}, label), inputs[k]);
  }
  const sid = prefix + "-fw-no_answer_s";
  inputs.no_answer_s = el("input", {id: sid, type: "number", min: 0, value: String(initial.no_answer_s)});
  fs.append(el("label", {for: sid}, "Seconds before no answer (0: the server's default)"), inputs.no_answer_s);
  const err = el("p", {class: "error", role: "alert", id: prefix + "-fw-error"});
  const form = el("form", {class: "forwarding", "data-fw-line": number}, fs, el("button", {type: "submit"}, "Save forwarding"), err);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const k of ["unconditional", "busy", "no_answer"]) {
      const v = inputs[k].value.trim();
      if (v !== initial[k]) body[k] = v || null;
    }
    const s = inputs.no_answer_s.value.trim() === "" ? 0 : Number(inputs.no_answer_s.value);
    if (s !== initial.no_answer_s) body.no_answer_s = s;
    if (Object.keys(body).length === 0) { err.textContent = ""; status("Nothing to change."); return; }
    try {
      const out = await api("PUT", "/v1/lines/" + enc(number) + "/forwarding", body);
      Object.assign(initial, {unconditional: out.unconditional, busy: out.busy, no_answer: out.no_answer, no_answer_s: out.no_answer_s});
      err.textContent = "";
      status("Forwarding of line " + number + " saved.");
    } catch (e) { err.textContent = e.message; }
  });
  return form;
}

// ---- my profile ----

async function loadProfile() {
  await loadMe();
  profileRec = await api("GET", "/v1/users/" + enc(me));
  const u = profileRec;
  $("p-name").value = u.display_name; $("p-language").value = u.language; $("p-timezone").value = u.timezone;
  $("p-idle").checked = u.idle_display;
  fillContact("p-c-", u.contact);
  $("p-current").value = ""; $("p-new").value = "";
  const forms = [];
  for (const n of myself.lines) {
    try {
      forms.push(forwardingForm("my-" + n, n, await api("GET", "/v1/lines/" + enc(n) + "/forwarding")));
    } catch (e) { forms.push(el("p", {class: "error"}, "Line " + n + ": " + e.message)); }
  }
  if (forms.length === 0) forms.push(el("p", {}, "You have no line."));
  $("my-lines").replaceChildren(...forms);
}

async function saveProfile(ev) {
  ev.preventDefault();
  const u = userBody(profileRec);
  u.display_name = $("p-name").value.trim(); u.language = $("p-language").value.trim();
  u.timezone = $("p-timezone").value.trim(); u.idle_display = $("p-idle").checked;
  u.contact = readContact("p-c-");
  const pw = $("p-new").value;
  if (pw) { u.password = pw; u.current_password = $("p-current").value; }
  try {
    profileRec = await api("PUT", "/v1/users/" + enc(me), u);
    $("profile-error").textContent = "";
    // A new password ends every session, this one too.
    if (pw) { signedOut("Password changed: sign in with the new one."); return; }
    status("Profile saved.");
  } catch (e) { $("profile-error").textContent = e.message; }
}

// ---- users ----

// loadUsers lists every user for system roles, and the members of the
// groups where the caller is manager or owner for group roles.
// usersLoad numbers the list's loads: an older load that answers late
// does not overwrite a newer one (e.g. the one after a save).
let usersLoad = 0;

async function loadUsers() {
  const load = ++usersLoad;
  let users;
  if (myself.may.list_directory) {
    users = await listAll("/v1/users");
  } else {
    const ids = new Set();
    for (const g of myself.groups) {
      if (g.role !== "manager" && g.role !== "owner") continue;
      const grp = await api("GET", "/v1/groups/" + enc(g.group));
      for (const m of grp.members) if (m.user !== me) ids.add(m.user);
    }
    // One read per member, side by side; a member the caller may not
    // read shows why.
    users = await Promise.all([...ids].sort().map((id) => api("GET", "/v1/users/" + enc(id))
      .catch((e) => ({id, display_name: e.message, disabled: false}))));
  }
  const q = $("user-q").value.trim().toLowerCase();
  const rows = users.filter((u) => !q || u.id.toLowerCase().includes(q) || u.display_name.toLowerCase().includes(q)).map((u) => {
    const open = el("button", {type: "button", "aria-label": "Open " + u.id}, "Open");
    open.addEventListener("click", () => openUser(u.id));
    return el("tr", {"data-user-row": u.id}, el("th", {scope: "row"}, u.id), el("td", {}, u.display_name),
      el("td", {}, u.disabled ? "disabled" : "active"), el("td", {}, open));
  });
  if (load !== usersLoad) return;
  $("user-list").replaceChildren(...rows);
  $("user-list-caption").textContent = myself.may.list_directory ? "All users" : "Members of the groups you manage";
}

// The open functions hide the form while the record loads: the one it
// showed before must not be edited, and then overwritten, meanwhile.
async function openUser(id) {
  $("users-error").textContent = "";
  $("user-form").hidden = true;
  try {
    editUser = await api("GET", "/v1/users/" + enc(id));
  } catch (e) {
    $("user-form").hidden = true;
    $("users-error").textContent = e.message;
    return;
  }
  fillUser();
  $("user-form-h").focus();
}

function fillUser() {
  const u = editUser;
  $("user-form").hidden = false; $("user-error").textContent = "";
  $("u-title").textContent = u.id;
  $("u-name").value = u.display_name; $("u-disabled").checked = u.disabled; $("u-role").value = u.system_role;
  $("u-password").value = ""; $("u-language").value = u.language; $("u-timezone").value = u.timezone;
  fillContact("u-c-", u.contact);
  for (const s of SERVICES) $("u-svc-" + s).checked = u.services.includes(s);
  $("u-class").value = u.call_class || "";
}

async function saveUser(ev) {
  ev.preventDefault();
  const u = userBody(editUser);
  u.display_name = $("u-name").value.trim(); u.disabled = $("u-disabled").checked;
  u.language = $("u-language").value.trim(); u.timezone = $("u-timezone").value.trim();
  u.contact = readContact("u-c-");
  if (myself.may.appoint_system_roles) u.system_role = $("u-role").value;
  if (myself.may.set_services) {
    u.services = SERVICES.filter((s) => $("u-svc-" + s).checked);
    u.call_class = $("u-class").value;
  }
  const pw = $("u-password").value;
  if (pw) u.password = pw;
  try {
    editUser = await api("PUT", "/v1/users/" + enc(u.id), u);
    fillUser();
    status("User " + u.id + " saved." + (pw ? " The new password is set and their sessions have ended." : ""));
    // The row shows what was saved at once; the list reloads behind it.
    const row = document.querySelector(`#user-list [data-user-row="${CSS.escape(editUser.id)}"]`);
    if (row) {
      const cells = row.querySelectorAll("td");
      cells[0].textContent = editUser.display_name;
      cells[1].textContent = editUser.disabled ? "disabled" : "active";
    }
    loadUsers().catch(() => {});
  } catch (e) { $("user-error").textContent = e.message; }
}

// createUser creates a user, refusing an id that exists (PUT would
// replace that user).
async function createUser(ev) {
  ev.preventDefault();
  const id = $("nu-id").value.trim();
  $("users-error").textContent = "";
  try {
    await api("GET", "/v1/users/" + enc(id));
    $("users-error").textContent = "User " + id + " exists already: open it to change it.";
    return;
  } catch (e) {
    if (e.status !== 404) { $("users-error").textContent = e.status === 403 ? "User " + id + " exists already." : e.message; return; }
  }
  const body = {display_name: $("nu-name").value.trim()};
  if ($("nu-password").value) body.password = $("nu-password").value;
  try {
    editUser = await api("PUT", "/v1/users/" + enc(id), body);
  } catch (e) { $("users-error").textContent = e.message; return; }
  $("nu-id").value = ""; $("nu-name").value = ""; $("nu-password").value = "";
  fillUser();
  $("user-form-h").focus();
  status("User " + id + " created." + (myself.may.list_directory ? "" : " Add them to one of your groups (Groups) to administer them."));
  loadUsers().catch(() => {});
}

// ---- lines ----

async function loadLines() {
  if (!myself.may.list_directory) return;
  const lines = await listAll("/v1/lines");
  $("line-numbers").replaceChildren(...lines.map((l) => el("option", {value: l.number}, l.owner)));
  $("line-list").replaceChildren(...lines.map((l) => el("tr", {"data-line-row": l.number},
    el("th", {scope: "row"}, l.number), el("td", {}, l.owner), el("td", {}, l.label), el("td", {}, l.e164),
    el("td", {}, l.has_sip_password ? "set" : "not set"))));
}

async function openLine(ev) {
  ev.preventDefault();
  $("line-open-error").textContent = "";
  $("line-form").hidden = true;
  try {
    editLine = await api("GET", "/v1/lines/" + enc($("line-number").value.trim()));
  } catch (e) { $("line-open-error").textContent = e.message; return; }
  fillLine();
  $("line-form-h").focus();
}

function newLine() {
  editLine = null;
  $("line-open-error").textContent = "";
  fillLine();
  $("l-number").focus();
}

function fillLine() {
  const l = editLine || {number: "", owner: "", kind: "primary", label: "", e164: "", private: false, withhold_caller_id: false, has_sip_password: false};
  $("line-form").hidden = false; $("line-error").textContent = "";
  $("l-title").textContent = editLine ? l.number : "(new)";
  $("l-number").value = l.number; $("l-number").readOnly = editLine !== null;
  $("l-owner").value = l.owner; $("l-kind").value = l.kind || "primary"; $("l-label").value = l.label;
  $("l-e164").value = l.e164; $("l-private").checked = l.private; $("l-withhold").checked = l.withhold_caller_id;
  $("l-sip").value = "";
  $("l-sip-state").textContent = l.has_sip_password ? "SIP password: set" : "SIP password: not set (the line cannot register)";
  $("line-fw").replaceChildren(...(editLine ? [forwardingForm("l-" + l.number, l.number, l.forwarding)] : []));
}

async function saveLine(ev) {
  ev.preventDefault();
  const number = $("l-number").value.trim();
  if (editLine === null) {
    try {
      await api("GET", "/v1/lines/" + enc(number));
      $("line-error").textContent = "Line " + number + " exists already: open it to change it.";
      return;
    } catch (e) {
      if (e.status !== 404) { $("line-error").textContent = e.status === 403 ? "Line " + number + " exists already." : e.message; return; }
    }
  }
  const body = {owner: $("l-owner").value.trim(), kind: $("l-kind").value, label: $("l-label").value.trim(),
    e164: $("l-e164").value.trim(), private: $("l-private").checked, withhold_caller_id: $("l-withhold").checked};
  if ($("l-sip").value) body.sip_password = $("l-sip").value;
  try {
    editLine = await api("PUT", "/v1/lines/" + enc(number), body);
  } catch (e) { $("line-error").textContent = e.message; return; }
  fillLine();
  status("Line " + number + " saved.");
  loadLines().catch(() => {});
}

// ---- trunks ----

async function loadTrunks() {
  const trunks = await listAll("/v1/trunks");
  $("trunk-list").replaceChildren(...trunks.map((t) => {
    const open = el("button", {type: "button", "aria-label": "Open trunk " + t.id}, "Open");
    open.addEventListener("click", () => openTrunk(t.id));
    const out = t.outbound ? t.outbound.host + (t.outbound.register ? " (registers)" : "") : "calls in only";
    return el("tr", {"data-trunk-row": t.id}, el("th", {scope: "row"}, t.id), el("td", {}, t.name),
      el("td", {}, t.addresses.join(", ")), el("td", {}, out), el("td", {}, open));
  }));
}

async function openTrunk(id) {
  $("trunk-error").textContent = "";
  $("trunk-form").hidden = true;
  try {
    editTrunk = await api("GET", "/v1/trunks/" + enc(id));
  } catch (e) { $("trunk-form").hidden = false; $("trunk-error").textContent = e.message; return; }
  fillTrunk();
  $("trunk-form-h").focus();
}

function registrationText(t) {
  const r = t.registration;
  if (r) {
    return "Registration: " + r.state + (r.node ? " (node " + r.node + ")" : "") +
      (r.expires ? ", until " + r.expires : "") + (r.error ? ": " + r.error : "");
  }
  return t.outbound && t.outbound.register ? "Registration: no state known on this node yet." : "";
}

function fillTrunk() {
  const t = editTrunk || {id: "", name: "", addresses: []};
  const o = t.outbound || {host: "", port: 0, transport: "", domain: "", register: false, register_expires_s: 0,
    username: "", auth_username: "", password_set: false, caller_id: "", main_number: ""};
  $("trunk-form").hidden = false; $("trunk-error").textContent = "";
  $("t-title").textContent = editTrunk ? t.id : "(new)";
  $("t-id").value = t.id; $("t-id").readOnly = editTrunk !== null;
  $("t-name").value = t.name; $("t-addresses").value = t.addresses.join("\n");
  $("t-out").checked = !!t.outbound;
  $("t-host").value = o.host; $("t-port").value = o.port; $("t-transport").value = o.transport; $("t-domain").value = o.domain;
  $("t-register").checked = o.register; $("t-expires").value = o.register_expires_s;
  $("t-username").value = o.username; $("t-authuser").value = o.auth_username; $("t-password").value = "";
  $("t-password-state").textContent = o.password_set ? "Password: set" : "Password: not set";
  $("t-callerid").value = o.caller_id; $("t-main").value = o.main_number;
  $("t-registration").textContent = registrationText(t);
}

async function saveTrunk(ev) {
  ev.preventDefault();
  const id = $("t-id").value.trim();
  if (editTrunk === null) {
    try {
      await api("GET", "/v1/trunks/" + enc(id));
      $("trunk-error").textContent = "Trunk " + id + " exists already: open it to change it.";
      return;
    } catch (e) { if (e.status !== 404) { $("trunk-error").textContent = e.message; return; } }
  }
  const body = {name: $("t-name").value.trim(), addresses: $("t-addresses").value.split(/[\s,]+/).filter(Boolean)};
  if ($("t-out").checked) {
    body.outbound = {host: $("t-host").value.trim(), port: num("t-port"), transport: $("t-transport").value,
      domain: $("t-domain").value.trim(), register: $("t-register").checked, register_expires_s: num("t-expires"),
      username: $("t-username").value.trim(), auth_username: $("t-authuser").value.trim(),
      caller_id: $("t-callerid").value, main_number: $("t-main").value.trim()};
    if ($("t-password").value) body.outbound.password = $("t-password").value;
  }
  try {
    await api("PUT", "/v1/trunks/" + enc(id), body);
    editTrunk = await api("GET", "/v1/trunks/" + enc(id));
  } catch (e) { $("trunk-error").textContent = e.message; return; }
  fillTrunk();
  status("Trunk " + id + " saved.");
  loadTrunks().catch(() => {});
}

// ---- global settings and the dial plan ----

async function loadSettings() {
  globalRec = await api("GET", "/v1/global");
  fillGlobal();
  $("dialplan-error").textContent = "";
  try {
    $("dp-json").value = JSON.stringify(await api("GET", "/v1/dialplan"), null, 1);
  } catch (e) { $("dialplan-error").textContent = e.message; }
}

function fillGlobal() {
  const g = globalRec;
  const sel = $("gl-level");
  levelOptions(sel, false);
  // Rights set one by one (through the API) are kept unless a level is chosen.
  if (!g.level) sel.prepend(el("option", {value: ""}, "special (rights set one by one)"));
  sel.value = g.level || "";
  $("gl-journal").value = g.journal_retention_days; $("gl-chat").value = g.chat_retention_days;
  $("gl-class").value = g.default_call_class;
  for (const s of SERVICES) $("gl-svc-" + s).checked = g.services.includes(s);
  $("global-error").textContent = "";
}

async function saveGlobal(ev) {
  ev.preventDefault();
  const body = {services: SERVICES.filter((s) => $("gl-svc-" + s).checked), journal_retention_days: num("gl-journal"),
    chat_retention_days: num("gl-chat"), default_call_class: $("gl-class").value};
  if ($("gl-level").value) body.level = $("gl-level").value; else body.rights = globalRec.rights;
  try {
    globalRec = await api("PUT", "/v1/global", body);
  } catch (e) { $("global-error").textContent = e.message; return; }
  fillGlobal();
  status("Global settings saved.");
}

async function saveDialPlan(ev) {
  ev.preventDefault();
  let plan;
  try { plan = JSON.parse($("dp-json").value); } catch (e) { $("dialplan-error").textContent = "dial plan: not JSON: " + e.message; return; }
  try {
    $("dp-json").value = JSON.stringify(await api("PUT", "/v1/dialplan", plan), null, 1);
  } catch (e) { $("dialplan-error").textContent = e.message; return; }
  $("dialplan-error").textContent = "";
  status("Dial plan saved.");
}

// ---- directory sync ----

function syncTime(v) {
  if (typeof v === "number") return v > 0 ? new Date(v * 1000).toISOString() : "";
  return v || "";
}

function problemText(p) {
  if (typeof p === "string") return p;
  const t = [p.dn, p.message || p.problem || p.error].filter(Boolean).join(": ");
  return t || JSON.stringify(p);
}

// loadSync shows GET /v1/ldap/status; a 404 is a node without it.
async function loadSync() {
  let st;
  try {
    st = await api("GET", "/v1/ldap/status");
  } catch (e) {
    if (e.status !== 404) { $("sync-state").textContent = e.message; return; }
    st = {configured: false};
  }
  if (!st.configured) {
    $("sync-state").textContent = "Directory sync is not configured.";
    $("sync-status").replaceChildren(); $("sync-problems").replaceChildren();
    return;
  }
  const s = st.status || {};
  $("sync-state").textContent = s.error ? "The last sync failed: " + s.error :
    s.finished_at ? "The last sync finished" + (s.dry_run ? " (a dry run: nothing was changed)." : ".") : "No sync has finished yet.";
  const rows = [["Source", s.source], ["Node", s.node], ["Started", syncTime(s.started_at)], ["Finished", syncTime(s.finished_at)],
    ["Dry run", s.dry_run ? "yes" : "no"], ["Interval", s.interval_s ? s.interval_s + " s" : "one-shot"],
    ["Created", s.created], ["Updated", s.updated], ["Disabled", s.disabled], ["Unchanged", s.unchanged]];
  $("sync-status").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {"data-field": k.toLowerCase().replace(" ", "_")}, String(v ?? ""))]));
  const problems = s.problems || [];
  $("sync-problems").replaceChildren(...(problems.length ? problems.map((p) => el("li", {}, problemText(p))) : [el("li", {}, "None.")]));
}

function initAdmin() {
  contactInputs($("p-contact"), "p-c-");
  contactInputs($("u-contact"), "u-c-");
  serviceBoxes($("u-services"), "u-svc-");
  serviceBoxes($("gl-services"), "gl-svc-");
  $("profile-form").addEventListener("submit", saveProfile);
  $("user-search").addEventListener("submit", (ev) => { ev.preventDefault(); loadUsers().catch((e) => status(e.message)); });
  $("user-open").addEventListener("submit", (ev) => { ev.preventDefault(); openUser($("user-open-id").value.trim()); });
  $("user-new").addEventListener("submit", createUser);
  $("user-form").addEventListener("submit", saveUser);
  $("line-open").addEventListener("submit", openLine);
  $("line-new").addEventListener("click", newLine);
  $("line-form").addEventListener("submit", saveLine);
  $("trunk-new").addEventListener("click", () => { editTrunk = null; fillTrunk(); $("t-id").focus(); });
  $("trunk-form").addEventListener("submit", saveTrunk);
  $("global-form").addEventListener("submit", saveGlobal);
  $("dialplan-form").addEventListener("submit", saveDialPlan);
  $("sync-refresh").addEventListener("click", () => loadSync().catch((e) => status(e.message)));
}
