// The sandbox page: the conversations the emulator holds, live over server-sent
// events (/api/events), the customer's taps and texts posted back
// (/api/chats/{wa_id}/messages), and each chat's "in Odoo" panel
// (/api/chats/{wa_id}/odoo), read when something happens in that chat.
"use strict";

const TEXTS = {
  fr: {
    sandbox: "BAC À SABLE",
    banner_short: "Rien n'atteint un vrai téléphone.",
    banner_long: "Les messages vont à l'émulateur de l'API WhatsApp Cloud intégré ; vos réponses reviennent au sidecar en webhooks signés, comme Meta les envoie.",
    live: "en direct", connecting: "connexion…", offline: "reconnexion…",
    conversations: "Conversations",
    no_chats: "Aucune conversation pour l'instant. Créez un devis dans Odoo (ou lancez make demo) : son message apparaît ici en moins d'une seconde.",
    pick_chat: "Choisissez une conversation à gauche.",
    phone_of: "Téléphone de", business_account: "Compte professionnel · bac à sable",
    type_message: "Répondre comme le client (ou STOP)",
    send: "Envoyer", back: "Retour", in_odoo: "Dans Odoo", refresh: "Actualiser",
    read_at: "lu dans la base à", no_records: "Aucune commande ni facture dans cette conversation.",
    missing: "n'existe plus", customer: "Client", total: "Total", residual: "Reste à payer",
    template: "Modèle", tapped: "a touché", file_gone: "fichier introuvable", link: "lien",
    today: "Aujourd'hui", yesterday: "Hier", you: "Vous",
    not_sent: "Pas envoyé :", panel_error: "Odoo ne répond pas :",
    status: { accepted: "accepté par l'API", sent: "envoyé", delivered: "distribué", read: "lu", failed: "échec" },
    models: { "sale.order": "Commande", "account.move": "Facture", "res.partner": "Contact" },
    states: {
      "sale.order": { draft: "Devis", sent: "Devis envoyé", sale: "Bon de commande", done: "Verrouillé", cancel: "Annulé" },
      "account.move": { draft: "Brouillon", posted: "Comptabilisée", cancel: "Annulée" },
    },
    payment: { not_paid: "Non payée", partial: "Partiellement payée", paid: "Payée", in_payment: "En paiement", reversed: "Extournée" },
    media: { document: "Document", image: "Photo", video: "Vidéo", audio: "Audio", sticker: "Autocollant" },
  },
  en: {
    sandbox: "SANDBOX",
    banner_short: "Nothing reaches a real phone.",
    banner_long: "Messages go to the built-in WhatsApp Cloud API emulator; your answers come back to the sidecar as signed webhooks, as Meta sends them.",
    live: "live", connecting: "connecting…", offline: "reconnecting…",
    conversations: "Conversations",
    no_chats: "No conversation yet. Create a quotation in Odoo (or run make demo): its message shows here within a second.",
    pick_chat: "Pick a conversation on the left.",
    phone_of: "Phone of", business_account: "Business account · sandbox",
    type_message: "Reply as the customer (or STOP)",
    send: "Send", back: "Back", in_odoo: "In Odoo", refresh: "Refresh",
    read_at: "read from the database at", no_records: "No order or invoice in this conversation.",
    missing: "no longer exists", customer: "Customer", total: "Total", residual: "Amount due",
    template: "Template", tapped: "tapped", file_gone: "file not found", link: "link",
    today: "Today", yesterday: "Yesterday", you: "You",
    not_sent: "Not sent:", panel_error: "Odoo does not answer:",
    status: { accepted: "accepted by the API", sent: "sent", delivered: "delivered", read: "read", failed: "failed" },
    models: { "sale.order": "Order", "account.move": "Invoice", "res.partner": "Contact" },
    states: {
      "sale.order": { draft: "Quotation", sent: "Quotation sent", sale: "Sales order", done: "Locked", cancel: "Cancelled" },
      "account.move": { draft: "Draft", posted: "Posted", cancel: "Cancelled" },
    },
    payment: { not_paid: "Not paid", partial: "Partially paid", paid: "Paid", in_payment: "In payment", reversed: "Reversed" },
    media: { document: "Document", image: "Photo", video: "Video", audio: "Audio", sticker: "Sticker" },
  },
};

