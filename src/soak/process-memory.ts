/**
 * Resident memory of a process by pid, read from Linux's /proc/PID/status (VmRSS): the figure a
 * container limit or the OOM killer acts on, and the same for any process, child or not.
 */
import { readFileSync } from 'node:fs';

/** Bytes resident now, or null when the process is gone (or /proc is not there). */
export function residentBytes(pid: number): number | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : null;
}
