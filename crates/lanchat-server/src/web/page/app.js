// lanchat's web page: the lanchat protocol (docs/PROTOCOL.md) over a
// WebSocket to the room's own server. Every text from the network is
// inserted with textContent, never as HTML.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const log = $("log"), users = $("users"), input = $("input"), form = $("compose");
  const prompt = $("prompt"), status = $("status"), count = $("count");
  const roomTitle = $("room"), toggle = $("people-toggle"), people = $("people");
  const CAPS = ["stamps", "labels", "split_users", "history", "resume"];
  const MAX_LINES = 2000;

  let ws = null;
  let greeted = false;
  let me = null;          // our name, once in
  let wanted = null;      // the name we asked for
  let resume = null;      // the token to come back with
  let lastId = 0;         // the last room event seen
  let sent = 0;           // labels for our lines
  let leaving = false;
  let retry = 0;
  let unread = 0;
  let title = "lanchat";
  let showingEarlier = false;
  const pending = new Map();   // label -> the line typed
  const present = new Set();

  // --- showing things -------------------------------------------------

  function colour(name) {
    let h = 0;
    for (const c of name.toLowerCase()) h = (h * 31 + c.codePointAt(0)) >>> 0;
    return `hsl(${h % 360} 65% var(--name-l))`;
  }

  function clock(ts) {
    const d = ts ? new Date(ts) : new Date();
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function nameButton(name) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "name";
    b.textContent = name;
    b.style.color = colour(name);
    b.title = `Whisper to ${name}`;
    b.addEventListener("click", () => whisperTo(name));
    return b;
  }

  function atBottom() {
    const chat = $("chat");
    return chat.scrollHeight - chat.scrollTop - chat.clientHeight < 40;
  }

  function add(kind, parts, ts) {
    const stick = atBottom();
    const li = document.createElement("li");
    li.className = kind;
    const t = document.createElement("time");
    t.textContent = clock(ts);
    li.append(t, " ", ...parts);
    log.append(li);
    while (log.children.length > MAX_LINES) log.firstElementChild.remove();
    if (stick) $("chat").scrollTop = $("chat").scrollHeight;
    if (document.hidden && kind !== "event") {
      unread += 1;
      document.title = `(${unread}) ${title}`;
    }
    return li;
  }

  const event = (text, ts) => add("event", ["— " + text], ts);
  const problem = (text) => add("error", ["! " + text]);

  function mentions(text) {
    if (!me) return false;
    const escaped = me.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return new RegExp(`(^|[^\\p{L}\\p{N}])${escaped}($|[^\\p{L}\\p{N}])`, "iu").test(text);
  }

  function message(f) {
    const parts = f.action
      ? ["* ", nameButton(f.from), " " + f.text]
      : [nameButton(f.from), ": " + f.text];
    const li = add(earlierClass("message"), parts, f.ts);
    if (f.from !== me && mentions(f.text)) li.classList.add("mention");
  }

  function whisper(f) {
    const parts = f.from === me
      ? ["(whisper to ", nameButton(f.to), ") " + f.text]
      : ["(whisper from ", nameButton(f.from), ") " + f.text];
    add(earlierClass("whisper"), parts, f.ts);
  }

  const earlierClass = (kind) => (showingEarlier ? kind + " earlier" : kind);

  function renderPeople() {
    const names = [...present].sort((a, b) => a.localeCompare(b));
    users.replaceChildren(
      ...names.map((n) => {
        const li = document.createElement("li");
        li.append(nameButton(n));
        if (n === me) li.append(" (you)");
        return li;
      })
    );
    count.textContent = String(names.length);
  }

  function setMode(chatting) {
    prompt.textContent = chatting ? "Message" : "Your name";
    input.placeholder = chatting ? "Type a message, or /commands" : "Pick a name";
  }

  // --- the connection ---------------------------------------------------

  function send(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame) + "\n");
    return true;
  }

  function connect() {
    greeted = false;
    status.textContent = retry ? `reconnecting (attempt ${retry})…` : "connecting…";
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${scheme}://${location.host}/ws`);
    ws.addEventListener("message", (e) => {
      for (const line of String(e.data).split("\n")) {
        if (!line) continue;
        let frame;
        try { frame = JSON.parse(line); } catch { continue; }
        handle(frame);
      }
    });
    ws.addEventListener("close", lost);
  }

  function lost() {
    if (leaving) {
      status.textContent = "left the room";
      return;
    }
    retry += 1;
    status.textContent = `reconnecting (attempt ${retry})…`;
    if (retry === 1 && me) event("connection lost; reconnecting…");
    setTimeout(connect, Math.min(5000, 250 * 2 ** Math.min(retry, 5)));
  }

  function join(name) {
    wanted = name;
    send({ type: "join", name, caps: CAPS, label: "join" });
  }

  function handle(f) {
    if (f.lanchat !== undefined && f.type === "hello") {
      greeted = true;
      title = `${f.room} — lanchat`;
      document.title = title;
      roomTitle.textContent = f.room;
      if (resume && me) {
        send({ type: "resume", token: resume, last_id: lastId, caps: CAPS });
      } else if (wanted) {
        join(wanted);
      } else {
        status.textContent = "choose a name";
        input.focus();
      }
      return;
    }
    if (typeof f.id === "number" && f.id > lastId) lastId = f.id;
    switch (f.type) {
      case "welcome": {
        const back = me !== null;
        me = f.name;
        retry = 0;
        present.clear();
        for (const n of f.users || []) present.add(n);
        present.add(me);
        renderPeople();
        setMode(true);
        status.textContent = `in the room as ${me}`;
        if (!back) event(`Welcome to ${f.room}, ${me}! Click a name to whisper; /commands lists the rest.`);
        else event("back in the room");
        break;
      }
      case "users":
        for (const n of f.users || []) present.add(n);
        renderPeople();
        if (f.label) event("In the room: " + (f.users || []).join(", "));
        break;
      case "name_rejected":
        problem(`can't use that name: ${f.reason}`);
        wanted = null;
        me = null;
        setMode(false);
        input.value = f.name || "";
        status.textContent = "choose another name";
        input.focus();
        break;
      case "resumable":
        resume = f.token;
        break;
      case "history":
        if (!showingEarlier) add("separator", ["earlier conversation"]);
        showingEarlier = true;
        for (const e of f.events || []) handle(e);
        if (!f.more) {
          showingEarlier = false;
          add("separator", ["now"]);
        }
        break;
      case "message":
        if (f.label && pending.has(f.label)) pending.delete(f.label);
        message(f);
        break;
      case "whisper":
        if (f.label && pending.has(f.label)) pending.delete(f.label);
        whisper(f);
        break;
      case "joined":
        present.add(f.name);
        renderPeople();
        event(`${f.name} joined`, f.ts);
        break;
      case "left":
        present.delete(f.name);
        renderPeople();
        event(`${f.name} left`, f.ts);
        break;
      case "held":
        event(`${f.name} lost connection; holding the name`, f.ts);
        break;
      case "back":
        event(`${f.name} is back`, f.ts);
        break;
      case "renamed":
        present.delete(f.from);
        present.add(f.to);
        if (f.from === me) me = f.to;
        renderPeople();
        event(`${f.from} is now ${f.to}`, f.ts);
        break;
      case "away":
        event(f.reason ? `${f.name} is away: ${f.reason}` : `${f.name} is back`, f.ts);
        break;
      case "topic":
        if (f.topic) event(`topic: ${f.topic}`, f.ts);
        break;
      case "notice":
        event(f.text, f.ts);
        break;
      case "commands":
        for (const c of f.commands || []) event(`${c.usage} — ${c.help}`);
        break;
      case "whois":
        event(`${f.name}: here since ${clock(f.since)}, through ${f.door}${f.away ? ", away: " + f.away : ""}`);
        break;
      case "ignoring":
        event(f.names.length ? "ignoring " + f.names.join(", ") : "ignoring nobody");
        break;
      case "error":
        if (f.code === "cannot_resume") {
          resume = null;
          join(me);
          break;
        }
        problem(f.text);
        // The line that failed comes back to the input, if it is empty.
        if (f.label && pending.has(f.label)) {
          if (!input.value) input.value = pending.get(f.label);
          pending.delete(f.label);
        }
        break;
      case "bye":
        if (f.code === "quit") leaving = true;
        event(f.reason || "goodbye");
        break;
      case "ping":
        send({ type: "pong", token: f.token });
        break;
      default:
        break;
    }
  }

  // --- typing -----------------------------------------------------------

  function whisperTo(name) {
    if (name === me) return;
    input.value = `/w ${name} `;
    people.classList.remove("open");
    toggle.setAttribute("aria-expanded", "false");
    input.focus();
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    if (!me) {
      wanted = text.trim();
      if (greeted) join(wanted);
      input.value = "";
      return;
    }
    sent += 1;
    const label = "w" + sent;
    if (!send({ type: "input", text, label })) {
      problem("not connected: the line was kept; it will be sent when you press Enter again");
      return;
    }
    pending.set(label, text);
    if (/^\/(x|quit|exit)\s*$/i.test(text.trim())) leaving = true;
    input.value = "";
  });

  toggle.addEventListener("click", () => {
    const open = people.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  });

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      unread = 0;
      document.title = title;
    }
  });

  setMode(false);
  connect();
})();
