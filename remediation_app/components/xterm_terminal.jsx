import { useEffect, useRef, useState } from "react";
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import env from "$/env.json";
import { getBackendURL } from "$/utils/state";

// Browser terminals for the Remediation Engine (see components/xterm.py for the contract).
// NOTE: Reflex passes `ref` (React 19: a normal prop) when the component has an id: never let
// `...rest` clobber our own ref; a state-callback ref runs the effect once the div exists.

const ACK_BYTES = 32 * 1024; // acknowledge output at least every 32 KB...
const ACK_DELAY_MS = 50; // ...and whatever is left shortly after the last write
const IDLE_CAP_S = 2; // replay: a pause longer than this is shortened to it
const THEME = { background: "#111318", foreground: "#e6e6e6" };

function backendURL(path) {
  // Same host and port as Reflex's own socket (dev :8000, prod single port), wss behind https.
  const url = getBackendURL(env.EVENT);
  url.pathname = path;
  url.search = "";
  return url;
}

function httpURL(path) {
  const url = getBackendURL(env.PING);
  url.pathname = path;
  url.search = "";
  return url.toString();
}

function note(term, text, color = 33) {
  term.write(`\r\n\x1b[${color}m[${text}]\x1b[0m\r\n`);
}

// The terminal that "Send to terminal" types into: the last one opened or focused.
let activeTerm = null;

// Every C0 control (tab, CR and LF included), DEL and the C1 controls: none of them may reach the
// remote from model or alert text (CR or LF would press Enter, Ctrl-C/Ctrl-D would act, an ESC
// could end a bracketed paste early or start a key sequence).
const CONTROLS = /[\x00-\x1f\x7f-\x9f]/g;
// What text may use as a line break: CR LF, CR, LF, VT, FF, NEL, LINE and PARAGRAPH SEPARATOR.
const LINE_BREAKS = /\r\n|[\n\r\v\f\x85\u2028\u2029]/;

// The lines of a command block as they may be typed: tabs become spaces (a tab would trigger the
// shell's completion), control characters are removed, blank lines are skipped.
function commandLines(text) {
  return String(text ?? "")
    .split(LINE_BREAKS)
    .map((line) => line.replace(/\t/g, " ").replace(CONTROLS, "").trimEnd())
    .filter((line) => line.trim() !== "");
}

// A block of several lines is sent one line per click of its button: the block and its next line.
let pendingBlock = null;

// Type one line of `text` into the active terminal, never a line break: nothing runs until the
// user presses Enter there. A block of several lines is typed one line per call with the same
// text (the first line, then the next one at each click, starting over after the last), whatever
// the terminal reports about bracketed paste (a remote program can turn that mode on).
// Returns true (one line typed), {line, lines, message} (line `line` of a block of `lines`), or
// why nothing was typed (a sentence for the user).
function pasteIntoTerminal(text) {
  const term = activeTerm;
  if (!term || term.__reClosed) return "Open a terminal first.";
  if (!term.__reReady || !term.__reInput) return "The terminal is not connected yet.";
  if (term.buffer.active.type === "alternate") {
    return (
      "Not sent: a full-screen program (an editor, a pager) is running in the terminal and could " +
      "take the text as its commands. Quit it first."
    );
  }
  const lines = commandLines(text);
  if (!lines.length) return "Nothing to paste.";
  const key = String(text ?? "");
  const pending = pendingBlock;
  const index = pending && pending.term === term && pending.text === key ? pending.next : 0;
  if (!term.__reInput(lines[index])) return "The terminal is not connected.";
  pendingBlock = index + 1 < lines.length ? { term, text: key, next: index + 1 } : null;
  const folded = term.element && term.element.closest("details");
  if (folded && !folded.open) folded.open = true;
  term.scrollToBottom();
  term.focus();
  if (lines.length === 1) return true;
  const next = pendingBlock
    ? `, then "Send to terminal" again for line ${index + 2}.`
    : ". That was the last line.";
  return {
    line: index + 1,
    lines: lines.length,
    message: `Line ${index + 1} of ${lines.length} typed into the terminal, not run: press Enter there to run it${next}`,
  };
}

function installPasteHook() {
  window.__reTerminalPaste = pasteIntoTerminal;
}

function makeTerminal(el, options) {
  const term = new Terminal({
    cursorBlink: true,
    fontSize: 13,
    scrollback: 5000,
    theme: THEME,
    ...options,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(el);
  try {
    fit.fit();
  } catch (e) {
    // A hidden element has no size yet: keep xterm's default 80x24.
  }
  return { term, fit };
}

function observeSize(el, fit) {
  let frame = 0;
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      try {
        fit.fit();
      } catch (e) {
        // detached meanwhile
      }
    });
  });
  observer.observe(el);
  return () => {
    cancelAnimationFrame(frame);
    observer.disconnect();
  };
}

