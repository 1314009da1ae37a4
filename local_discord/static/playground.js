// The playground page: polls /_play/state and renders the guild as a member sees it; every
// action (command, button, select, modal) is posted to /_play/* and becomes an interaction.
"use strict";

const $ = (id) => document.getElementById(id);
let world = null;
let state = null;
let actingAs = null;
let channel = null; // a channel id, or "dm"
let shownModal = null; // the interaction id whose modal is open
let lastRendered = "";

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function memberName(id) {
  if (world && id === world.bot.id) return world.bot.name;
  const member = world && world.members.find((m) => m.id === id);
  return member ? member.name : `user ${id.slice(-4)}`;
}

function channelName(id) {
  const found = world && world.channels.find((c) => c.id === id);
  return found ? found.name : "unknown-channel";
}

// Discord's markdown, the parts the bot uses: headings, bold, italics, code, mentions, timestamps.
function markdown(text) {
  let html = escape(text);
  html = html.replace(/&lt;t:(\d+)(?::([tTdDfFR]))?&gt;/g, (_, unix, style) => {
    const when = new Date(Number(unix) * 1000);
    const shown = style === "R" ? relative(when) : style === "t" ? when.toLocaleTimeString() : when.toLocaleString();
    return `<span class="ts" title="${escape(when.toString())}">${escape(shown)}</span>`;
  });
  html = html.replace(/&lt;@!?(\d+)&gt;/g, (_, id) => `<span class="mention">@${escape(memberName(id))}</span>`);
  html = html.replace(/&lt;@&amp;(\d+)&gt;/g, (_, id) => {
    const role = world && world.roles.find((r) => r.id === id);
    return `<span class="mention">@${escape(role ? role.name : "role")}</span>`;
  });
  html = html.replace(/&lt;#(\d+)&gt;/g, (_, id) => `<span class="mention">#${escape(channelName(id))}</span>`);
  html = html.replace(/^-# (.*)$/gm, "<small>$1</small>");
  html = html.replace(/^### (.*)$/gm, "<h3>$1</h3>").replace(/^## (.*)$/gm, "<h2>$1</h2>").replace(/^# (.*)$/gm, "<h2>$1</h2>");
  html = html.replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>").replace(/\*(.+?)\*/g, "<em>$1</em>");
  html = html.replace(/`([^`]+)`/g, "<code>$1</code>");
  return html;
}

function relative(when) {
  const seconds = Math.round((when.getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 1) return "now";
  const [n, unit] = abs < 60 ? [abs, "second"] : abs < 3600 ? [Math.round(abs / 60), "minute"] : abs < 86400 ? [Math.round(abs / 3600), "hour"] : [Math.round(abs / 86400), "day"];
  const phrase = `${n} ${unit}${n === 1 ? "" : "s"}`;
  return seconds >= 0 ? `in ${phrase}` : `${phrase} ago`;
}

async function api(path, body) {
  const response = await fetch(path, body ? { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ as: actingAs, ...body }) } : {});
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function toast(text) {
  $("command-error").textContent = text;
}

// ----- components ------------------------------------------------------------------------------

function renderComponents(components, message) {
  const wrap = document.createElement("div");
  for (const c of components || []) wrap.appendChild(renderComponent(c, message));
  return wrap;
}

function renderComponent(c, message) {
  const el = document.createElement("div");
  switch (c.type) {
    case 1: // action row
      el.className = "row";
      for (const child of c.components || []) el.appendChild(renderComponent(child, message));
      return el;
    case 2: return button(c, message);
    case 3: case 5: case 6: case 7: case 8: return select(c, message);
    case 9: { // section
      el.className = "section";
      const texts = document.createElement("div");
      for (const child of c.components || []) texts.appendChild(renderComponent(child, message));
      el.appendChild(texts);
      if (c.accessory) el.appendChild(renderComponent(c.accessory, message));
      return el;
    }
    case 10: el.className = "text-display"; el.innerHTML = markdown(c.content || ""); return el;
    case 11: case 12: { // thumbnail, media gallery: the images themselves, as Discord shows them
      el.className = "media";
      for (const item of c.type === 11 ? [c] : c.items || []) {
        const img = document.createElement("img");
        img.src = item.media && item.media.url; img.alt = item.description || "image";
        el.appendChild(img);
      }
      return el;
    }
    case 14: { const hr = document.createElement("hr"); hr.className = "separator"; return hr; }
    case 17: // container
      el.className = "container";
      if (c.accent_color != null) el.style.borderLeftColor = `#${Number(c.accent_color).toString(16).padStart(6, "0")}`;
      for (const child of c.components || []) el.appendChild(renderComponent(child, message));
      return el;
    default: el.textContent = `[component type ${c.type}]`; return el;
  }
}

function button(c, message) {
  if (c.style === 5 && c.url) {
    const a = document.createElement("a");
    a.href = c.url; a.textContent = c.label || c.url; a.target = "_blank"; a.rel = "noopener";
    return a;
  }
  const b = document.createElement("button");
  b.className = `c style-${c.style || 2}`;
  b.type = "button";
  b.textContent = `${c.emoji && c.emoji.name ? c.emoji.name + " " : ""}${c.label || ""}`.trim() || "·";
  b.disabled = !!c.disabled;
  b.dataset.customId = c.custom_id;
  b.addEventListener("click", () => act("/_play/click", { message_id: message.id, custom_id: c.custom_id }));
  return b;
}

function select(c, message) {
  const wrap = document.createElement("div");
  wrap.className = "select";
  const s = document.createElement("select");
  s.setAttribute("aria-label", c.placeholder || "Select");
  s.multiple = (c.max_values || 1) > 1;
  const placeholder = document.createElement("option");
  placeholder.textContent = c.placeholder || "Choose…"; placeholder.value = ""; placeholder.disabled = true; placeholder.selected = true;
  s.appendChild(placeholder);
  const choices = c.type === 3 ? (c.options || []).map((o) => [o.value, o.label])
    : c.type === 5 ? world.members.map((m) => [m.id, m.name]).concat([[world.bot.id, world.bot.name]])
    : c.type === 6 ? world.roles.map((r) => [r.id, r.name])
    : c.type === 8 ? world.channels.map((ch) => [ch.id, `#${ch.name}`])
    : world.members.map((m) => [m.id, m.name]);
  // The values the message marks as chosen, shown as chosen, as Discord's client does.
  const chosen = new Set(c.type === 3 ? (c.options || []).filter((o) => o.default).map((o) => String(o.value))
    : (c.default_values || []).map((d) => String(d.id)));
  for (const [value, label] of choices) {
    const o = document.createElement("option");
    o.value = value; o.textContent = label;
    if (chosen.has(String(value))) { o.selected = true; placeholder.selected = false; }
    s.appendChild(o);
  }
  s.disabled = !!c.disabled;
  s.addEventListener("change", () => {
    const values = [...s.selectedOptions].map((o) => o.value).filter(Boolean);
    if (values.length) act("/_play/select", { message_id: message.id, custom_id: c.custom_id, values });
  });
  wrap.appendChild(s);
  return wrap;
}

function renderEmbed(e) {
  const el = document.createElement("div");
  el.className = "embed";
  if (e.color != null) el.style.borderLeftColor = `#${Number(e.color).toString(16).padStart(6, "0")}`;
  let html = "";
  if (e.title) html += `<strong>${markdown(e.title)}</strong><br>`;
  if (e.description) html += `<div class="content">${markdown(e.description)}</div>`;
  for (const f of e.fields || []) html += `<div><strong>${markdown(f.name)}</strong><br>${markdown(f.value)}</div>`;
  if (e.footer && e.footer.text) html += `<small>${markdown(e.footer.text)}</small>`;
  el.innerHTML = html;
  return el;
}

function renderMessage(m) {
  const li = document.createElement("li");
  li.className = "message" + (m.ephemeral ? " ephemeral" : "");
  li.dataset.messageId = m.id;
  const head = document.createElement("div");
  const author = m.webhook_id ? m.author.username : memberName(m.author.id);
  head.innerHTML = `<span class="author">${escape(author)}</span><span class="bot-tag">${m.webhook_id ? "WEBHOOK" : "APP"}</span>` +
    `<time>${escape(new Date(m.timestamp).toLocaleTimeString())}</time>` + (m.edited_timestamp ? ' <span class="ephemeral-note">(edited)</span>' : "");
  li.appendChild(head);
  if (m.thinking) {
    const t = document.createElement("div"); t.className = "ephemeral-note"; t.textContent = `${world.bot.name} is thinking…`;
    li.appendChild(t);
  }
  if (m.content) {
    const body = document.createElement("div"); body.className = "content"; body.innerHTML = markdown(m.content);
    li.appendChild(body);
  }
  for (const e of m.embeds || []) li.appendChild(renderEmbed(e));
  li.appendChild(renderComponents(m.components, m));
  if (m.ephemeral) {
    const note = document.createElement("div"); note.className = "ephemeral-note"; note.textContent = "👁️ Only you can see this";
    li.appendChild(note);
  }
  return li;
}

// ----- commands --------------------------------------------------------------------------------

// Every invocable path ("safari schedule") with its options, from the commands the bot synced.
function commandPaths() {
  const paths = [];
  const walk = (prefix, node) => {
    const subs = (node.options || []).filter((o) => o.type === 1 || o.type === 2);
    if (subs.length === 0) { paths.push({ path: prefix, options: node.options || [], description: node.description || "" }); return; }
    for (const sub of subs) walk(`${prefix} ${sub.name}`, sub);
  };
  const seen = new Set();
  for (const c of (state && state.commands) || []) {
    if ((c.type || 1) !== 1 || seen.has(c.name)) continue;
    if (channel === "dm" && !c.in_dms) continue; // as Discord: in a DM, only what works there
    seen.add(c.name);
    walk(c.name, c);
  }
  return paths.sort((a, b) => a.path.localeCompare(b.path));
}

// The command last picked, kept while the bot is away (a restart empties the list for a moment).
let pickedCommand = "";

function renderCommands() {
  const paths = commandPaths();
  const select = $("command");
  const current = pickedCommand || select.value;
  const key = paths.map((p) => p.path).join("|");
  if (select.dataset.key !== key) {
    select.dataset.key = key;
    select.innerHTML = "";
    // Nothing picked at first (Discord starts from "/", not from the first command in the
    // alphabet), then the commands under their feature, as Discord groups a bot's commands.
    const none = new Option("Pick a command…", "");
    none.disabled = true;
    select.appendChild(none);
    let group = null;
    for (const p of paths) {
      const feature = `/${p.path.split(" ")[0]}`;
      if (!group || group.label !== feature) {
        group = document.createElement("optgroup");
        group.label = feature;
        select.appendChild(group);
      }
      const o = document.createElement("option");
      o.value = p.path; o.textContent = `/${p.path}`; o.title = p.description;
      group.appendChild(o);
    }
    select.value = paths.some((p) => p.path === current) ? current : "";
    renderOptions();
  }
}

// What Discord shows under a command and its options as you type them: their descriptions.
function renderHelp(chosen) {
  const help = $("command-help");
  help.innerHTML = "";
  if (!chosen) return;
  const line = document.createElement("b");
  line.textContent = `/${chosen.path}`;
  help.append(line, ` ${chosen.description}`);
}

function renderOptions() {
  const chosen = commandPaths().find((p) => p.path === $("command").value);
  renderHelp(chosen);
  const box = $("options");
  box.innerHTML = "";
  for (const o of (chosen && chosen.options) || []) {
    const label = document.createElement("label");
    label.textContent = o.name + (o.required ? " *" : "");
    let input;
    if (o.type === 5) {
      input = document.createElement("select");
      for (const [v, t] of [["", ""], ["true", "true"], ["false", "false"]]) input.add(new Option(t, v));
    } else if (o.type === 6 || o.type === 7 || o.type === 8 || (o.choices && o.choices.length)) {
      input = document.createElement("select");
      input.add(new Option("", ""));
      const choices = o.choices ? o.choices.map((c) => [c.value, c.name])
        : o.type === 6 ? world.members.map((m) => [m.id, m.name])
        : o.type === 7 ? world.channels.map((c) => [c.id, `#${c.name}`])
        : world.roles.map((r) => [r.id, r.name]);
      for (const [v, t] of choices) input.add(new Option(t, v));
    } else if (o.type === 11) {
      input = document.createElement("input");
      input.type = "file";
    } else {
      input = document.createElement("input");
      input.type = o.type === 4 || o.type === 10 ? "number" : "text";
    }
    input.name = o.name;
    input.title = o.description || "";
    label.appendChild(input);
    if (o.description && o.description !== "…") { // discord.py's stand-in for "no description"
      const hint = document.createElement("span");
      hint.className = "field-help"; hint.textContent = o.description;
      label.appendChild(hint);
    }
    box.appendChild(label);
  }
}

// A picked file goes up first, as Discord's client uploads it; the action then names it by id.
async function upload(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  const response = await fetch("/_play/upload", { method: "POST", body: form });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

async function act(path, body) {
  toast("");
  try {
    await api(path, body);
    setTimeout(poll, 150);
  } catch (err) {
    toast(err.message);
  }
}

$("command").addEventListener("change", () => { pickedCommand = $("command").value; renderOptions(); });
$("command-bar").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!$("command").value) { toast("Pick a command first: the list beside Send."); return; }
  const options = {};
  try {
    for (const input of $("options").querySelectorAll("input, select")) {
      if (input.type === "file") {
        if (input.files.length) options[input.name] = (await upload(input.files[0])).id;
      } else if (input.value !== "") options[input.name] = input.value;
    }
  } catch (err) { toast(err.message); return; }
  const target = channel === "dm" ? state.dm_channel_id : channel;
  await act("/_play/command", { channel_id: target, path: $("command").value, options });
});

