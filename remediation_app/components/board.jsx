import { useEffect, useRef } from "react";

// The board's browser side (see components/board.py for the contract): the address bar follows the
// filters, and the keyboard moves through the rows.

// Writes `?query` into the address bar (replacing the entry: no reload, no new history step) each
// time `query` or `version` changes after mount. Not at mount: the server has not read the address
// yet, and writing the state's old query then would erase what the address asks for.
export function UrlQuery({ query, version }) {
  const initial = useRef({ query, version });
  useEffect(() => {
    const first = initial.current;
    if (first !== null && first.query === query && first.version === version) {
      return;
    }
    initial.current = null;
    const { pathname, search, hash } = window.location;
    const wanted = query || "";
    if (search !== wanted) {
      window.history.replaceState(window.history.state, "", pathname + wanted + hash);
    }
  }, [query, version]);
  return null;
}

function typingIn(element) {
  if (!element || element === document.body) {
    return false;
  }
  const tag = element.tagName;
  return (
    element.isContentEditable ||
    tag === "INPUT" ||
    tag === "TEXTAREA" ||
    tag === "SELECT" ||
    element.closest('[role="listbox"], [role="menu"], [role="dialog"]') !== null
  );
}

// j / k select the next / previous row (`rows`: a CSS selector; each row has an id and a link),
// Enter opens the selected row's first link, `/` focuses `search`, Escape leaves a text field.
// Keys typed into a field (or with Ctrl, Alt, Meta) are left alone. The selection is kept by the
// row's id across live updates and shown as data-selected="true" (and aria-selected).
export function ListKeys({ rows, search }) {
  useEffect(() => {
    let selected = null;
    const all = () => Array.from(document.querySelectorAll(rows));
    const mark = () => {
      for (const row of all()) {
        const on = row.id === selected;
        if (on !== (row.getAttribute("data-selected") === "true")) {
          if (on) {
            row.setAttribute("data-selected", "true");
          } else {
            row.removeAttribute("data-selected");
          }
          row.setAttribute("aria-selected", on ? "true" : "false");
        }
      }
    };
    const move = (step) => {
      const list = all();
      if (list.length === 0) {
        return;
      }
      const at = list.findIndex((row) => row.id === selected);
      const next = at < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, at + step));
      selected = list[next].id;
      mark();
      list[next].scrollIntoView({ block: "nearest" });
    };
    const onKey = (event) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) {
        return;
      }
      const focused = document.activeElement;
      if (typingIn(focused)) {
        if (event.key === "Escape" && focused.matches("input, textarea")) {
          focused.blur();
        }
        return;
      }
      if (event.key === "j" || event.key === "k") {
        event.preventDefault();
        move(event.key === "j" ? 1 : -1);
      } else if (event.key === "/") {
        const box = document.querySelector(search);
        if (box) {
          event.preventDefault();
          box.focus();
          box.select?.();
        }
      } else if (event.key === "Enter" && selected !== null) {
        // Only from the page itself: Enter on a focused button or link keeps its own meaning.
        if (focused && focused !== document.body && !focused.closest(rows)) {
          return;
        }
        const link = document.getElementById(selected)?.querySelector("a[href]");
        if (link) {
          event.preventDefault();
          link.click();
        }
      }
    };
    document.addEventListener("keydown", onKey);
    // Live updates re-render rows in place (a row's id changes with its alert): follow the id.
    const observer = new MutationObserver(mark);
    observer.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["id"] });
    return () => {
      document.removeEventListener("keydown", onKey);
      observer.disconnect();
    };
  }, [rows, search]);
  return null;
}
