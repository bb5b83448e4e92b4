/**
 * How often a page refetches while its live stream can't be used (see
 * live/watchLoop.ts). The LiveIndicator's "Polling every 2 s" says this number.
 */
export const POLL_INTERVAL_MS = 2000;
