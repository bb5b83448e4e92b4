import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

const STORAGE_KEY = "promptline.apiKey";

/** The browser's sign-in: the API key it sends, and why the last one was refused. */
export interface SessionState {
  key: string | null;
  /** The server's message when it refused the stored key (revoked, unknown…). */
  refusal: string | undefined;
}

function read(): string | null {
  try {
    return window.localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage blocked (privacy mode): the key lives as long as the page.
    return null;
  }
}

function write(key: string | null): void {
  try {
    if (key === null) window.localStorage.removeItem(STORAGE_KEY);
    else window.localStorage.setItem(STORAGE_KEY, key);
  } catch {
    // See read().
  }
}

function createSession() {
  let state: SessionState = { key: read(), refusal: undefined };
  const listeners = new Set<() => void>();
  const set = (next: SessionState) => {
    state = next;
    for (const listener of listeners) listener();
  };
  // Another tab signed in or out.
  window.addEventListener("storage", (event) => {
    if (event.key === STORAGE_KEY) set({ key: read(), refusal: undefined });
  });
  return {
    subscribe(listener: () => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    getSnapshot: (): SessionState => state,
    signIn(key: string): void {
      write(key);
      set({ key, refusal: undefined });
    },
    signOut(): void {
      write(null);
      set({ key: null, refusal: undefined });
    },
    /** The server answered Unauthenticated: forget the key, keep the reason for the sign-in page. */
    refused(message: string): void {
      if (state.refusal !== undefined && state.key === null) return;
      write(null);
      set({ key: null, refusal: message });
    },
  };
}

/** The one session of this page; its key goes on every call (see {@link bearerInterceptor}). */
export const session = createSession();

/** Sends the stored key as `Authorization: Bearer`; an Unauthenticated answer signs out. */
export const bearerInterceptor: Interceptor = (next) => async (req) => {
  const { key } = session.getSnapshot();
  if (key !== null && !req.header.has("authorization")) {
    req.header.set("authorization", `Bearer ${key}`);
  }
  try {
    return await next(req);
  } catch (error) {
    const connectError = ConnectError.from(error);
    // Only for the session's own key: a sign-in attempt's candidate is not it,
    // and with no key at all the gate sends the person to sign in anyway.
    if (
      connectError.code === Code.Unauthenticated &&
      key !== null &&
      req.header.get("authorization") === `Bearer ${key}`
    ) {
      session.refused(connectError.rawMessage);
    }
    throw error;
  }
};
