import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          sequence: { groupOrder: 0 },
          // It imports its JSON schema without an import attribute: let vite load it.
          server: { deps: { inline: [/@actions\/workflow-parser/] } },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // Each file starts its own servers; two cores: two files at a time.
          maxWorkers: 2,
          fileParallelism: true,
        },
      },
    ],
  },
});