const STATUS_RANK = { accepted: 0, sent: 1, delivered: 2, read: 3, failed: 4, received: 0 };
const narrow = window.matchMedia("(max-width: 760px)");
const langOverride = new URLSearchParams(location.search).get("lang");

const state = {
  lang: "fr",
  business: "",
  chats: new Map(), // wa_id -> {waId, name, messages: Map(id -> message), unread}
  selected: null,
  loaded: false, // the first snapshot has arrived
  pinned: false, // the person picked a chat: stop following the latest one
  panel: { inflight: false, again: false, data: null },
};

let T = TEXTS.fr;

// --- small DOM helpers (text only: message contents never become HTML) ---
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "style") e.style.cssText = v; // through the CSSOM: the page's CSP allows no style attribute
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(viewBox, w, h, paths) {
  const s = document.createElementNS(SVG_NS, "svg");
  s.setAttribute("viewBox", viewBox); s.setAttribute("width", w); s.setAttribute("height", h);
  s.setAttribute("aria-hidden", "true");
  for (const d of paths) {
    const p = document.createElementNS(SVG_NS, "path");
    p.setAttribute("d", d); p.setAttribute("fill", "currentColor");
    s.append(p);
  }
  return s;
}
const CHECK = "M10.9 1.1 4.6 7.5 2 4.9.8 6.1l3.8 3.8 7.5-7.6z";
const CHECK2 = "M15.2 1.1 8.9 7.5l-.7-.7-1.2 1.2 1.9 1.9 7.5-7.6z";
const CLOCK = "M8 1a7 7 0 1 0 0 14A7 7 0 0 0 8 1zm0 1.5a5.5 5.5 0 1 1 0 11 5.5 5.5 0 0 1 0-11zM7.3 4v4.6l3.4 2 .7-1.2-2.6-1.5V4z";
const ALERT = "M8 1a7 7 0 1 0 0 14A7 7 0 0 0 8 1zm-.8 3h1.6v5H7.2zm0 6.2h1.6v1.6H7.2z";
const REPLY = "M6 4 1 8.5 6 13V10c4 0 6.5 1 8.5 4-.8-4.2-3.2-7.6-8.5-8.3z";

function ticks(m) {
  const title = T.status[m.status] || m.status;
  switch (m.status) {
    case "sent": return el("span", { class: "ticks", title, "data-status": "sent" }, svg("0 0 17 11", 17, 11, [CHECK]));
    case "delivered": return el("span", { class: "ticks", title, "data-status": "delivered" }, svg("0 0 17 11", 17, 11, [CHECK, CHECK2]));
    case "read": return el("span", { class: "ticks read", title, "data-status": "read" }, svg("0 0 17 11", 17, 11, [CHECK, CHECK2]));
    case "failed": return el("span", { class: "ticks failed", title, "data-status": "failed" }, svg("0 0 16 16", 14, 14, [ALERT]));
    default: return el("span", { class: "ticks", title, "data-status": m.status }, svg("0 0 16 16", 13, 13, [CLOCK]));
  }
}

