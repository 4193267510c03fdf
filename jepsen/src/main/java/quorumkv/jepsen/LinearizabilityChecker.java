package quorumkv.jepsen;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Decides, key by key, whether a history of reads and writes is linearizable: whether every
 * operation can be given one instant between its invocation and its completion such that, taken in
 * that order, each read returns the value of the latest write before it (initially: absent).
 *
 * <p>Keys are independent registers, and a history is linearizable exactly when each key's
 * sub-history is (linearizability is compositional), so the history is split by key first; that is
 * what keeps the search small. Per key it runs the search of Wing &amp; Gong (1993) as improved by
 * Lowe (2017), the algorithm behind Knossos and Porcupine:
 * <ul>
 *   <li>each operation becomes a call event and a return event, all in one list sorted by time;
 *   <li>the search walks the list from the front; at a call it tries to linearize that operation
 *       now (apply it to the register), and if that is legal it "lifts" the operation's call and
 *       return out of the list and starts again from the front;
 *   <li>reaching a return means that operation completed without having been linearized, so the
 *       last choice is undone (the operation is put back, "unlifted") and the next call is tried;
 *   <li>a cache of configurations already explored (the set of linearized operations and the
 *       register's value) cuts off every path that reaches a configuration a second time.
 * </ul>
 *
 * <p>A compare-and-set can be linearized only where the register holds the value it expects, and
 * then sets its own value; an OK one also tells what the register held, like a read.
 *
 * <p>Outcomes: OK operations complete at their completion time. An INFO write may have taken
 * effect at any moment after its invocation, or never: it completes at +infinity, and as nothing
 * comes after infinity, leaving it out is the same as linearizing it last (so for an INFO
 * compare-and-set). INFO reads say nothing and FAIL operations had no effect (a compare-and-set
 * whose condition failed included), so they are dropped. An INFO write whose value no read
 * returned and no OK compare-and-set expected is dropped too: with it or without it, the same
 * reads are explained.
 *
 * <p>The search is exponential in the worst case, so it stops after a bounded number of steps per
 * key and answers UNKNOWN rather than run for ever. The bound also bounds memory, as the cache
 * gains at most one configuration per step (about 100 bytes each for a few hundred operations).
 *
 * <p>Usage: {@code java -cp jepsen/target/quorumkv-jepsen.jar quorumkv.jepsen.LinearizabilityChecker
 * [--max-steps N] history.jsonl}. Exit status 0 when every key is linearizable, 1 when one is not,
 * 2 when unknown, 64 for a wrong command line.
 */
public final class LinearizabilityChecker {
  public static final long DEFAULT_MAX_STEPS_PER_KEY = 10_000_000L;

  private static final int OPERATIONS_SHOWN = 8;
  private static final int VALUES_SHOWN = 16;

  public enum Verdict { LINEARIZABLE, NOT_LINEARIZABLE, UNKNOWN }

  /**
   * The verdict on one key.
   *
   * @param operations how many of the key's operations the search had to place
   * @param steps how many times the search tried to linearize an operation
   * @param explanation for NOT_LINEARIZABLE, where the search could go no further; else a note
   */
  public record KeyResult(String key, Verdict verdict, int operations, long steps, String explanation) {
    @Override
    public String toString() {
      return key + ": " + verdict + " (" + operations + " operations, " + steps + " steps)"
          + (verdict == Verdict.LINEARIZABLE ? "" : "\n  " + explanation);
    }
  }

  /** The verdict on every key, in key order. */
  public record Result(Map<String, KeyResult> keys) {
    public Result {
      keys = Collections.unmodifiableMap(new TreeMap<>(keys));
    }

    /** NOT_LINEARIZABLE if any key is, else UNKNOWN if any key is, else LINEARIZABLE. */
    public Verdict verdict() {
      Set<Verdict> verdicts = keys.values().stream().map(KeyResult::verdict).collect(Collectors.toSet());
      if (verdicts.contains(Verdict.NOT_LINEARIZABLE)) return Verdict.NOT_LINEARIZABLE;
      if (verdicts.contains(Verdict.UNKNOWN)) return Verdict.UNKNOWN;
      return Verdict.LINEARIZABLE;
    }

    public KeyResult key(String key) {
      return keys.get(key);
    }

    /** The keys whose verdict is not LINEARIZABLE. */
    public List<KeyResult> problems() {
      return keys.values().stream().filter(r -> r.verdict() != Verdict.LINEARIZABLE).toList();
    }

    @Override
    public String toString() {
      return verdict() + " (" + keys.size() + " keys)" + problems().stream().map(r -> "\n" + r).collect(Collectors.joining());
    }
  }

  private final long maxStepsPerKey;

  public LinearizabilityChecker() {
    this(DEFAULT_MAX_STEPS_PER_KEY);
  }

  public LinearizabilityChecker(long maxStepsPerKey) {
    if (maxStepsPerKey < 1) throw new IllegalArgumentException("maxStepsPerKey must be >= 1");
    this.maxStepsPerKey = maxStepsPerKey;
  }

  /** Checks every key of {@code history} on its own. */
  public Result check(List<Operation> history) {
    Map<String, List<Operation>> byKey = history.stream()
        .collect(Collectors.groupingBy(Operation::key, TreeMap::new, Collectors.toList()));
    Map<String, KeyResult> results = new HashMap<>();
    byKey.forEach((key, ops) -> results.put(key, checkKey(key, ops)));
    return new Result(results);
  }

  /** Checks the operations on one key, which must all be on {@code key}. */
  public KeyResult checkKey(String key, List<Operation> operations) {
    for (Operation op : operations) {
      if (!op.key().equals(key)) {
        throw new IllegalArgumentException("operation on " + op.key() + " among the operations on " + key);
      }
    }
    List<Operation> placed = operationsToPlace(operations);
    RegisterSearch search = new RegisterSearch(placed);
    Verdict verdict = search.run(maxStepsPerKey);
    String explanation = switch (verdict) {
      case LINEARIZABLE -> "";
      case UNKNOWN -> "gave up after " + search.steps + " steps (the bound per key); the history is neither"
          + " proven linearizable nor refuted";
      case NOT_LINEARIZABLE -> explain(search, placed, operations);
    };
    return new KeyResult(key, verdict, placed.size(), search.steps, explanation);
  }

  /**
   * OK operations, and INFO writes and compare-and-sets whose value some OK read returned or some
   * OK compare-and-set expected; see the class comment.
   */
  static List<Operation> operationsToPlace(List<Operation> operations) {
    Set<String> valuesRead = new HashSet<>();
    for (Operation op : operations) {
      if (op.outcome() == Operation.Outcome.OK) {
        if (op.type() == Operation.Type.READ) {
          valuesRead.add(op.value());
        } else if (op.type() == Operation.Type.CAS) {
          valuesRead.add(op.expected());
        }
      }
    }
    return operations.stream()
        .filter(op -> op.outcome() == Operation.Outcome.OK
            || op.outcome() == Operation.Outcome.INFO && op.type() != Operation.Type.READ
                && valuesRead.contains(op.value()))
        .toList();
  }

  private static String explain(RegisterSearch search, List<Operation> placed, List<Operation> all) {
    Operation stuck = search.stuckOperation();
    List<String> lines = new ArrayList<>();
    lines.add("no linearization gets past the completion of " + stuck);
    lines.add(valuesHeld(stuck, search.stuckValues()));
    if (stuck.type() == Operation.Type.READ) {
      lines.add(writersOf(stuck, all));
    }
    List<Operation> concurrent = placed.stream()
        .filter(op -> op != stuck && overlaps(op, stuck))
        .toList();
    lines.add(shown("operations concurrent with it", concurrent));
    return String.join("\n  ", lines);
  }

  /**
   * The values the register held where the search got stuck. A read's own value can be among them
   * when reading it there was possible but every way on from there had been tried already.
   */
  private static String valuesHeld(Operation stuck, List<String> held) {
    List<String> others = new ArrayList<>(held);
    boolean ownValueToo = stuck.type() == Operation.Type.READ && others.remove(stuck.value());
    String listed = others.stream().map(Operation::quoted).collect(Collectors.joining(", "));
    if (!ownValueToo) {
      return "by then the register could hold only: " + listed;
    }
    String own = Operation.quoted(stuck.value());
    return others.isEmpty()
        ? "it could read " + own + ", but then no later operation can be placed"
        : "by then the register could hold only: " + listed + ", or " + own
            + " but then no later operation can be placed";
  }

  private static String writersOf(Operation read, List<Operation> all) {
    List<Operation> writers = all.stream()
        .filter(op -> op.type() != Operation.Type.READ && Objects.equals(op.value(), read.value()))
        .toList();
    if (read.value() == null) {
      return shown("deletes (absent is also the value before the first write)", writers);
    }
    return writers.isEmpty()
        ? "no write to " + read.key() + " wrote " + Operation.quoted(read.value())
        : shown("writes of " + Operation.quoted(read.value()), writers);
  }

  private static boolean overlaps(Operation a, Operation b) {
    return a.invokedAt() <= effectiveEnd(b) && b.invokedAt() <= effectiveEnd(a);
  }

  private static long effectiveEnd(Operation op) {
    return op.outcome() == Operation.Outcome.OK ? op.completedAt() : Operation.NEVER;
  }

  private static String shown(String label, List<Operation> ops) {
    if (ops.isEmpty()) return label + ": none";
    String listed = ops.stream().limit(OPERATIONS_SHOWN).map(op -> "\n    " + op).collect(Collectors.joining());
    String more = ops.size() > OPERATIONS_SHOWN ? "\n    ... and " + (ops.size() - OPERATIONS_SHOWN) + " more" : "";
    return label + ":" + listed + more;
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new CommandLineOptions()).execute(args));
  }

  /** A wrong command line exits 64, not 2: 2 says UNKNOWN. */
  @Command(name = "LinearizabilityChecker", sortOptions = false, exitCodeOnInvalidInput = 64,
      description = "Checks a saved history (history.jsonl of a nemesis run) key by key for linearizability.",
      footer = "exit status: 0 every key linearizable, 1 one is not, 2 unknown (search bound reached), 64 usage")
  static final class CommandLineOptions implements Callable<Integer> {
    @Parameters(paramLabel = "history.jsonl", description = "the history, one operation per line")
    Path history;

    @Option(names = "--max-steps", paramLabel = "N", defaultValue = "" + DEFAULT_MAX_STEPS_PER_KEY,
        description = "search steps per key before the answer is UNKNOWN (default ${DEFAULT-VALUE})")
    long maxSteps;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "show this help and exit")
    boolean help;

    @Override
    public Integer call() throws IOException {
      List<Operation> operations = History.readJsonLines(history);
      System.out.println(HistoryStats.of(operations));
      Result result = new LinearizabilityChecker(maxSteps).check(operations);
      System.out.println(result);
      return switch (result.verdict()) {
        case LINEARIZABLE -> 0;
        case NOT_LINEARIZABLE -> 1;
        case UNKNOWN -> 2;
      };
    }
  }

  /**
   * The search over one register's operations. Events live in arrays: event {@code e} is the call
   * ({@code isCall[e]}) or return of operation {@code operationOf[e]}, events are numbered in time
   * order, and {@code next}/{@code prev} link the events not yet lifted, from {@code head}.
   * Register values are numbered, 0 being absent.
   */
  private static final class RegisterSearch {
    private static final int END = -1;

    private final List<Operation> operations;
    private final int[] written;      // per operation: the value it writes or must read
    private final boolean[] isRead;
    private final int[] expected;     // per operation: the value a compare-and-set needs, else -1
    private final boolean[] mustPlace; // OK operations; INFO writes may be left out
    private final List<String> values = new ArrayList<>();

    private final int[] operationOf;
    private final boolean[] isCall;
    private final int[] returnOf;      // per call event: its return event
    private final int[] next;
    private final int[] prev;
    private final int head;

    long steps;
    private int deepestStuck = END;
    private final Set<Integer> valuesAtDeepestStuck = new LinkedHashSet<>();

    RegisterSearch(List<Operation> operations) {
      this.operations = operations;
      int n = operations.size();
      written = new int[n];
      isRead = new boolean[n];
      expected = new int[n];
      mustPlace = new boolean[n];
      Map<String, Integer> valueIds = new HashMap<>();
      values.add(null);
      for (int i = 0; i < n; i++) {
        Operation op = operations.get(i);
        isRead[i] = op.type() == Operation.Type.READ;
        mustPlace[i] = op.outcome() == Operation.Outcome.OK;
        written[i] = valueId(valueIds, op.value());
        expected[i] = op.type() == Operation.Type.CAS ? valueId(valueIds, op.expected()) : -1;
      }

      List<long[]> events = new ArrayList<>(2 * n); // {time, 0 = call / 1 = return, operation}
      for (int i = 0; i < n; i++) {
        Operation op = operations.get(i);
        events.add(new long[] {op.invokedAt(), 0, i});
        events.add(new long[] {effectiveEnd(op), 1, i});
      }
      // At equal times calls come first: the two operations are then taken as concurrent, the
      // reading that cannot produce a false alarm.
      events.sort(Comparator.<long[]>comparingLong(e -> e[0]).thenComparingLong(e -> e[1]).thenComparingLong(e -> e[2]));

      int m = events.size();
      operationOf = new int[m];
      isCall = new boolean[m];
      returnOf = new int[m];
      next = new int[m + 1];
      prev = new int[m + 1];
      head = m;
      int[] callOf = new int[n];
      for (int e = 0; e < m; e++) {
        long[] event = events.get(e);
        int op = (int) event[2];
        operationOf[e] = op;
        isCall[e] = event[1] == 0;
        if (isCall[e]) {
          callOf[op] = e;
        } else {
          returnOf[callOf[op]] = e;
        }
      }
      for (int e = 0; e < m; e++) {
        next[e] = e + 1 < m ? e + 1 : END;
        prev[e] = e == 0 ? head : e - 1;
      }
      next[head] = m > 0 ? 0 : END;
    }

    private int valueId(Map<String, Integer> valueIds, String value) {
      return value == null ? 0 : valueIds.computeIfAbsent(value, v -> {
        values.add(v);
        return values.size() - 1;
      });
    }

    Verdict run(long maxSteps) {
      int n = operations.size();
      long[] linearized = new long[(n + 63) / 64];
      Set<Configuration> explored = new HashSet<>();
      int[] stackEvent = new int[n];
      int[] stackValue = new int[n];
      int depth = 0;
      int value = 0;
      int unplaced = 0;
      for (boolean must : mustPlace) {
        if (must) unplaced++;
      }

      int event = next[head];
      while (unplaced > 0) {
        // While an OK operation is unplaced its return is in the list, before any return of an
        // INFO write (those are at +infinity), so the walk always meets a return before the end.
        if (isCall[event]) {
          if (steps == maxSteps) {
            return Verdict.UNKNOWN;
          }
          steps++;
          int op = operationOf[event];
          int after = isRead[op] ? value : written[op];
          boolean legal = isRead[op] ? written[op] == value : expected[op] < 0 || expected[op] == value;
          if (legal) {
            set(linearized, op);
            if (explored.add(new Configuration(linearized.clone(), after))) {
              stackEvent[depth] = event;
              stackValue[depth] = value;
              depth++;
              value = after;
              lift(event);
              if (mustPlace[op]) unplaced--;
              event = next[head];
              continue;
            }
            clear(linearized, op);
          }
          event = next[event];
        } else {
          noteStuck(event, value);
          if (depth == 0) {
            return Verdict.NOT_LINEARIZABLE;
          }
          depth--;
          event = stackEvent[depth];
          value = stackValue[depth];
          int op = operationOf[event];
          clear(linearized, op);
          unlift(event);
          if (mustPlace[op]) unplaced++;
          event = next[event];
        }
      }
      return Verdict.LINEARIZABLE;
    }

    /** The operation whose completion the search could get past least, in time order. */
    Operation stuckOperation() {
      return operations.get(operationOf[deepestStuck]);
    }

    /** The register values the search had when it got stuck at {@link #stuckOperation()}. */
    List<String> stuckValues() {
      return valuesAtDeepestStuck.stream().map(values::get).toList();
    }

    private void noteStuck(int returnEvent, int value) {
      if (returnEvent > deepestStuck) {
        deepestStuck = returnEvent;
        valuesAtDeepestStuck.clear();
      }
      if (returnEvent == deepestStuck && valuesAtDeepestStuck.size() < VALUES_SHOWN) {
        valuesAtDeepestStuck.add(value);
      }
    }

    private void lift(int call) {
      unlink(call);
      unlink(returnOf[call]);
    }

    /** Undoes {@link #lift}: the removed events still point at their old neighbours. */
    private void unlift(int call) {
      relink(returnOf[call]);
      relink(call);
    }

    private void unlink(int e) {
      next[prev[e]] = next[e];
      if (next[e] != END) prev[next[e]] = prev[e];
    }

    private void relink(int e) {
      if (next[e] != END) prev[next[e]] = e;
      next[prev[e]] = e;
    }

    private static void set(long[] bits, int i) {
      bits[i >>> 6] |= 1L << i;
    }

    private static void clear(long[] bits, int i) {
      bits[i >>> 6] &= ~(1L << i);
    }
  }

  /** A point of the search: which operations are linearized, and the register's value then. */
  private static final class Configuration {
    private final long[] linearized;
    private final int value;
    private final int hash;

    Configuration(long[] linearized, int value) {
      this.linearized = linearized;
      this.value = value;
      this.hash = 31 * Arrays.hashCode(linearized) + value;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Configuration c && c.hash == hash && c.value == value
          && Arrays.equals(c.linearized, linearized);
    }

    @Override
    public int hashCode() {
      return hash;
    }
  }
}
