// rolloutState: the decision `kubectl rollout status` makes, used by the batched fleet wait.
import { rolloutState } from '../../../src/k8s/deployments.js';

const d = (gen: number, st: Record<string, unknown>, replicas = 1) => ({
  metadata: { name: 'p', generation: gen },
  spec: { replicas },
  status: st,
});

test('waits until the controller has observed the restarted generation', () => {
  expect(rolloutState(d(5, { observedGeneration: 4, replicas: 1, updatedReplicas: 1, availableReplicas: 1 }), 5)).toBe(
    'waiting',
  );
  expect(rolloutState(d(4, { observedGeneration: 4, replicas: 1, updatedReplicas: 1, availableReplicas: 1 }), 5)).toBe(
    'waiting',
  ); // our write not seen yet
});

test('waits for updated, then for old replicas to go, then for availability; done when all agree', () => {
  expect(
    rolloutState(d(5, { observedGeneration: 5, replicas: 2, updatedReplicas: 1, availableReplicas: 1 }, 2), 5),
  ).toBe('waiting');
  expect(rolloutState(d(5, { observedGeneration: 5, replicas: 2, updatedReplicas: 1, availableReplicas: 1 }), 5)).toBe(
    'waiting',
  ); // an old pod still terminating
  expect(rolloutState(d(5, { observedGeneration: 5, replicas: 1, updatedReplicas: 1, availableReplicas: 0 }), 5)).toBe(
    'waiting',
  );
  expect(rolloutState(d(5, { observedGeneration: 5, replicas: 1, updatedReplicas: 1, availableReplicas: 1 }), 5)).toBe(
    'done',
  );
});

test('a ProgressDeadlineExceeded condition is a failure naming the deployment', () => {
  const st = rolloutState(
    d(5, {
      observedGeneration: 5,
      replicas: 2,
      updatedReplicas: 1,
      availableReplicas: 1,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
    }),
    5,
  );
  expect(st).toEqual({ failed: 'deployment "p" exceeded its progress deadline' });
});
