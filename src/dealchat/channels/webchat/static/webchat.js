// The web chat client: a random conversation and sender id kept in this browser, one POST a
// message, and a live feed (Server-Sent Events) of everything the bank sends: the bot's replies,
// later news about an order, a dealer's answers. Every message the bank sends has a number;
// the page shows each once, tells the server what it showed (that is the delivery), and after a
// reload asks for the history (given once this chat is linked to the client's account).
(function () {
  "use strict";
  function randomId(prefix) {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function stored(key, prefix) {
    let value = localStorage.getItem(key);
    if (!value) { value = randomId(prefix); localStorage.setItem(key, value); }
    return value;
  }
  // A browser that never had a chat here has no history to ask for (the server would answer 404).
  const returning = Boolean(localStorage.getItem("dealchat.conversation"));
  const conversationId = stored("dealchat.conversation", "c-");
  const senderId = stored("dealchat.sender", "s-");
  const ids = "conversation_id=" + encodeURIComponent(conversationId) +
    "&sender_id=" + encodeURIComponent(senderId);
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const shown = new Map();  // seq -> its line
  let lastSeq = 0;
  let source = null;
  let acking = null;

  function show(who, text, link, author) {
    const item = document.createElement("li");
    item.className = who;
    if (author) {
      const name = document.createElement("strong");
      name.className = "author";
      name.textContent = author;
      item.appendChild(name);
      item.appendChild(document.createElement("br"));
    }
    item.appendChild(document.createTextNode(text));
    if (link) { addLink(item, link); }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function addLink(item, link) {
    const anchor = document.createElement("a");
    anchor.href = link;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
    anchor.textContent = "Open the bank's secure page";
    item.appendChild(document.createElement("br"));
    item.appendChild(anchor);
  }

  // One numbered message from the bank (or, in the history, from the client): shown once.
  function received(message) {
    const who = message.direction === "in" ? "me" : (message.author ? "staff" : "bot");
    if (!message.seq) { show(who, message.text, message.link, message.author); return; }
    const earlier = shown.get(message.seq);
    if (earlier) {
      // The stream may bring a reply before the answer to our POST does, and it never carries
      // a secure link that answer carries (delivered there): the link joins the line then.
      if (message.link && !earlier.querySelector("a")) { addLink(earlier, message.link); }
      return;
    }
    lastSeq = Math.max(lastSeq, message.seq);
    shown.set(message.seq, show(who, message.text, message.link, message.author));
    acknowledge();
  }

  function acknowledge() {
    if (acking) { return; }
    acking = setTimeout(async () => {
      acking = null;
      try {
        await fetch("/api/v1/webchat/seen", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ conversation_id: conversationId, sender_id: senderId, seq: lastSeq }),
        });
      } catch (error) { /* told again with the next message */ }
    }, 50);
  }

  function follow() {
    if (source) { return; }
    source = new EventSource("/api/v1/webchat/stream?" + ids + "&after=" + lastSeq);
    source.addEventListener("message", (event) => received(JSON.parse(event.data)));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) { source = null; setTimeout(follow, 2000); }
    });
  }

  async function restore() {
    try {
      const response = await fetch("/api/v1/webchat/history?" + ids);
      if (!response.ok) { return; }  // 404: this browser has not written yet
      const data = await response.json();
      data.messages.forEach(received);
      follow();
    } catch (error) { /* the server is not reachable yet: the first message will follow */ }
  }

  async function send(text) {
    const body = { conversation_id: conversationId, sender_id: senderId, message_id: randomId("m-"), text };
    try {
      const response = await fetch("/api/v1/webchat/messages", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      const data = await response.json();
      if (!response.ok) { show("bot", data.title || "Something went wrong; please try again."); return; }
      for (const reply of data.replies) {
        received({ seq: reply.seq, direction: "out", text: reply.text, link: reply.link });
      }
      follow();
    } catch (error) {
      show("bot", "The bank's server could not be reached; please try again.");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) { return; }
    show("me", text);
    input.value = "";
    send(text);
  });
  if (returning) { restore(); }
})();