// WhatsApp's *bold*, _italic_, ~strike~ and links, built as nodes.
function richText(text) {
  const out = [];
  const re = /(https?:\/\/[^\s<>"]+)|\*([^*\n]+)\*|_([^_\n]+)_|~([^~\n]+)~/g;
  let last = 0, m;
  while ((m = re.exec(text)) !== null) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1]) out.push(el("a", { href: m[1], target: "_blank", rel: "noopener noreferrer" }, m[1]));
    else if (m[2]) out.push(el("strong", {}, m[2]));
    else if (m[3]) out.push(el("em", {}, m[3]));
    else out.push(el("s", {}, m[4]));
    last = re.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function formatPhone(waId) {
  if (/^221\d{9}$/.test(waId)) return `+221 ${waId.slice(3, 5)} ${waId.slice(5, 8)} ${waId.slice(8, 10)} ${waId.slice(10)}`;
  return "+" + waId;
}
function initials(name) {
  const parts = (name || "").trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return "#";
  return (parts[0][0] + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}
const AVATAR_COLORS = ["#c0508e", "#2a7fba", "#d9822b", "#3d9970", "#8e5bc9", "#c94f4f", "#1f9c9c", "#7a8b2b", "#b5651d", "#5566c8"];
function avatarColor(s) {
  let h = 2166136261; // FNV-1a: neighbouring numbers get different colours
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return AVATAR_COLORS[h % AVATAR_COLORS.length];
}
function locale() { return state.lang === "en" ? "en-GB" : "fr-FR"; }
function hhmm(d) { return d.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" }); }
function dayLabel(d) {
  const today = new Date(); today.setHours(0, 0, 0, 0);
  const day = new Date(d); day.setHours(0, 0, 0, 0);
  const diff = Math.round((today - day) / 86400000);
  if (diff === 0) return T.today;
  if (diff === 1) return T.yesterday;
  return d.toLocaleDateString(locale(), { day: "numeric", month: "long", year: "numeric" });
}
function size(n) {
  if (!n) return "";
  if (n < 1024) return `${n} o`.replace("o", state.lang === "en" ? "B" : "o");
  const k = n / 1024;
  const unit = state.lang === "en" ? ["KB", "MB"] : ["Ko", "Mo"];
  return k < 1024 ? `${Math.max(1, Math.round(k))} ${unit[0]}` : `${(k / 1024).toFixed(1)} ${unit[1]}`;
}

// --- state ---
function chatOf(waId) {
  let c = state.chats.get(waId);
  if (!c) {
    c = { waId, name: "", messages: new Map(), unread: 0 };
    state.chats.set(waId, c);
  }
  return c;
}
function sortedMessages(c) {
  return [...c.messages.values()].sort((a, b) => a._t - b._t || a._n - b._n);
}
let arrival = 0;
// upsert applies a message's whole state; a stale copy never moves ticks back.
function upsert(m) {
  const c = chatOf(m.wa_id);
  const old = c.messages.get(m.id);
  m._t = new Date(m.time).getTime();
  m._n = old ? old._n : arrival++;
  if (old && (STATUS_RANK[old.status] ?? 0) > (STATUS_RANK[m.status] ?? 0)) {
    m.status = old.status; m.error_code = old.error_code; m.error_text = old.error_text;
  }
  if (old && !m.record && old.record) m.record = old.record;
  c.messages.set(m.id, m);
  if (m.direction === "out" && m.contact) c.name = m.contact;
  if (m.business) state.business = m.business;
  return { chat: c, isNew: !old };
}
function lastMessage(c) {
  const ms = sortedMessages(c);
  return ms[ms.length - 1];
}

// --- rendering ---
function applyTexts() {
  document.documentElement.lang = state.lang;
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = T[e.dataset.t] ?? e.textContent;
  for (const e of document.querySelectorAll("[data-t-label]")) { e.setAttribute("aria-label", T[e.dataset.tLabel]); e.title = T[e.dataset.tLabel]; }
  for (const e of document.querySelectorAll("[data-t-placeholder]")) e.placeholder = T[e.dataset.tPlaceholder];
  setLive(document.getElementById("live").dataset.state);
}

function setLive(s) {
  const live = document.getElementById("live");
  live.dataset.state = s;
  live.querySelector(".live-text").textContent = T[s];
}

function previewText(m) {
  if (!m) return "";
  let t = m.text || m.header || "";
  if (m.media) t = (m.media.filename || T.media[m.media.kind] || m.media.kind) + (t ? " · " + t : "");
  if (!t && m.template) t = m.template.name;
  if (!t) t = "[" + m.type + "]";
  t = t.split("\n")[0];
  return m.direction === "in" ? T.you + (state.lang === "fr" ? " : " : ": ") + t : t;
}

function renderChatList() {
  const list = document.getElementById("chat-list");
  const chats = [...state.chats.values()].filter(c => c.messages.size)
    .sort((a, b) => (lastMessage(b)?._t ?? 0) - (lastMessage(a)?._t ?? 0));
  list.replaceChildren(...chats.map(c => {
    const last = lastMessage(c);
    const name = c.name || formatPhone(c.waId);
    return el("li", {},
      el("button", {
        type: "button", class: "chat-item", "data-chat": c.waId, "aria-current": c.waId === state.selected ? "true" : "false",
        onclick: () => { state.pinned = true; select(c.waId); },
      },
        el("span", { class: "avatar", style: `background:${avatarColor(c.waId)}` }, initials(c.name)),
        el("span", { class: "who" },
          el("div", { class: "name" }, name),
          el("div", { class: "preview" }, previewText(last))),
        el("span", { class: "side" },
          el("span", {}, last ? hhmm(new Date(last.time)) : ""),
          c.unread ? el("span", { class: "unread" }, String(c.unread)) : null)));
  }));
  document.getElementById("no-chats").hidden = chats.length > 0 || !state.loaded;
  document.querySelector("#placeholder p").textContent = chats.length ? T.pick_chat : "";
}

function renderHeader() {
  const c = state.chats.get(state.selected);
  const biz = businessName();
  document.getElementById("biz-name").textContent = biz;
  document.getElementById("biz-avatar").textContent = initials(biz);
  const owner = document.getElementById("phone-owner");
  owner.replaceChildren();
  if (c) owner.append(T.phone_of + " ", el("strong", {}, c.name || formatPhone(c.waId)), " · " + formatPhone(c.waId));
}

function businessName() {
  const c = state.chats.get(state.selected);
  if (c) {
    const ms = sortedMessages(c);
    for (let i = ms.length - 1; i >= 0; i--) if (ms[i].business) return ms[i].business;
  }
  return state.business || "WhatsApp Business";
}

function renderMessages() {
  const box = document.getElementById("messages");
  const c = state.chats.get(state.selected);
  box.replaceChildren();
  if (!c) return;
  let day = "";
  for (const m of sortedMessages(c)) {
    const d = dayLabel(new Date(m.time));
    if (d !== day) { box.append(el("div", { class: "day" }, d)); day = d; }
    box.append(messageRow(m, c));
  }
  box.scrollTop = box.scrollHeight;
}

// updateMessage redraws one message in place, or appends it.
function updateMessage(m, isNew) {
  const box = document.getElementById("messages");
  const c = state.chats.get(m.wa_id);
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
  const old = box.querySelector(`[data-id="${CSS.escape(m.id)}"]`);
  if (old) { patchRow(old, messageRow(m, c)); return; }
  const ms = sortedMessages(c);
  if (!isNew || ms[ms.length - 1].id !== m.id) { renderMessages(); return; }
  const rows = box.querySelectorAll(".row");
  const prev = rows.length ? c.messages.get(rows[rows.length - 1].dataset.id) : null;
  const d = dayLabel(new Date(m.time));
  if (!prev || dayLabel(new Date(prev.time)) !== d) box.append(el("div", { class: "day" }, d));
  box.append(messageRow(m, c));
  if (nearBottom || m.direction === "in") box.scrollTop = box.scrollHeight;
}

// patchRow keeps a row's nodes when only its delivery status moved, so a tap on one
// of its buttons is not lost to a tick arriving under the finger.
function patchRow(row, fresh) {
  if (row.dataset.content !== fresh.dataset.content) { row.replaceWith(fresh); return; }
  row.dataset.status = fresh.dataset.status;
  row.querySelector(".meta").replaceWith(fresh.querySelector(".meta"));
  row.querySelector(".msg > .error")?.remove();
  const error = fresh.querySelector(".msg > .error");
  if (error) row.querySelector(".msg").append(error);
}

// contentKey is what a row shows apart from its delivery status.
function contentKey(m, c) {
  const { status, error_code, error_text, _t, _n, ...shown } = m;
  return JSON.stringify([shown, !!(m.context_id && c.messages.has(m.context_id))]);
}

function messageRow(m, c) {
  const out = m.direction === "out";
  const bubble = el("div", { class: "bubble" });
  if (out) bubble.append(el("div", { class: "sender" }, m.business || businessName()));
  if (m.context_id) {
    const q = c.messages.get(m.context_id);
    if (q) bubble.append(el("div", { class: "quote" },
      el("b", {}, q.direction === "out" ? (q.business || businessName()) : T.you),
      (q.header ? q.header + " " : "") + (q.text || (q.media && q.media.filename) || "")));
  }
  if (m.template) bubble.append(el("div", { class: "tpl" }, T.template + " ", el("code", {}, m.template.name), ` (${m.template.language})`));
  if (m.reply) bubble.append(el("div", { class: "tapped" }, svg("0 0 16 16", 11, 11, [REPLY]), " " + T.tapped));
  if (m.media) bubble.append(mediaBlock(m.media));
  if (m.header) bubble.append(el("div", { class: "header" }, m.header));
  if (m.text) bubble.append(el("div", { class: "text" }, richText(m.text)));
  if (m.footer) bubble.append(el("div", { class: "footer" }, m.footer));
  bubble.append(el("div", { class: "meta" }, el("span", { class: "time" }, hhmm(new Date(m.time))), out ? ticks(m) : null));

  const hasButtons = m.buttons && m.buttons.length;
  const msg = el("div", { class: "msg" + (hasButtons ? " has-buttons" : "") }, bubble);
  if (hasButtons) {
    const box = el("div", { class: "buttons" });
    if (m.list_label) box.append(el("div", { class: "list-label" }, m.list_label));
    for (const b of m.buttons) box.append(buttonEl(m, b));
    msg.append(box);
  }
  if (m.status === "failed") msg.append(el("div", { class: "error" }, `${T.status.failed} ${m.error_code || ""} · ${m.error_text || ""}`));
  return el("div", { class: "row " + (out ? "out" : "in"), "data-id": m.id, "data-status": m.status, "data-content": contentKey(m, c) }, msg);
}

function mediaBlock(media) {
  const label = T.media[media.kind] || media.kind;
  if (!media.url) {
    if (media.link) return el("a", { class: "doc", href: media.link, target: "_blank", rel: "noopener noreferrer" },
      el("span", { class: "doc-icon other" }, media.kind.slice(0, 3).toUpperCase()),
      el("span", { class: "doc-info" }, el("span", { class: "doc-name" }, media.filename || media.link), el("span", { class: "doc-meta" }, `${label} · ${T.link}`)));
    return el("div", { class: "doc gone" }, el("span", { class: "doc-icon other" }, "?"),
      el("span", { class: "doc-info" }, el("span", { class: "doc-name" }, media.filename || label), el("span", { class: "doc-meta" }, T.file_gone)));
  }
  switch (media.kind) {
    case "image":
    case "sticker":
      return el("a", { class: "image", href: media.url, target: "_blank", rel: "noopener" }, el("img", { src: media.url, alt: label }));
    case "video":
      return el("video", { src: media.url, controls: true, preload: "metadata" });
    case "audio":
      return el("audio", { src: media.url, controls: true, preload: "metadata" });
    default: {
      const ext = (media.filename || "").split(".").pop().toUpperCase();
      const isPDF = media.mime_type === "application/pdf";
      return el("a", { class: "doc", href: media.url, target: "_blank", rel: "noopener", "data-media": "document" },
        el("span", { class: "doc-icon" + (isPDF ? "" : " other") }, isPDF ? "PDF" : (ext || "DOC").slice(0, 4)),
        el("span", { class: "doc-info" },
          el("span", { class: "doc-name" }, media.filename || label),
          el("span", { class: "doc-meta" }, [isPDF ? "PDF" : media.mime_type, size(media.size)].filter(Boolean).join(" · "))));
    }
  }
}

function buttonEl(m, b) {
  if (b.kind === "url") {
    return el("a", { class: "wa-btn", href: b.url || "#", target: "_blank", rel: "noopener noreferrer" }, b.title);
  }
  const attrs = { type: "button", class: "wa-btn" + (b.kind === "row" ? " row-btn" : ""), "data-button-id": b.id || b.payload, "data-kind": b.kind };
  const children = b.kind === "row"
    ? [el("span", {}, b.title), b.description ? el("span", { class: "desc" }, b.description) : null]
    : [svg("0 0 16 16", 14, 14, [REPLY]), el("span", {}, b.title)];
  const btn = el("button", attrs, ...children);
  btn.addEventListener("click", () => {
    const body = b.kind === "quick_reply"
      ? { type: "button", title: b.title, payload: b.payload, context_id: m.id }
      : { type: b.kind === "row" ? "list_reply" : "button_reply", id: b.id, title: b.title, context_id: m.id };
    btn.disabled = true;
    sendAsCustomer(m.wa_id, body).finally(() => { btn.disabled = false; });
  });
  return btn;
}

// --- the Odoo panel ---
function panelBodies() { return document.querySelectorAll(".odoo-body"); }

function refreshPanel() {
  const waId = state.selected;
  if (!waId) return;
  if (state.panel.inflight) { state.panel.again = true; return; }
  state.panel.inflight = true;
  fetch(`/api/chats/${encodeURIComponent(waId)}/odoo`, { headers: { Accept: "application/json" } })
    .then(r => r.json().then(d => ({ ok: r.ok, d })))
    .then(({ ok, d }) => { if (state.selected === waId) renderPanel(ok ? d : null, ok ? null : d.error); })
    .catch(err => { if (state.selected === waId) renderPanel(null, String(err)); })
    .finally(() => {
      state.panel.inflight = false;
      if (state.panel.again) { state.panel.again = false; refreshPanel(); }
    });
}

function flagValue(f) {
  if (f.value === true) return "✓";
  if (f.value === false || f.value === null) return "—";
  return String(f.value);
}
function dbTime(v) {
  // Odoo stores UTC without a zone.
  const d = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(v) ? v : v + "Z");
  return isNaN(d) ? String(v) : d.toLocaleString(locale(), { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" });
}
function flagList(flags) {
  return el("ul", { class: "flags" }, (flags || []).map(f =>
    el("li", { class: f.value === true || (typeof f.value === "number" && f.value > 0) ? "on" : "off", "data-flag": f.name },
      el("code", { title: f.name }, f.name),
      el("span", { class: "v" }, flagValue(f), f.date ? el("span", { class: "when" }, dbTime(f.date)) : null))));
}

function renderPanel(d, error) {
  let summary = "";
  for (const body of panelBodies()) {
    const built = panelNodes(d, error);
    summary = built.summary;
    body.replaceChildren(...built.nodes);
  }
  document.getElementById("odoo-summary").textContent = summary ? "· " + summary : "";
}

function panelNodes(d, error) {
  const nodes = [];
  nodes.push(el("div", { class: "odoo-toolbar" },
    el("span", {}, d ? `${T.read_at} ${new Date().toLocaleTimeString(locale())}` : ""),
    el("button", { type: "button", class: "refresh", onclick: refreshPanel }, "↻ " + T.refresh)));
  if (error) nodes.push(el("p", { class: "odoo-note" }, `${T.panel_error} ${error}`));
  let summary = "";
  if (d) {
    if (d.partner) {
      nodes.push(el("div", { class: "card partner", "data-model": "res.partner", "data-id": d.partner.id },
        el("div", { class: "card-head" }, el("span", { class: "card-title" }, d.partner.name),
          el("span", { class: "card-sub" }, `res.partner #${d.partner.id}`)),
        d.partner.phone ? el("div", { class: "card-sub" }, d.partner.phone) : null,
        flagList(d.partner.flags)));
    }
    for (const r of d.records) {
      const model = T.models[r.model] || r.model;
      if (r.missing) {
        nodes.push(el("div", { class: "card record", "data-model": r.model, "data-id": r.id },
          el("div", { class: "card-head" }, el("span", { class: "card-title" }, `${model} #${r.id}`)), el("p", { class: "odoo-note" }, T.missing)));
        continue;
      }
      const stateLabel = (T.states[r.model] || {})[r.state] || r.state;
      if (!summary && r.state) {
        summary = `${r.name || model + " #" + r.id} · ${stateLabel}`;
        if (r.payment_state) summary += " · " + (T.payment[r.payment_state] || r.payment_state);
      }
      nodes.push(el("div", { class: "card record", "data-model": r.model, "data-id": r.id, "data-state": r.state },
        el("div", { class: "card-head" }, el("span", { class: "card-title" }, r.name || `${model} #${r.id}`),
          el("span", { class: "card-sub" }, `${r.model} #${r.id}`)),
        el("div", {},
          el("span", { class: `state state-${r.state}`, "data-field": "state" }, stateLabel, " ", el("code", {}, r.state)),
          r.payment_state ? el("span", { class: `state pay-${r.payment_state}` }, " ", (T.payment[r.payment_state] || r.payment_state), " ", el("code", {}, r.payment_state)) : null),
        r.total ? el("div", { class: "amounts" }, el("span", {}, T.total + " "), r.total) : null,
        r.residual ? el("div", { class: "amounts" }, el("span", {}, T.residual + " "), r.residual) : null,
        flagList(r.flags)));
    }
    if (!d.records.length) nodes.push(el("p", { class: "odoo-note" }, T.no_records));
  }
  return { nodes, summary };
}

// --- actions ---
function sendAsCustomer(waId, body) {
  return fetch(`/api/chats/${encodeURIComponent(waId)}/messages`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  }).then(r => r.json().then(d => { if (!r.ok) throw new Error(d.error || r.statusText); return d; }))
    .then(() => { showSendError(""); return true; })
    .catch(err => { showSendError(`${T.not_sent} ${err.message}`); return false; });
}

function showSendError(text) {
  let e = document.getElementById("send-error");
  if (!text) { if (e) e.remove(); return; }
  if (!e) {
    e = el("div", { id: "send-error", class: "send-error", role: "alert" });
    document.getElementById("composer").before(e);
  }
  e.textContent = text;
}

function select(waId) {
  state.selected = waId;
  const c = state.chats.get(waId);
  if (c) c.unread = 0;
  document.body.classList.add("show-chat");
  document.getElementById("chat").hidden = !c;
  document.getElementById("placeholder").hidden = !!c;
  showSendError("");
  renderHeader();
  renderMessages();
  renderChatList();
  renderPanel(null);
  refreshPanel();
}

function showList() {
  document.body.classList.remove("show-chat");
}

// --- the live feed ---
function applySnapshot(snap) {
  state.loaded = true;
  state.lang = langOverride || snap.lang || "fr";
  T = TEXTS[state.lang] || TEXTS.fr;
  state.business = snap.business || "";
  state.chats = new Map();
  for (const c of snap.chats) {
    const chat = chatOf(c.wa_id);
    for (const m of c.messages) upsert(m);
    if (c.name) chat.name = c.name;
  }
  applyTexts();
  const sel = state.chats.has(state.selected) ? state.selected : null;
  if (sel) { select(sel); return; }
  state.selected = null;
  renderChatList();
  const first = [...state.chats.values()].sort((a, b) => (lastMessage(b)?._t ?? 0) - (lastMessage(a)?._t ?? 0))[0];
  if (first && !narrow.matches) select(first.waId);
  else { document.getElementById("chat").hidden = true; document.getElementById("placeholder").hidden = false; }
}

function applyMessage(m) {
  const { chat, isNew } = upsert(m);
  // Until the person picks a chat, a wide page follows the latest conversation.
  if (isNew && chat.waId !== state.selected && !narrow.matches && (!state.selected || !state.pinned)) {
    select(chat.waId);
    return;
  }
  if (isNew && chat.waId !== state.selected) chat.unread++;
  renderChatList();
  if (chat.waId === state.selected) {
    renderHeader();
    updateMessage(chat.messages.get(m.id), isNew);
    refreshPanel(); // a message or status about this chat: what Odoo says may have changed
  }
}

function connect() {
  const es = new EventSource("/api/events");
  es.addEventListener("open", () => setLive("live"));
  es.addEventListener("error", () => setLive("offline"));
  es.addEventListener("snapshot", e => { setLive("live"); applySnapshot(JSON.parse(e.data)); });
  es.addEventListener("message", e => applyMessage(JSON.parse(e.data).message));
  es.addEventListener("reset", () => applySnapshot({ lang: state.lang, business: state.business, chats: [] }));
}

document.addEventListener("DOMContentLoaded", () => {
  if (langOverride && TEXTS[langOverride]) { state.lang = langOverride; T = TEXTS[langOverride]; }
  applyTexts();
  document.getElementById("back").addEventListener("click", showList);
  document.getElementById("odoo-inline").addEventListener("toggle", e => { if (e.target.open) refreshPanel(); });
  document.getElementById("composer").addEventListener("submit", e => {
    e.preventDefault();
    const input = document.getElementById("text");
    const text = input.value.trim();
    if (!text || !state.selected) return;
    const send = document.getElementById("send");
    send.disabled = true;
    sendAsCustomer(state.selected, { type: "text", text }).then(ok => { if (ok) input.value = ""; }).finally(() => { send.disabled = false; input.focus(); });
  });
  connect();
});
