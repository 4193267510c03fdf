package quorumkv.jepsen;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import org.junit.Test;
import quorumkv.jepsen.LinearizabilityChecker.Result;
import quorumkv.jepsen.LinearizabilityChecker.Verdict;
import quorumkv.jepsen.Operation.Outcome;
import quorumkv.jepsen.Operation.Type;

/**
 * Histories of a simulated atomic register: every operation takes effect at one instant, and the
 * client sees an interval of random length around it. Such a history is linearizable by
 * construction, so the checker must say so, and quickly; changing one read so that it returns a
 * value written only after it completed must make it say the opposite.
 */
public class RandomRegisterHistoryTest {
  private static final int CLIENTS = 5;
  private static final int OPERATIONS = 200;
  private static final long QUICKLY_NANOS = 2_000_000_000L;
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  @Test
  public void simulatedAtomicRegisterIsJudgedLinearizableQuickly() {
    for (long seed = 1; seed <= 20; seed++) {
      List<Operation> history = simulate(new Random(seed), OPERATIONS, "k");

      long start = cpuNanos();
      Result result = new LinearizabilityChecker().check(history);
      long elapsed = cpuNanos() - start;

      assertEquals("seed " + seed + ": " + result, Verdict.LINEARIZABLE, result.verdict());
      assertTrue("seed " + seed + " took " + elapsed / 1_000_000 + " ms of CPU", elapsed < QUICKLY_NANOS);
    }
  }

  @Test
  public void simulatedRegisterWithOneReadOfAFutureValueIsNot() {
    for (long seed = 1; seed <= 20; seed++) {
      List<Operation> history = new ArrayList<>(simulate(new Random(seed), OPERATIONS, "k"));
      Operation changed = readTheFuture(history);

      long start = cpuNanos();
      Result result = new LinearizabilityChecker().check(history);
      long elapsed = cpuNanos() - start;

      assertEquals("seed " + seed + ", changed " + changed, Verdict.NOT_LINEARIZABLE, result.verdict());
      assertTrue("seed " + seed + " took " + elapsed / 1_000_000 + " ms of CPU", elapsed < QUICKLY_NANOS);
    }
  }

  @Test
  public void simulatedRegistersOnSeveralKeysAreJudgedKeyByKey() {
    List<Operation> history = new ArrayList<>(simulate(new Random(42), 3 * OPERATIONS, "a", "b", "c"));
    Operation changed = readTheFuture(history);

    Result result = new LinearizabilityChecker().check(history);

    assertEquals(3, result.keys().size());
    result.keys().forEach((key, verdict) -> assertEquals(verdict.toString(),
        key.equals(changed.key()) ? Verdict.NOT_LINEARIZABLE : Verdict.LINEARIZABLE, verdict.verdict()));
  }

  @Test
  public void agreesWithTryingEveryOrderOnSmallRandomHistories() {
    Random random = new Random(7);
    int refuted = 0;
    for (int round = 0; round < 3000; round++) {
      List<Operation> history = smallRandomHistory(random);

      Verdict verdict = new LinearizabilityChecker().check(history).verdict();

      boolean expected = someOrderWorks(new ArrayList<>(history), null);
      assertEquals(history.toString(), expected ? Verdict.LINEARIZABLE : Verdict.NOT_LINEARIZABLE, verdict);
      refuted += expected ? 0 : 1;
    }
    assertTrue("too few non-linearizable histories to mean much: " + refuted, refuted > 300);
  }

  /** Up to 7 operations on one key with overlapping intervals, two values, every outcome. */
  private static List<Operation> smallRandomHistory(Random random) {
    List<Operation> history = new ArrayList<>();
    int size = 1 + random.nextInt(7);
    for (int i = 0; i < size; i++) {
      Type type = random.nextBoolean() ? Type.READ : Type.WRITE;
      Outcome outcome = Outcome.values()[random.nextInt(10) < 6 ? 0 : 1 + random.nextInt(2)];
      String[] values = {null, "a", "b"};
      String value = type == Type.READ && outcome != Outcome.OK ? null : values[random.nextInt(values.length)];
      long invokedAt = random.nextInt(20);
      long completedAt = invokedAt + random.nextInt(8);
      history.add(new Operation(i, i, "k", type, value, invokedAt, completedAt, outcome, null));
    }
    return history;
  }

