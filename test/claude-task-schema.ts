import { z } from 'zod';

// Claude Code's read schema of a task file. Like Claude Code's own, z.object strips unknown
// top-level keys. Tests check the files Tasklane writes (and merges) against it.
export const ClaudeTask = z.object({
  id: z.string(),
  subject: z.string(),
  description: z.string(),
  activeForm: z.string().optional(),
  owner: z.string().optional(),
  status: z.enum(['pending', 'in_progress', 'completed']),
  blocks: z.array(z.string()),
  blockedBy: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export type ClaudeTask = z.infer<typeof ClaudeTask>;
