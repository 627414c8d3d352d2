/**
 * How two GPUs of one worker are connected, best first. A model that spans several GPUs
 * exchanges activations between them on every step, so the slowest link in its group bounds it.
 * The levels follow `nvidia-smi topo -m`: NV# (NVLink), PIX/PXB (PCIe switches), PHB/NODE
 * (same NUMA node), SYS (across NUMA nodes).
 */
export const LINK_LEVELS = ['NVLINK', 'PCIE_SWITCH', 'NUMA_NODE', 'SYSTEM'] as const;
export type LinkLevel = (typeof LINK_LEVELS)[number];

/** One pair of devices of a worker and the link between them. */
export interface TopologyLink {
  a: string;
  b: string;
  level: LinkLevel;
}

/**
 * A worker's topology: the links between its devices. A pair not listed is taken as SYSTEM,
 * the worst, so a worker that reports nothing is still usable; a single PCIe card with no
 * NVLink has no pairs and is described by the empty list.
 */
export type WorkerTopology = readonly TopologyLink[];

/** Rank of a level, 0 (NVLink) to 3 (across NUMA nodes). */
export function linkRank(level: LinkLevel): number {
  return LINK_LEVELS.indexOf(level);
}

/**
 * Maps NVML's nvmlGpuTopologyLevel_t (from nvmlDeviceGetTopologyCommonAncestor) to a level:
 * INTERNAL 0 and SINGLE 10 / MULTIPLE 20 are PCIe switches, HOSTBRIDGE 30 / NODE 40 the same
 * NUMA node, SYSTEM 50 across nodes. NVLink is found separately (nvmlDeviceGetNvLinkState).
 */
export function levelFromNvmlAncestor(ancestor: number): LinkLevel {
  if (ancestor <= 20) return 'PCIE_SWITCH';
  if (ancestor <= 40) return 'NUMA_NODE';
  return 'SYSTEM';
}

/** Orders links canonically (a < b, sorted) so that equal topologies serialise identically. */
export function normaliseTopology(links: readonly TopologyLink[]): TopologyLink[] {
  return links
    .filter((l) => l.a !== l.b)
    .map((l) => (l.a < l.b ? { a: l.a, b: l.b, level: l.level } : { a: l.b, b: l.a, level: l.level }))
    .sort((x, y) => (x.a === y.a ? (x.b < y.b ? -1 : x.b > y.b ? 1 : 0) : x.a < y.a ? -1 : 1));
}

/** Rank of the link between two devices of one worker (SYSTEM when not described). */
export function pairRank(links: WorkerTopology, a: string, b: string): number {
  const [x, y] = a < b ? [a, b] : [b, a];
  for (const l of links) if (l.a === x && l.b === y) return linkRank(l.level);
  return linkRank('SYSTEM');
}