// ----- modals ----------------------------------------------------------------------------------

function textInputs(components) {
  const found = [];
  for (const c of components || []) {
    if (c.type === 4) found.push({ input: c, label: c.label });
    if (c.type === 18 && c.component && (c.component.type === 4 || c.component.type === 19)) found.push({ input: c.component, label: c.label, description: c.description });
    if (c.type === 1) found.push(...textInputs(c.components));
  }
  return found;
}

function openModal(interaction) {
  shownModal = interaction.id;
  const modal = interaction.modal;
  $("modal-title").textContent = modal.title || "";
  const fields = $("modal-fields");
  fields.innerHTML = "";
  for (const { input, label, description } of textInputs(modal.components)) {
    const l = document.createElement("label");
    l.textContent = label || input.label || input.custom_id;
    if (description) {
      const hint = document.createElement("span");
      hint.className = "field-help"; hint.textContent = description;
      l.appendChild(hint);
    }
    const field = document.createElement(input.style === 2 ? "textarea" : "input");
    if (input.type === 19) { field.type = "file"; field.dataset.file = "1"; }
    field.name = input.custom_id;
    field.required = input.required !== false;
    if (input.placeholder) field.placeholder = input.placeholder;
    if (input.value) field.value = input.value;
    if (input.max_length) field.maxLength = input.max_length;
    l.appendChild(field);
    fields.appendChild(l);
  }
  $("modal").showModal();
}

