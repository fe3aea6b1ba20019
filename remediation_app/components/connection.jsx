import { useContext, useEffect, useSyncExternalStore } from "react";
import { Badge, Callout } from "@radix-ui/themes";
import env from "$/env.json";
import { getBackendURL } from "$/utils/state";
import { EventLoopContext } from "$/utils/context";

// Whether this page still talks to the server (see components/connection.py for the contract).
// Two signals, both in the browser (the server cannot tell a tab it is gone):
// - Reflex's socket: a failed (re)connection attempt is in connectErrors until it connects again;
//   a server that stops closes the socket, the reconnection fails at once.
// - A heartbeat (GET /ping every BEAT_MS): a backend that vanished without closing anything (a host
//   down, a network cut, a laptop waking up) would otherwise look connected until socket.io's ping
//   timeout, minutes later. MISSED_TO_OFFLINE missed beats in a row mean disconnected.

const BEAT_MS = 5000;
const BEAT_TIMEOUT_MS = 4000;
const MISSED_TO_OFFLINE = 2;

// One heartbeat per page, shared by every component that shows the connection.
const beat = { missed: 0, timer: null, listeners: new Set() };

function setMissed(n) {
  if (n !== beat.missed) {
    beat.missed = n;
    beat.listeners.forEach((listener) => listener());
  }
}

async function ping() {
  if (document.visibilityState !== "visible") {
    return;
  }
  try {
    const answer = await fetch(getBackendURL(env.PING), {
      cache: "no-store",
      signal: AbortSignal.timeout(BEAT_TIMEOUT_MS),
    });
    setMissed(answer.ok ? 0 : beat.missed + 1);
  } catch {
    setMissed(beat.missed + 1);
  }
}

function offline() {
  setMissed(MISSED_TO_OFFLINE);
}

function subscribe(listener) {
  beat.listeners.add(listener);
  if (beat.timer === null) {
    beat.timer = window.setInterval(ping, BEAT_MS);
    window.addEventListener("offline", offline);
    window.addEventListener("online", ping);
  }
  return () => {
    beat.listeners.delete(listener);
    if (beat.listeners.size === 0) {
      window.clearInterval(beat.timer);
      beat.timer = null;
      window.removeEventListener("offline", offline);
      window.removeEventListener("online", ping);
    }
  };
}

// "live", "connecting" (connected, the page's live updates not started yet) or "disconnected".
function useConnection(live) {
  const [, connectErrors] = useContext(EventLoopContext);
  const missed = useSyncExternalStore(subscribe, () => beat.missed, () => 0);
  const failing = connectErrors.length > 0;
  useEffect(() => {
    if (!failing) {
      setMissed(0); // connected again: the server answers
    }
  }, [failing]);
  if (failing || missed >= MISSED_TO_OFFLINE) {
    return "disconnected";
  }
  return live ? "live" : "connecting";
}

const LOOKS = {
  live: { color: "green", title: "Connected: changes show as they happen" },
  connecting: { color: "gray", title: "Connecting to the server" },
  disconnected: { color: "red", title: "Not connected to the server: what is shown may be out of date" },
};

export function ConnectionBadge({ live, ...rest }) {
  const state = useConnection(!!live);
  useEffect(() => {
    document.documentElement.dataset.connection = state;
  }, [state]);
  return (
    <Badge
      {...rest}
      color={LOOKS[state].color}
      variant="soft"
      title={LOOKS[state].title}
      data-connection={state}
      aria-live="polite"
    >
      {state}
    </Badge>
  );
}

export function StaleWhenDisconnected({ notice, children, ...rest }) {
  const stale = useConnection(true) === "disconnected";
  return (
    <div {...rest} data-stale={stale ? "true" : "false"}>
      {stale ? (
        <Callout.Root color="red" size="1" role="status" className="stale-notice" style={{ marginBottom: "0.5em" }}>
          <Callout.Text>{notice}</Callout.Text>
        </Callout.Root>
      ) : null}
      <div
        className="stale-data"
        style={{ opacity: stale ? 0.45 : 1, filter: stale ? "grayscale(1)" : "none", transition: "opacity 0.3s" }}
      >
        {children}
      </div>
    </div>
  );
}
