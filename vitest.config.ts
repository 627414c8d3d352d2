import { defineConfig } from 'vitest/config';

// Test tiers by folder: unit (pure, no I/O), int (the real local stack), gpu (NVML/CUDA present).
// The tiers run one after another: on a 2-core machine the CPU-heavy unit suites would otherwise
// starve the live pipeline's processes and make its deadlines a measure of the machine.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.spec.ts'], testTimeout: 30_000, sequence: { groupOrder: 0 } } },
      {
        test: {
          name: 'int',
          include: ['test/int/**/*.spec.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          globalSetup: ['test/helpers/stack-setup.ts'],
          sequence: { groupOrder: 1 },
        },
      },
      { test: { name: 'gpu', include: ['test/gpu/**/*.spec.ts'], testTimeout: 120_000, sequence: { groupOrder: 2 } } },
    ],
  },
});