// Cancel, Esc and the close button all end here: like Discord, a closed form is gone for good,
// so the local Discord is told and the form never comes back.
let submitting = false;
$("modal-cancel").addEventListener("click", () => $("modal").close());
$("modal").addEventListener("close", () => {
  if (!submitting && shownModal) act("/_play/dismiss", { interaction_id: shownModal });
  submitting = false;
});
$("modal-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = {};
  try {
    for (const field of $("modal-fields").querySelectorAll("input, textarea")) {
      values[field.name] = field.dataset.file ? await Promise.all([...field.files].map(async (f) => (await upload(f)).id)) : field.value;
    }
  } catch (err) { toast(err.message); return; }
  const id = shownModal;
  submitting = true;
  $("modal").close();
  await act("/_play/submit", { interaction_id: id, values });
});

// ----- page ------------------------------------------------------------------------------------

function renderSidebar() {
  $("guild-name").textContent = world.guild.name;
  const members = $("members");
  members.innerHTML = "";
  for (const m of world.members) {
    const label = document.createElement("label");
    const radio = document.createElement("input");
    radio.type = "radio"; radio.name = "as"; radio.value = m.id; radio.checked = m.id === actingAs;
    radio.addEventListener("change", () => { actingAs = m.id; lastRendered = ""; renderHeader(); poll(); });
    label.appendChild(radio);
    label.append(` ${m.name}`);
    if (m.host) { const b = document.createElement("span"); b.className = "badge"; b.textContent = "host"; label.appendChild(b); }
    members.appendChild(label);
  }
  const list = $("channels");
  list.innerHTML = "";
  for (const c of world.channels) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.className = "channel"; b.dataset.channel = c.id; b.textContent = `# ${c.name}`;
    b.addEventListener("click", () => selectChannel(c.id));
    li.appendChild(b);
    list.appendChild(li);
  }
  $("dm-button").addEventListener("click", () => selectChannel("dm"));
}

