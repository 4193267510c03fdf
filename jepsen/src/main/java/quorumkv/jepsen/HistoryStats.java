package quorumkv.jepsen;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A run's summary: how many reads and writes ended OK, FAIL or INFO, and how many faults of each
 * kind the nemesis injected (counted by whoever injects them; see {@link #withFaults}).
 */
public final class HistoryStats {
  private final long[][] counts = new long[Operation.Type.values().length][Operation.Outcome.values().length];
  private final Map<String, Long> faults;

  private HistoryStats(Map<String, Long> faults) {
    this.faults = Collections.unmodifiableMap(new LinkedHashMap<>(faults));
  }

  public static HistoryStats of(List<Operation> history) {
    HistoryStats stats = new HistoryStats(Map.of());
    for (Operation op : history) {
      stats.counts[op.type().ordinal()][op.outcome().ordinal()]++;
    }
    return stats;
  }

  /** These counts with {@code faults} (e.g. "kill" → 3, "partition" → 2) in place of any before. */
  public HistoryStats withFaults(Map<String, Long> faults) {
    HistoryStats stats = new HistoryStats(faults);
    for (int t = 0; t < counts.length; t++) {
      stats.counts[t] = counts[t].clone();
    }
    return stats;
  }

  public long count(Operation.Type type, Operation.Outcome outcome) {
    return counts[type.ordinal()][outcome.ordinal()];
  }

  public long count(Operation.Type type) {
    return Arrays.stream(counts[type.ordinal()]).sum();
  }

  public long total() {
    return Arrays.stream(counts).flatMapToLong(Arrays::stream).sum();
  }

  /** Faults injected, by kind, in the order given. */
  public Map<String, Long> faults() {
    return faults;
  }

  /**
   * E.g. {@code 200 operations: read 100 (OK 90, FAIL 2, INFO 8), write 100 (OK 80, FAIL 5, INFO 15); faults: kill 3};
   * compare-and-sets are listed when there are any.
   */
  @Override
  public String toString() {
    String operations = Arrays.stream(Operation.Type.values())
        .filter(type -> type != Operation.Type.CAS || count(type) > 0) // histories without compare-and-set read as before
        .map(type -> type.name().toLowerCase() + " " + count(type) + " (" + Arrays.stream(Operation.Outcome.values())
            .map(outcome -> outcome + " " + count(type, outcome)).collect(Collectors.joining(", ")) + ")")
        .collect(Collectors.joining(", "));
    String injected = faults.isEmpty() ? "none" : faults.entrySet().stream()
        .map(e -> e.getKey() + " " + e.getValue()).collect(Collectors.joining(", "));
    return total() + " operations: " + operations + "; faults: " + injected;
  }
}
