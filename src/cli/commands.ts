import { register } from './registry.js';

// The command table. Keep one line per command, grouped by area; each imports lazily.

// core (issue 2)

// change feed and MCP (issue 3)

// executor (issue 4)