function selectChannel(id) {
  channel = id;
  lastRendered = "";
  for (const b of document.querySelectorAll(".channel")) b.classList.toggle("active", b.dataset.channel === id);
  renderHeader();
  render();
}

function renderHeader() {
  $("channel-title").textContent = channel === "dm" ? `✉️ ${world.bot.name}` : `# ${channelName(channel)}`;
  $("acting-as").textContent = `acting as ${memberName(actingAs)}`;
}

function render() {
  if (!state) return;
  const messages = channel === "dm" ? state.dms : state.channels[channel] || [];
  const snapshot = JSON.stringify([channel, actingAs, messages]);
  if (snapshot !== lastRendered) {
    lastRendered = snapshot;
    const list = $("messages");
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 30;
    list.innerHTML = "";
    for (const m of messages) list.appendChild(renderMessage(m));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
  const status = $("bot-status");
  status.textContent = state.bot_connected ? `${world.bot.name} is online` : "the bot is not connected";
  status.className = "status " + (state.bot_connected ? "up" : "down");
  renderCommands();
  const pending = state.interactions.filter((i) => i.modal).pop();
  if (pending && pending.id !== shownModal && !$("modal").open) openModal(pending);
  const refused = state.interactions.filter((i) => i.refused.length).pop();
  if (refused) toast(`The bot's answer was refused: ${refused.refused.join("; ")}`);
}

async function poll() {
  try {
    state = await api(`/_play/state?as=${actingAs}`);
    render();
  } catch (err) {
    $("bot-status").textContent = "the local Discord is not answering";
  }
}

// The guide opens by itself on a first visit, and from its button after that.
function showGuide(shown) {
  $("guide").hidden = !shown;
  if (!shown) localStorage.setItem("playground-guide-seen", "1");
}
$("guide-button").addEventListener("click", () => showGuide($("guide").hidden));
$("guide-close").addEventListener("click", () => showGuide(false));

(async function start() {
  showGuide(!localStorage.getItem("playground-guide-seen"));
  world = await api("/_play/world");
  const params = new URLSearchParams(location.search);
  actingAs = params.get("as") || world.members[0].id;
  renderSidebar();
  selectChannel(params.get("channel") || world.channels[0].id);
  await poll();
  setInterval(poll, 700);
})();
