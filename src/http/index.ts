// The board's HTTP surface: the app (for tests and embedding) and the server (for `tasklane
// board` and `tasklane run --board`). See docs/board.md.

export { type BoardApp, type BoardOptions, createBoardApp, DEFAULT_ACTOR } from './app.js';
export type { ChangeEventData } from './events.js';
export type { GraphLayout } from './graph.js';
export type { LiveRun, LiveTask, RunEventSource } from './run-feed.js';
export { DEFAULT_HOST, DEFAULT_PORT, type RunningBoard, type StartOptions, startBoard } from './server.js';
