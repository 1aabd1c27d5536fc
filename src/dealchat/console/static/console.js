// The desk's live pages: a list of conversations that refreshes when one changes, and a
// transcript that grows as messages come (Server-Sent Events, resuming after a drop).
(function () {
  "use strict";
  const inbox = document.getElementById("inbox");
  if (inbox) {
    const source = new EventSource(inbox.dataset.live);
    source.addEventListener("changed", async () => {
      const response = await fetch(inbox.dataset.refresh, { credentials: "same-origin" });
      if (response.ok) { inbox.innerHTML = await response.text(); }
    });
  }
  const transcript = document.getElementById("transcript");
  if (transcript) {
    const seen = new Set(Array.from(transcript.querySelectorAll("li[data-seq]"), (li) => li.dataset.seq));
    const url = transcript.dataset.live + "?after=" + encodeURIComponent(transcript.dataset.after);
    const source = new EventSource(url);
    source.addEventListener("message", (event) => {
      const line = JSON.parse(event.data);
      if (seen.has(String(line.seq))) { return; }
      seen.add(String(line.seq));
      transcript.appendChild(render(line));
      transcript.scrollTop = transcript.scrollHeight;
    });
    // Which of the bank's latest messages are not delivered yet (or failed): mark those, unmark
    // the ones the client's app or page has received since.
    source.addEventListener("delivery", (event) => {
      const data = JSON.parse(event.data);
      transcript.querySelectorAll("li.out[data-seq]").forEach((item) => {
        if (Number(item.dataset.seq) <= data.after) { return; }  // older than what was read
        mark(item, data.undelivered[item.dataset.seq] || "delivered");
      });
    });
    source.addEventListener("state", async () => {
      const response = await fetch(transcript.dataset.side, { credentials: "same-origin" });
      if (response.ok) { document.getElementById("side").innerHTML = await response.text(); }
    });
    transcript.scrollTop = transcript.scrollHeight;
  }
  // The line's delivery note, as the template writes it: "not delivered yet", "delivery failed".
  function mark(item, delivery) {
    const meta = item.querySelector(".meta");
    let note = meta.querySelector("em.delivery");
    if (!delivery || delivery === "delivered") {
      if (note) { note.previousSibling.remove(); note.remove(); }
      return;
    }
    if (!note) {
      meta.appendChild(document.createTextNode(" · "));
      note = document.createElement("em");
      note.className = "delivery";
      meta.appendChild(note);
    }
    note.textContent = delivery === "pending" ? "not delivered yet" : "delivery failed";
  }
  function render(line) {
    const item = document.createElement("li");
    item.className = "line " + line.direction + (line.direction === "out" && line.who !== "bot" ? " staff" : "");
    item.dataset.seq = line.seq;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = "#" + line.seq + " · " + line.at + " · ";
    const who = document.createElement("strong");
    who.className = "who";
    who.textContent = line.who;
    meta.appendChild(who);
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = line.text;
    item.appendChild(meta);
    item.appendChild(text);
    mark(item, line.delivery);
    if (line.secure_link) {
      const note = document.createElement("span");
      note.className = "meta";
      note.textContent = " [a secure link was sent to the client]";
      item.appendChild(note);
    }
    return item;
  }
})();