  /**
   * Linearizability by definition: some order of the operations that matter, respecting real
   * time, explains every read. An in-doubt write may be left out; left-out writes go last.
   */
  private static boolean someOrderWorks(List<Operation> remaining, String register) {
    remaining.removeIf(op -> op.outcome() == Outcome.FAIL || op.outcome() == Outcome.INFO && op.type() == Type.READ);
    if (remaining.stream().allMatch(op -> op.outcome() == Outcome.INFO)) {
      return true;
    }
    for (Operation next : remaining) {
      boolean mayGoFirst = remaining.stream().noneMatch(
          other -> other.outcome() == Outcome.OK && other.completedAt() < next.invokedAt());
      boolean legal = next.type() == Type.WRITE || Objects.equals(next.value(), register);
      if (mayGoFirst && legal) {
        List<Operation> rest = new ArrayList<>(remaining);
        rest.remove(next);
        if (someOrderWorks(rest, next.type() == Type.WRITE ? next.value() : register)) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * The CPU time of this thread: "quickly" should not depend on how many other builds share the
   * machine. Wall-clock time where the JVM cannot tell.
   */
  private static long cpuNanos() {
    return THREADS.isCurrentThreadCpuTimeSupported() ? THREADS.getCurrentThreadCpuTime() : System.nanoTime();
  }

  /** What the simulation decided about one operation before the register's values are known. */
  private record Planned(int client, String key, Type type, String value, long invokedAt, long effectAt,
      long completedAt, Outcome outcome) {
    static final long NO_EFFECT = Long.MIN_VALUE;
  }

  /**
   * {@code operations} operations by {@link #CLIENTS} clients, each client one operation at a
   * time. Reads and writes are about even, with a few deletes; most complete OK, some fail (no
   * effect) and some end in doubt, taking effect either never or at any time after their
   * invocation, possibly long after the client gave up.
   */
  static List<Operation> simulate(Random random, int operations, String... keys) {
    long[] clientFree = new long[CLIENTS];
    List<Planned> plan = new ArrayList<>();
    for (int i = 0; i < operations; i++) {
      int client = i % CLIENTS;
      long invokedAt = clientFree[client] + random.nextInt(50);
      long effectAt = invokedAt + 1 + random.nextInt(100);
      long completedAt = effectAt + 1 + random.nextInt(100);
      clientFree[client] = completedAt;
      String key = keys[random.nextInt(keys.length)];
      double kind = random.nextDouble();
      Type type = kind < 0.5 ? Type.READ : Type.WRITE;
      String value = kind < 0.5 || kind > 0.95 ? null : "v" + i;
      double fate = random.nextDouble();
      Outcome outcome = fate < 0.85 ? Outcome.OK : fate < 0.92 ? Outcome.INFO : Outcome.FAIL;
      if (outcome == Outcome.FAIL) {
        effectAt = Planned.NO_EFFECT;
      } else if (outcome == Outcome.INFO && type == Type.WRITE) {
        effectAt = random.nextBoolean() ? Planned.NO_EFFECT : invokedAt + 1 + random.nextInt(1000);
      }
      plan.add(new Planned(client, key, type, value, invokedAt, effectAt, completedAt, outcome));
    }
    return run(plan);
  }

  /** Applies the planned operations to one atomic register per key in the order they take effect. */
  private static List<Operation> run(List<Planned> plan) {
    List<Integer> byEffect = new ArrayList<>();
    for (int i = 0; i < plan.size(); i++) {
      if (plan.get(i).effectAt() != Planned.NO_EFFECT) byEffect.add(i);
    }
    byEffect.sort(Comparator.comparingLong(i -> plan.get(i).effectAt()));
    Map<String, String> registers = new HashMap<>();
    String[] valueSeen = new String[plan.size()];
    for (int i : byEffect) {
      Planned p = plan.get(i);
      if (p.type() == Type.WRITE) {
        registers.put(p.key(), p.value());
      } else {
        valueSeen[i] = registers.get(p.key());
      }
    }
    List<Operation> history = new ArrayList<>();
    for (int i = 0; i < plan.size(); i++) {
      Planned p = plan.get(i);
      String value = p.type() == Type.WRITE ? p.value() : p.outcome() == Outcome.OK ? valueSeen[i] : null;
      history.add(new Operation(i, p.client(), p.key(), p.type(), value, p.invokedAt(), p.completedAt(),
          p.outcome(), null));
    }
    return history;
  }

  /**
   * Changes a read from the second half of the history to return the value of a write that was
   * invoked only after the read completed, and returns the changed read.
   */
  private static Operation readTheFuture(List<Operation> history) {
    for (int r = history.size() / 2; r < history.size(); r++) {
      Operation read = history.get(r);
      if (read.type() != Type.READ || read.outcome() != Outcome.OK) continue;
      for (Operation write : history) {
        if (write.type() == Type.WRITE && write.value() != null && write.key().equals(read.key())
            && write.invokedAt() > read.completedAt()) {
          Operation changed = new Operation(read.id(), read.client(), read.key(), read.type(), write.value(),
              read.invokedAt(), read.completedAt(), read.outcome(), null);
          history.set(r, changed);
          return changed;
        }
      }
    }
    throw new AssertionError("no read is followed by a write on its key");
  }
}
