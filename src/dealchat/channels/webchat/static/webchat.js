// The web chat client: a random conversation and sender id kept in this browser, one POST a message.
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
  const conversationId = stored("dealchat.conversation", "c-");
  const senderId = stored("dealchat.sender", "s-");
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");

  function show(who, text, link) {
    const item = document.createElement("li");
    item.className = who;
    item.textContent = text;
    if (link) {
      const anchor = document.createElement("a");
      anchor.href = link;
      anchor.target = "_blank";
      anchor.rel = "noopener noreferrer";
      anchor.textContent = "Open the bank's secure page";
      item.appendChild(document.createElement("br"));
      item.appendChild(anchor);
    }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  async function send(text) {
    const body = { conversation_id: conversationId, sender_id: senderId, message_id: randomId("m-"), text };
    try {
      const response = await fetch("/api/v1/webchat/messages", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      const data = await response.json();
      if (!response.ok) { show("bot", data.title || "Something went wrong; please try again."); return; }
      for (const reply of data.replies) { show("bot", reply.text, reply.link); }
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
})();
