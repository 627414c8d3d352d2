import { defineConfig } from 'vitest/config';

// Test tiers by folder: unit (pure, no I/O), int (the real local stack), gpu (NVML/CUDA present).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.spec.ts'], testTimeout: 30_000 } },
      {
        test: {
          name: 'int',
          include: ['test/int/**/*.spec.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          globalSetup: ['test/helpers/stack-setup.ts'],
        },
      },
      { test: { name: 'gpu', include: ['test/gpu/**/*.spec.ts'], testTimeout: 120_000 } },
    ],
  },
});