export function XTermTerminal({ ticket = "", onStatus, ref: _ignoredRef, ...rest }) {
  const [el, setEl] = useState(null);
  const statusRef = useRef(onStatus);
  statusRef.current = onStatus;

  useEffect(() => {
    if (!el || !ticket) return undefined;
    const report = (kind, message) => statusRef.current && statusRef.current(kind, message);
    const { term, fit } = makeTerminal(el, {});
    const stopObserving = observeSize(el, fit);
    window.__xterm = term; // test hook: the last terminal opened
    activeTerm = term;
    installPasteHook();
    const focusIn = () => {
      activeTerm = term;
    };
    el.addEventListener("focusin", focusIn);

    const ws = new WebSocket(backendURL("/ws/terminal").toString());
    ws.binaryType = "arraybuffer";
    let ended = false; // an exit or error message arrived: the close is expected
    let processed = 0; // bytes written to the screen and not acknowledged yet
    let ackTimer = 0;
    const send = (message) => {
      if (ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(message));
      return true;
    };
    // "Send to terminal" types here as the keyboard does (an input message), never as a paste.
    term.__reInput = (data) => send({ type: "input", data });
    const flushAck = () => {
      clearTimeout(ackTimer);
      ackTimer = 0;
      if (processed > 0 && send({ type: "ack", bytes: processed }) !== false) processed = 0;
    };

    ws.onopen = () => send({ type: "auth", ticket, cols: term.cols, rows: term.rows });
    ws.onmessage = (event) => {
      if (typeof event.data !== "string") {
        const data = new Uint8Array(event.data);
        term.write(data, () => {
          processed += data.length;
          if (processed >= ACK_BYTES) flushAck();
          else if (!ackTimer) ackTimer = setTimeout(flushAck, ACK_DELAY_MS);
        });
        return;
      }
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (message.type === "ready") {
        term.__reReady = true;
        report("ready", `connected to ${message.server}`);
        term.focus();
      } else if (message.type === "exit") {
        ended = true;
        const status = message.status === null || message.status === undefined ? "none" : message.status;
        const reason = message.reason ? `; ${message.reason}` : "";
        note(term, `session closed: exit status ${status}${reason}`);
        report("exit", `session closed: exit status ${status}${reason}`);
      } else if (message.type === "error") {
        ended = true;
        note(term, `error: ${message.message}`, 31);
        report("error", String(message.message || "error"));
      }
    };
    ws.onclose = (event) => {
      term.__reClosed = true;
      if (!ended) {
        const why = event.reason ? `: ${event.reason}` : "";
        note(term, `disconnected${why}`, 31);
        report("closed", `disconnected${why}`);
      }
    };
    const input = term.onData((data) => send({ type: "input", data }));
    const binary = term.onBinary((data) => send({ type: "input", data }));
    const resize = term.onResize(({ cols, rows }) => send({ type: "resize", cols, rows }));

    return () => {
      clearTimeout(ackTimer);
      el.removeEventListener("focusin", focusIn);
      stopObserving();
      input.dispose();
      binary.dispose();
      resize.dispose();
      ws.onclose = null;
      ws.close();
      if (activeTerm === term) activeTerm = null;
      if (pendingBlock && pendingBlock.term === term) pendingBlock = null;
      if (window.__xterm === term) window.__xterm = null;
      term.dispose();
    };
  }, [el, ticket]);

  return <div {...rest} ref={setEl} />;
}

function sleep(ms, run) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    run.timers.add(timer);
  });
}

function writeAndWait(term, data) {
  return new Promise((resolve) => term.write(data, resolve));
}

async function replay(term, src, speed, run) {
  // The recording is streamed and played as it arrives: only one network chunk is held at a time.
  const response = await fetch(src, { credentials: "include" });
  if (!response.ok) {
    let detail = `${response.status}`;
    try {
      detail = (await response.json()).detail || detail;
    } catch (e) {
      // not JSON
    }
    throw new Error(`cannot load the recording: ${detail}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  let header = null;
  let last = 0;
  let batch = "";
  const play = async (line) => {
    if (!line.trim()) return;
    const item = JSON.parse(line);
    if (header === null) {
      header = item;
      if (header.width && header.height) term.resize(header.width, header.height);
      return;
    }
    const [at, kind, data] = item;
    if (kind === "r") {
      const [cols, rows] = String(data).split("x").map(Number);
      if (cols > 1 && rows > 0) term.resize(cols, rows);
      return;
    }
    if (kind !== "o") return;
    if (speed > 0) {
      const gap = Math.min(Math.max(at - last, 0), IDLE_CAP_S) / speed;
      last = at;
      if (gap > 0.005) {
        if (batch) await writeAndWait(term, batch);
        batch = "";
        await sleep(gap * 1000, run);
      }
    }
    batch += data;
    if (batch.length >= 64 * 1024) {
      await writeAndWait(term, batch);
      batch = "";
    }
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (run.cancelled) {
      reader.cancel();
      return;
    }
    pending += decoder.decode(value || new Uint8Array(), { stream: !done });
    const lines = pending.split("\n");
    pending = done ? "" : lines.pop();
    for (const line of lines) {
      if (run.cancelled) return;
      await play(line);
    }
    if (done) break;
  }
  if (batch) await writeAndWait(term, batch);
}

// Read-only replay of a recording (asciicast v2) fetched from `src` (same origin as the API).
// speed: 1, 4, ... plays with the recorded timing (pauses capped at 2 s); 0 shows it all at once.
export function XTermReplay({ src = "", speed = 1, onStatus, ref: _ignoredRef, ...rest }) {
  const [el, setEl] = useState(null);
  const statusRef = useRef(onStatus);
  statusRef.current = onStatus;

  useEffect(() => {
    if (!el || !src) return undefined;
    const report = (kind, message) => statusRef.current && statusRef.current(kind, message);
    const { term } = makeTerminal(el, { disableStdin: true, cursorBlink: false });
    window.__xtermReplay = term; // test hook
    const run = { cancelled: false, timers: new Set() };
    report("playing", "");
    replay(term, httpURL(src), Number(speed) || 0, run)
      .then(() => {
        if (run.cancelled) return;
        note(term, "end of recording");
        report("done", "");
      })
      .catch((error) => {
        if (run.cancelled) return;
        note(term, String(error.message || error), 31);
        report("error", String(error.message || error));
      });
    return () => {
      run.cancelled = true;
      run.timers.forEach((timer) => clearTimeout(timer));
      if (window.__xtermReplay === term) window.__xtermReplay = null;
      term.dispose();
    };
  }, [el, src, speed]);

  return <div {...rest} ref={setEl} />;
}
